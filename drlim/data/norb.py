"""The NORB airplane experiment's data (Hadsell et al. 2006, Sec. 4.3), offline.

The paper embeds the 972 images of one toy airplane from NORB (18 azimuths x 9 elevations x
6 lightings, see :mod:`drlim.data.smallnorb`). Two sources give that structure here, as
:class:`~drlim.data.smallnorb.NorbData` in one canonical order (azimuth, then elevation, then
lighting, see :func:`~drlim.data.smallnorb.factor_grid`):

- :func:`render_airplane`: a uniform-coloured toy airplane (fuselage, swept wings, engines,
  canopy, tailplane and fin) ray-cast analytically with NumPy, on a uniform background, under
  six lightings made as NORB's were: on/off combinations of four lamps fixed in the room,
  with the shadows they cast. It is rendered once and cached as ``.npz`` under
  ``cache_dir``, ``$DRLIM_CACHE`` or ``~/.cache/drlim``.
- :func:`~drlim.data.smallnorb.load_small_norb`: the real small-NORB files, one instance of
  the airplane category.

:func:`norb_airplane` draws the paper's 660-image training and 312-image test split from
either, and :func:`downsample` shrinks the images for the paper's fully connected network.

Why not matplotlib's 3-D axes: they sort whole polygons instead of testing depth per pixel,
so a wing crossing the fuselage is drawn in front or behind depending on the view, and they
cannot cast shadows. Intersecting rays with ellipsoids and convex polyhedra is exact, about
150 lines, and renders the 972 images at 96x96 in about 10 s on two cores.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drlim._io import write_bytes
from drlim.config import cache_dir as drlim_cache_dir
from drlim.data.pixels import to_float_images
from drlim.data.smallnorb import (
    AIRPLANE,
    AZIMUTHS,
    ELEVATIONS,
    N_IMAGES,
    N_LIGHTINGS,
    NorbData,
    factor_grid,
    load_small_norb,
)
from drlim.validation import check_int

__all__ = [
    "N_TEST",
    "N_TRAIN",
    "NorbSplit",
    "downsample",
    "norb_airplane",
    "render_airplane",
]

N_TRAIN, N_TEST = 660, 312
RENDER_VERSION = "v2"
# small NORB's images are 96x96, and the stand-in is rendered at that size too.
NORB_IMAGE_SIZE = 96

# NORB's six lighting conditions are on/off combinations of four lamps that stay fixed in
# the room while the turntable turns (LeCun, Huang & Bottou 2004). Their places, power and
# the combinations used are not published; these lamps stand above the toy and around it,
# as studio lamps would (a lamp near the turntable's plane leaves the wings, which fill most
# of a view from 30-70 degrees above, nearly dark).
# Each lamp: (azimuth in degrees, measured from the camera's side of the turntable;
# elevation in degrees; intensity).
LAMPS = (
    (-40.0, 50.0, 0.5),
    (50.0, 35.0, 0.5),
    (140.0, 60.0, 0.5),
    (-130.0, 40.0, 0.5),
)
# Each lighting: the lamps switched on (here the six ways of choosing two of the four) and
# the ambient light of the room.
LIGHTINGS = (
    ((0, 1), 0.25),
    ((0, 2), 0.25),
    ((0, 3), 0.25),
    ((1, 2), 0.25),
    ((1, 3), 0.25),
    ((2, 3), 0.25),
)
ALBEDO = 0.8  # NORB's toys are uniform-coloured
BACKGROUND = 0.45
CAMERA_DISTANCE = 6.0
HALF_FIELD = 1.15  # half-width of the view at the turntable centre, in model units
SUPERSAMPLE = 2


@dataclass(frozen=True)
class NorbSplit:
    """The paper's split of the 972 images: 660 for training and 312 for testing.

    ``index_train`` / ``index_test`` are positions in the canonical 972-image order.
    """

    x_train: np.ndarray
    azimuth_train: np.ndarray
    elevation_train: np.ndarray
    lighting_train: np.ndarray
    x_test: np.ndarray
    azimuth_test: np.ndarray
    elevation_test: np.ndarray
    lighting_test: np.ndarray
    index_train: np.ndarray
    index_test: np.ndarray

    @property
    def factors_train(self) -> dict[str, np.ndarray]:
        """``{"azimuth", "elevation", "lighting"}`` arrays of the training images."""
        return {"azimuth": self.azimuth_train, "elevation": self.elevation_train,
                "lighting": self.lighting_train}

    @property
    def factors_test(self) -> dict[str, np.ndarray]:
        """``{"azimuth", "elevation", "lighting"}`` arrays of the test images."""
        return {"azimuth": self.azimuth_test, "elevation": self.elevation_test,
                "lighting": self.lighting_test}


@dataclass(frozen=True)
class _Solid:
    """A convex solid: an optional ellipsoid intersected with half-spaces ``normals @ x <= d``."""

    centre: np.ndarray | None
    radii: np.ndarray | None
    normals: np.ndarray
    offsets: np.ndarray
    albedo: float
    bound_centre: np.ndarray
    bound_radius: float



def render_airplane(
    image_size: int = 96, cache_dir: str | os.PathLike | None = None, use_cache: bool = True
) -> NorbData:
    """The rendered toy airplane at every NORB pose and lighting: 972 grey images, 96x96 like
    small NORB by default.

    Deterministic. The first call renders (about 10 s at 96x96 on two cores) and stores an
    ``.npz`` under ``cache_dir`` (default ``$DRLIM_CACHE``, else ``~/.cache/drlim``); later
    calls load it.
    Pixels are quantised to 8 bits, like NORB's, so cached and fresh renders are identical.

    >>> data = render_airplane()
    >>> data.images.shape, int(data.azimuth[-1]), int(data.elevation[-1]), int(data.lighting[-1])
    ((972, 96, 96, 1), 340, 70, 5)
    """
    image_size = check_int(image_size, "image_size", 8, 1024)
    path = _cache_path(cache_dir, image_size)
    if use_cache:
        cached = _read_cache(path, image_size)
        if cached is not None:
            return cached
    azimuth, elevation, lighting = factor_grid()
    pixels = _render_all(image_size)
    if use_cache:
        _write_cache(path, pixels, azimuth, elevation, lighting)
    return NorbData(to_float_images(pixels), azimuth, elevation, lighting)


def downsample(images: np.ndarray, size: int) -> np.ndarray:
    """Shrink images ``(n, h, w[, c])`` to ``size`` x ``size`` by area averaging.

    Each output pixel is the mean of the input area it covers (fractional overlaps weighted),
    so the mean brightness is kept and no aliasing appears. For the paper's fully connected
    network, whose input size is a choice.

    >>> downsample(np.ones((2, 96, 96, 1), np.float32), 32).shape
    (2, 32, 32, 1)
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, c), got {images.shape}")
    height, width = images.shape[1:3]
    size = check_int(size, "size", 1, min(height, width))
    rows, cols = _area_weights(height, size), _area_weights(width, size)
    dtype = images.dtype if images.dtype.kind == "f" else np.float32
    planes = np.moveaxis(images, 3, 1) if images.ndim == 4 else images
    out = (rows @ planes.astype(np.float64) @ cols.T).astype(dtype)
    return np.moveaxis(out, 1, 3) if images.ndim == 4 else out


def norb_airplane(
    source: str | os.PathLike = "rendered",
    seed: int = 0,
    image_size: int = 96,
    cache_dir: str | os.PathLike | None = None,
    instance: int | None = None,
) -> NorbSplit:
    """The paper's NORB split: 660 training and 312 test images of one airplane.

    ``source`` is ``"rendered"`` (:func:`render_airplane`) or a directory of real small-NORB
    files (:func:`load_small_norb`, category airplane, ``instance``). The images are drawn
    uniformly without replacement, deterministically for ``seed``, and kept in canonical order
    within each part; with ``image_size`` below 96 they are area-downsampled.

    >>> split = norb_airplane(seed=0, image_size=32)
    >>> split.x_train.shape, split.x_test.shape
    ((660, 32, 32, 1), (312, 32, 32, 1))
    """
    seed = check_int(seed, "seed", 0)
    image_size = check_int(image_size, "image_size", 1, NORB_IMAGE_SIZE)  # before the work
    if source == "rendered":
        data = render_airplane(NORB_IMAGE_SIZE, cache_dir)
    elif isinstance(source, str | os.PathLike):
        data = load_small_norb(source, AIRPLANE, instance)
    else:
        raise ValueError(f"source must be 'rendered' or a directory, got {source!r}")
    images = data.images
    if image_size != images.shape[1]:
        images = downsample(images, image_size)
    permutation = np.random.default_rng(seed).permutation(N_IMAGES)
    train, test = np.sort(permutation[:N_TRAIN]), np.sort(permutation[N_TRAIN:])
    return NorbSplit(
        x_train=images[train], azimuth_train=data.azimuth[train],
        elevation_train=data.elevation[train], lighting_train=data.lighting[train],
        x_test=images[test], azimuth_test=data.azimuth[test],
        elevation_test=data.elevation[test], lighting_test=data.lighting[test],
        index_train=train, index_test=test,
    )


# --- the airplane model -------------------------------------------------------------------


def _airplane() -> list[_Solid]:
    """The toy's parts in model coordinates: x towards the nose, y to port, z up; length 2."""
    fuselage_front = _ellipsoid((0.1, 0, 0), (0.85, 0.13, 0.13), ALBEDO, [((-1, 0, 0), -0.1)])
    fuselage_rear = _ellipsoid((0.1, 0, 0), (1.05, 0.13, 0.13), ALBEDO, [((1, 0, 0), 0.1)])
    canopy = _ellipsoid((0.55, 0, 0.07), (0.24, 0.08, 0.08), ALBEDO, [])
    parts = [fuselage_front, fuselage_rear, canopy]
    for side in (1, -1):
        parts.append(_panel(side, root=(0.38, -0.14), tip=(-0.16, -0.36), span=1.0,
                            z=-0.04, thickness=0.035, dihedral=0.08, albedo=ALBEDO))
        parts.append(_panel(side, root=(-0.62, -0.88), tip=(-0.82, -0.97), span=0.4,
                            z=0.03, thickness=0.025, dihedral=0.0, albedo=ALBEDO))
        parts.append(_ellipsoid((0.2, 0.42 * side, -0.14), (0.24, 0.065, 0.065), ALBEDO, []))
    parts.append(_fin(root=(-0.55, -0.93), tip=(-0.84, -1.0), height=0.48, thickness=0.03))
    return parts


def _ellipsoid(centre, radii, albedo, cuts) -> _Solid:
    """An ellipsoid, optionally cut by half-spaces given as ``(normal, offset)`` pairs."""
    normals = np.array([n for n, _ in cuts], float).reshape(-1, 3)
    offsets = np.array([d for _, d in cuts], float)
    centre, radii = np.array(centre, float), np.array(radii, float)
    return _Solid(centre, radii, normals, offsets, albedo, centre, float(radii.max()))


def _polyhedron(planes, albedo) -> _Solid:
    """The convex polyhedron ``n @ x <= d`` for all ``(n, d)`` in ``planes`` (n normalised)."""
    normals = np.array([n for n, _ in planes], float)
    offsets = np.array([d for _, d in planes], float)
    scale = np.linalg.norm(normals, axis=1)
    normals, offsets = normals / scale[:, None], offsets / scale
    corners = _vertices(normals, offsets)
    centre = (corners.min(axis=0) + corners.max(axis=0)) / 2
    radius = float(np.linalg.norm(corners - centre, axis=1).max())
    return _Solid(None, None, normals, offsets, albedo, centre, radius)


def _vertices(normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Corners of the bounded polyhedron ``normals @ x <= offsets``: every feasible point
    where three of its planes meet."""
    corners = []
    for triple in itertools.combinations(range(len(offsets)), 3):
        matrix = normals[list(triple)]
        if abs(np.linalg.det(matrix)) < 1e-9:
            continue
        point = np.linalg.solve(matrix, offsets[list(triple)])
        if np.all(normals @ point <= offsets + 1e-9):
            corners.append(point)
    return np.array(corners)


def _panel(side, root, tip, span, z, thickness, dihedral, albedo) -> _Solid:
    """A flat trapezoidal wing on one side (``side`` +1 port, -1 starboard).

    ``root`` and ``tip`` are (leading edge x, trailing edge x); the panel rises by
    ``dihedral`` per unit of span.
    """
    lead = (tip[0] - root[0]) / span
    trail = (tip[1] - root[1]) / span
    half = thickness / 2
    return _polyhedron([
        ((0, -side, 0), 0.0),
        ((0, side, 0), span),
        ((1, -lead * side, 0), root[0]),
        ((-1, trail * side, 0), -root[1]),
        ((0, -dihedral * side, 1), z + half),
        ((0, dihedral * side, -1), -(z - half)),
    ], albedo)


def _fin(root, tip, height, thickness) -> _Solid:
    """The vertical fin: a trapezoid in the x-z plane rising from inside the fuselage."""
    lead = (tip[0] - root[0]) / height
    trail = (tip[1] - root[1]) / height
    return _polyhedron([
        ((0, 0, -1), 0.0),
        ((0, 0, 1), height),
        ((1, 0, -lead), root[0]),
        ((-1, 0, trail), -root[1]),
        ((0, 1, 0), thickness / 2),
        ((0, -1, 0), thickness / 2),
    ], ALBEDO)


# --- ray casting --------------------------------------------------------------------------


def _intervals(solid: _Solid, origins: np.ndarray, directions: np.ndarray):
    """Entry and exit distances of rays through ``solid``, and the index of the entry surface
    (0 for the ellipsoid, k + 1 for plane k). Misses have entry > exit."""
    shape = np.broadcast_shapes(origins.shape, directions.shape)[:-1]
    surface = np.zeros(shape, np.int64)
    if solid.centre is not None:
        o = (origins - solid.centre) / solid.radii
        u = directions / solid.radii
        a, b, c = _dot(u, u), _dot(o, u), _dot(o, o) - 1.0
        disc = b * b - a * c
        root = np.sqrt(np.maximum(disc, 0.0))
        t_in = np.where(disc > 0, (-b - root) / a, np.inf)
        t_out = np.where(disc > 0, (-b + root) / a, -np.inf)
    else:
        t_in, t_out = np.full(shape, -np.inf), np.full(shape, np.inf)
    for plane, (normal, offset) in enumerate(zip(solid.normals, solid.offsets, strict=True), 1):
        along = directions @ normal
        gap = offset - origins @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            t = gap / along
        never = (along == 0) & (gap < 0)
        lower = np.where(never, np.inf, np.where(along < 0, t, -np.inf))
        upper = np.where(never, -np.inf, np.where(along > 0, t, np.inf))
        later = lower > t_in
        t_in = np.where(later, lower, t_in)
        surface = np.where(later, plane, surface)
        t_out = np.minimum(t_out, upper)
    return t_in, t_out, surface


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Dot products along the last axis, broadcasting the others."""
    return np.einsum("...i,...i->...", x, y)


def _near(solid: _Solid, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Indices of the (unit-direction) rays that pass through ``solid``'s bounding sphere."""
    offset = solid.bound_centre - origins
    along = _dot(offset, directions)
    miss = _dot(offset, offset) - along * along
    near = (miss < solid.bound_radius**2) & (along > -solid.bound_radius)
    return np.flatnonzero(np.broadcast_to(near, np.broadcast_shapes(
        origins.shape, directions.shape)[:-1]))


def _surface_normals(solid: _Solid, points: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """Unit outward normals at ``points`` on ``solid``'s entry ``surface``."""
    if solid.centre is not None:
        normals = (points - solid.centre) / solid.radii**2
        normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    else:
        normals = np.zeros_like(points)
    on_plane = surface > 0
    normals[on_plane] = solid.normals[surface[on_plane] - 1]
    return normals


def _cast(solids, origin: np.ndarray, directions: np.ndarray):
    """Nearest hit of rays from one ``origin``: distance (inf on a miss), normal and albedo."""
    n_rays = directions.shape[0]
    best = np.full(n_rays, np.inf)
    normal = np.zeros((n_rays, 3))
    albedo = np.zeros(n_rays)
    for solid in solids:
        rays = _near(solid, origin, directions)
        t_in, t_out, surface = _intervals(solid, origin, directions[rays])
        closer = (t_in <= t_out) & (t_in > 0) & (t_in < best[rays])
        rays, t_in, surface = rays[closer], t_in[closer], surface[closer]
        best[rays] = t_in
        points = origin + t_in[:, None] * directions[rays]
        normal[rays] = _surface_normals(solid, points, surface)
        albedo[rays] = solid.albedo
    return best, normal, albedo


def _shadowed(solids, points: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Whether the way from each surface point towards the (directional) light is blocked."""
    blocked = np.zeros(points.shape[0], bool)
    for solid in solids:
        rays = _near(solid, points, light)
        t_in, t_out, _ = _intervals(solid, points[rays], light)
        blocked[rays] |= (t_in <= t_out) & (t_out > 1e-6)
    return blocked


def _unit(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector at the given azimuth (about z, from +x) and elevation (above the xy plane)."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])


def _render_pose(solids, azimuth: float, elevation: float, size: int) -> np.ndarray:
    """The six lightings of one pose, ``(6, size, size)`` float in [0, 1].

    The turntable turns the toy by ``azimuth``; equivalently camera and lights turn by
    ``-azimuth`` around the toy, which is how the rays are set up (in model coordinates).
    """
    fine = size * SUPERSAMPLE
    camera = CAMERA_DISTANCE * _unit(-azimuth, elevation)
    forward = -camera / CAMERA_DISTANCE
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    coords = (np.arange(fine) + 0.5) / fine * 2.0 - 1.0
    across, down = np.meshgrid(coords, coords)
    scale = HALF_FIELD / CAMERA_DISTANCE
    directions = (forward + scale * (across.reshape(-1, 1) * right - down.reshape(-1, 1) * up))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    distance, normal, albedo = _cast(solids, camera, directions)
    hit = np.isfinite(distance)
    points = camera + distance[hit, None] * directions[hit]
    lamps = [_lamp_light(solids, points, normal[hit], lamp, azimuth) for lamp in LAMPS]
    images = np.full((N_LIGHTINGS, fine * fine), BACKGROUND)
    for index, (switched_on, ambient) in enumerate(LIGHTINGS):
        shade = albedo[hit] * (ambient + sum(lamps[lamp] for lamp in switched_on))
        images[index, hit] = np.clip(shade, 0.0, 1.0)
    blocks = images.reshape(N_LIGHTINGS, size, SUPERSAMPLE, size, SUPERSAMPLE)
    return blocks.mean(axis=(2, 4))


def _lamp_light(solids, points: np.ndarray, normals: np.ndarray, lamp, azimuth: float):
    """Light that one lamp brings to each visible surface point: Lambert's cosine law, zero
    where the toy casts a shadow. The lamp turns by ``-azimuth`` with the camera."""
    lamp_azimuth, lamp_elevation, intensity = lamp
    light = _unit(lamp_azimuth - azimuth, lamp_elevation)
    lambert = np.clip(normals @ light, 0.0, None)
    lit = lambert > 0
    shadow = np.zeros(lit.shape, bool)
    shadow[lit] = _shadowed(solids, points[lit], light)
    return intensity * lambert * ~shadow


def _render_all(image_size: int) -> np.ndarray:
    """All 972 images as uint8 ``(972, s, s)`` in canonical order."""
    solids = _airplane()
    out = np.empty((N_IMAGES, image_size, image_size), np.uint8)
    poses = [(a, e) for a in AZIMUTHS for e in ELEVATIONS]
    for index, (azimuth, elevation) in enumerate(poses):
        shaded = _render_pose(solids, float(azimuth), float(elevation), image_size)
        out[index * N_LIGHTINGS:(index + 1) * N_LIGHTINGS] = np.rint(shaded * 255)
    return out


# --- caching, file parsing and ordering ---------------------------------------------------


def _cache_path(cache_dir: str | os.PathLike | None, image_size: int) -> Path:
    """Where the rendered set of this size lives: argument, then ``$DRLIM_CACHE``, then home.

    The name carries a digest of the model and scene, so editing either never serves a stale
    cache; ``RENDER_VERSION`` covers changes to the rendering code itself.
    """
    folder = cache_dir or drlim_cache_dir()
    name = f"norb_airplane_{RENDER_VERSION}_{_scene_digest()}_{image_size}.npz"
    return Path(folder).expanduser() / name


def _scene_digest() -> str:
    """Short hash of everything that defines the picture: parts, lights, camera, background."""
    digest = hashlib.sha256()
    for solid in _airplane():
        for value in (solid.centre, solid.radii, solid.normals, solid.offsets, solid.albedo):
            digest.update(np.asarray(value if value is not None else np.nan, "<f8").tobytes())
    scene = (LAMPS, LIGHTINGS, BACKGROUND, CAMERA_DISTANCE, HALF_FIELD, SUPERSAMPLE)
    digest.update(repr(scene).encode())
    return digest.hexdigest()[:10]


def _read_cache(path: Path, image_size: int) -> NorbData | None:
    """The cached render at ``path`` if it is complete and well-formed, else ``None``.

    A truncated or corrupted file (not a zip, a bad CRC) is unreadable, so ``None`` too. The
    file is opened here, not by ``np.load``, which leaves its handle open when it fails.
    """
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle, np.load(handle) as stored:
            pixels = stored["pixels"]
            factors = [stored[key].astype(np.int64) for key in ("azimuth", "elevation", "lighting")]
    except (OSError, EOFError, KeyError, ValueError, zlib.error, zipfile.BadZipFile) as error:
        warnings.warn(f"ignoring unreadable cache {path}: {error}", stacklevel=3)
        return None
    if pixels.shape != (N_IMAGES, image_size, image_size) or pixels.dtype != np.uint8 or any(
            not np.array_equal(a, b) for a, b in zip(factors, factor_grid(), strict=True)):
        warnings.warn(f"ignoring malformed cache {path}", stacklevel=3)
        return None
    return NorbData(to_float_images(pixels), *factors)


def _write_cache(path: Path, pixels, azimuth, elevation, lighting) -> None:
    """Store the render as ``.npz``, atomically; a folder that cannot be written only warns."""
    buffer = io.BytesIO()
    np.savez(buffer, pixels=pixels, azimuth=azimuth, elevation=elevation, lighting=lighting)
    try:
        write_bytes(path, buffer.getvalue())
    except OSError as error:
        warnings.warn(f"could not cache the rendered airplane at {path}: {error}", stacklevel=3)


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` whose rows average the input cells each output cell covers."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    cells = np.arange(n_in)
    overlap = (np.minimum(cells[None, :] + 1, edges[1:, None])
               - np.maximum(cells[None, :], edges[:-1, None]))
    return np.clip(overlap, 0.0, None) * (n_out / n_in)
