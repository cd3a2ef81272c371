"""Paper-style figures, drawn from saved arrays and run directories (never by training).

Every figure function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes
it atomically. Importing this module leaves matplotlib's backend alone: a notebook keeps its
inline backend, and the command line chooses Agg itself. :func:`interactive` writes a map as
one self-contained HTML page (plotly) where hovering a point shows its image.
"""

from __future__ import annotations

import base64
import html
import io
import os
import textwrap
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
import plotly.graph_objects as go
import plotly.io as pio
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from drlim._io import atomic_write
from drlim.loss import dissimilar_loss, similar_loss
from drlim.validation import as_samples, as_vector, check_choice, check_number

SIMILAR_STYLE = {"color": "tab:red", "linestyle": "--", "linewidth": 2}
DISSIMILAR_STYLE = {"color": "tab:blue", "linestyle": "-", "linewidth": 2}
# Characters per line of a small panel's title before it wraps.
TITLE_WIDTH = 26


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` via a temporary file, so a crash never leaves half a PNG."""
    try:
        return atomic_write(
            path, lambda handle: fig.savefig(handle, dpi=dpi, bbox_inches="tight",
                                             format=Path(path).suffix.lstrip(".") or "png")
        )
    finally:
        plt.close(fig)


def loss_curves_figure(margin: float = 1.0, d_max: float | None = None) -> Figure:
    """Fig. 1 of the paper: L_S and L_D against D, and the spring forces dL/dD.

    The forces come from ``jax.grad`` of the library's partial losses, so the right panel
    shows what training actually differentiates.

    >>> fig = loss_curves_figure(margin=1.0)
    >>> save_figure(fig, "figures/fig1_loss_curves.png")  # doctest: +SKIP
    """
    d_max = 2.0 * margin if d_max is None else d_max
    d = jnp.linspace(0.0, d_max, 401)
    force_s = jax.vmap(jax.grad(similar_loss))(d)
    force_d = jax.vmap(jax.grad(lambda x: dissimilar_loss(x, margin)))(d)

    fig, (ax_loss, ax_force) = plt.subplots(1, 2, figsize=(7.0, 2.8), constrained_layout=True)
    ax_loss.plot(d, similar_loss(d), label=r"similar pair $L_S = \frac{1}{2}D^2$", **SIMILAR_STYLE)
    ax_loss.plot(
        d,
        dissimilar_loss(d, margin),
        label=r"dissimilar pair $L_D = \frac{1}{2}\max(0, m-D)^2$",
        **DISSIMILAR_STYLE,
    )
    ax_loss.set_xlabel("energy $D_W$ (distance between outputs)")
    ax_loss.set_ylabel("loss")
    ax_loss.set_ylim(0, float(similar_loss(d_max)) * 0.8)
    ax_loss.set_title("(a) contrastive loss")

    ax_force.plot(d, force_s, label="attract-only spring, rest length 0", **SIMILAR_STYLE)
    ax_force.plot(d, force_d, label=f"repulse-only spring, rest length m = {margin:g}",
                  **DISSIMILAR_STYLE)
    ax_force.axhline(0, color="0.6", linewidth=0.8)
    ax_force.set_xlabel("energy $D_W$")
    ax_force.set_ylabel(r"$\partial L / \partial D_W$")
    ax_force.set_title("(b) spring forces")

    for ax, corner, height in ((ax_loss, "upper left", 0.2), (ax_force, "lower right", 0.55)):
        ax.axvline(margin, color="0.3", linestyle=":", linewidth=1)
        low, high = ax.get_ylim()
        ax.annotate("margin $m$", (margin, low + height * (high - low)), xytext=(3, 0),
                    textcoords="offset points", fontsize=8, color="0.3")
        ax.legend(fontsize=7, loc=corner, frameon=False)
        ax.set_xlim(0, d_max)
        ax.grid(alpha=0.25)
    return fig


def training_curves_figure(history: list[dict], title: str = "") -> Figure:
    """Similar-pair and dissimilar-pair losses through training, from ``metrics.jsonl`` rows.

    Rows need ``step``, ``loss_similar`` and ``loss_dissimilar``; ``inside_margin`` (the
    fraction of dissimilar pairs closer than the margin) is drawn on a second axis if present.
    """
    fig, ax = plt.subplots(figsize=(4.2, 2.8), constrained_layout=True)
    _draw_curves(ax, history)
    ax.set_title(title, fontsize=9)
    return fig


def maps_and_curves_figure(panels: list[dict], title: str = "") -> Figure:
    """Maps side by side (``z``, ``labels`` in 0..9, ``title``), each above its training
    curves (``history``, rows of ``metrics.jsonl``): e.g. one network trained with each loss.

    >>> z = np.random.default_rng(0).normal(size=(50, 2))
    >>> history = [{"step": s, "loss_similar": 1 / s, "loss_dissimilar": 2 / s} for s in (1, 2)]
    >>> fig = maps_and_curves_figure([{"z": z, "labels": np.arange(50) % 10, "title": "a",
    ...                                "history": history}])
    >>> len(fig.axes)
    2
    """
    fig, axes = plt.subplots(2, len(panels), squeeze=False, figsize=(3.2 * len(panels), 5.6),
                             constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    for c, panel in enumerate(panels):
        z = _as_points(panel["z"], dims=2)
        ax = axes[0, c]
        ax.scatter(z[:, 0], z[:, 1], s=float(np.clip(3000 / len(z), 1, 6)),
                   c=cmap(_digits(panel["labels"], len(z))), linewidths=0, alpha=0.8,
                   rasterized=True)
        _zoom(ax, z)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(_wrap(panel["title"], TITLE_WIDTH + 10), fontsize=8)
        _draw_curves(axes[1, c], panel["history"], twin=False)
    fig.suptitle(title, fontsize=9)
    return fig


def _draw_curves(ax, history: list[dict], twin: bool = True) -> None:
    """The similar and dissimilar parts of the loss against the step (log scale where both
    stay positive)."""
    rows = [r for r in history if "loss_similar" in r]
    if not rows:
        raise ValueError("history must hold rows with 'step', 'loss_similar', 'loss_dissimilar', "
                         f"got {len(history)} rows without 'loss_similar'")
    step = np.array([r["step"] for r in rows])
    ax.plot(step, [r["loss_similar"] for r in rows], label="similar pairs $L_S$", **SIMILAR_STYLE)
    ax.plot(step, [r["loss_dissimilar"] for r in rows], label="dissimilar pairs $L_D$",
            **DISSIMILAR_STYLE)
    ax.set_xlabel("training step")
    ax.set_ylabel("mean partial loss")
    parts = [r[key] for r in rows for key in ("loss_similar", "loss_dissimilar")]
    # InfoNCE's repulsion part is a log and may be negative, which a log axis would not show.
    ax.set_yscale("log" if min(parts) > 0 else "linear")
    ax.grid(alpha=0.25)
    if twin and "inside_margin" in rows[0]:
        second = ax.twinx()
        second.plot(step, [r["inside_margin"] for r in rows], color="0.4", linewidth=1,
                    label="dissimilar inside margin")
        second.set_ylabel("fraction inside margin", color="0.4")
        second.set_ylim(0, 1)
        second.legend(fontsize=7, loc="upper right", frameon=False)
    ax.legend(fontsize=7, loc="lower left", frameon=False)


def embedding_figure(
    z: np.ndarray,
    colour: np.ndarray,
    title: str = "",
    colour_name: str = "",
    categorical: bool = True,
) -> Figure:
    """A 2-D embedding as a scatter plot, coloured by one factor (label, shift, ...)."""
    z = _as_points(z, dims=2)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), constrained_layout=True)
    _scatter(ax, z, colour, colour_name, categorical)
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def thumbnail_figure(
    z: np.ndarray, images: np.ndarray, title: str = "", cell: float = 0.045, seed: int = 0
) -> Figure:
    """Digit thumbnails drawn at their embedded positions, as in the paper's Fig. 4.

    Points are visited in random order and a thumbnail is drawn where none lies within
    ``cell`` (a fraction of the map's width), so the map stays readable.
    """
    z = _as_points(z, dims=2)
    if len(images) != len(z):
        raise ValueError(f"images must have one image per point ({len(z)}), got {len(images)}")
    lo, hi = z.min(0), z.max(0)
    span = float(np.max(hi - lo)) or 1.0
    size = cell * span
    fig, ax = plt.subplots(figsize=(6.0, 6.0), constrained_layout=True)
    ax.scatter(z[:, 0], z[:, 1], s=1, c="0.85")
    placed: list[np.ndarray] = []
    for i in np.random.default_rng(seed).permutation(len(z)):
        if placed and np.min(np.max(np.abs(np.array(placed) - z[i]), axis=1)) < size:
            continue
        placed.append(z[i])
        x, y = z[i]
        ax.imshow(images[i], cmap="gray_r", extent=(x - size / 2, x + size / 2,
                                                    y - size / 2, y + size / 2),
                  interpolation="nearest", zorder=2)
    ax.set_xlim(lo[0] - size, hi[0] + size)
    ax.set_ylim(lo[1] - size, hi[1] + size)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return fig


def cylinder_figure(z: np.ndarray, factors: dict[str, np.ndarray], title: str = "") -> Figure:
    """A 3-D embedding seen three times, coloured by azimuth, elevation and lighting (Fig. 8)."""
    z = _as_points(z, dims=3)
    fig = plt.figure(figsize=(10.5, 3.6), constrained_layout=True)
    for column, (name, cmap) in enumerate(
        (("azimuth", "twilight"), ("elevation", "viridis"), ("lighting", "tab10"))
    ):
        ax = fig.add_subplot(1, 3, column + 1, projection="3d")
        points = ax.scatter(z[:, 0], z[:, 1], z[:, 2], c=factors[name], cmap=cmap, s=8,
                            depthshade=False)
        fig.colorbar(points, ax=ax, shrink=0.6, pad=0.1, label=name)
        ax.view_init(elev=20, azim=35 + 40 * column)
        ax.set_title(f"coloured by {name}", fontsize=9)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
    fig.suptitle(title, fontsize=10)
    return fig


def weights_figure(kernel: np.ndarray, image_shape: tuple[int, int], title: str = "") -> Figure:
    """Each hidden unit's input weights drawn as an image (the paper's Fig. 9)."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 2 or kernel.shape[0] != image_shape[0] * image_shape[1]:
        raise ValueError(
            f"kernel must have shape ({image_shape[0] * image_shape[1]}, units) for images "
            f"{image_shape}, got {kernel.shape}"
        )
    units = kernel.shape[1]
    cols = min(units, 10)
    rows = int(np.ceil(units / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.2 * rows + 0.3),
                             constrained_layout=True, squeeze=False)
    for unit, ax in enumerate(axes.flat):
        ax.axis("off")
        if unit < units:
            w = kernel[:, unit].reshape(image_shape)
            limit = float(np.abs(w).max()) or 1.0
            ax.imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"unit {unit + 1}", fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def embedding_grid(panels: list[list[dict | None]], row_titles: list[str],
                   legend_title: str = "digit") -> Figure:
    """A grid of small 2-D maps coloured by a label in 0..9, one legend (of the labels
    present) under them; long panel titles wrap.

    ``panels[r][c]`` is a dict with ``z`` (n, 2), ``labels`` (n,) and ``title``, or None for
    an empty cell. Each panel frames the central 99 % of its points (a few outliers of LLE
    or spectral embedding would otherwise squeeze the rest into a line).

    >>> z = np.random.default_rng(0).normal(size=(50, 2))
    >>> fig = embedding_grid([[{"z": z, "labels": np.arange(50) % 10, "title": "a"}, None]],
    ...                      ["row"])
    >>> len(fig.axes)
    2
    """
    n_columns = max(len(row) for row in panels)
    fig, axes = plt.subplots(len(panels), n_columns, squeeze=False,
                             figsize=(1.9 * n_columns, 2.0 * len(panels) + 0.4),
                             constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    shown: set[int] = set()
    for r, row in enumerate(panels):
        for c in range(n_columns):
            panel = row[c] if c < len(row) else None
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=8)
            if panel is None:
                ax.set_frame_on(False)
                continue
            z = _as_points(panel["z"], dims=2)
            labels = _digits(panel["labels"], len(z))
            size = float(np.clip(3000 / len(z), 1, 6))
            ax.scatter(z[:, 0], z[:, 1], s=size, c=cmap(labels), linewidths=0, alpha=0.8,
                       rasterized=True)
            _zoom(ax, z)
            ax.set_title(_wrap(panel["title"], TITLE_WIDTH), fontsize=7)
            shown.update(int(label) for label in np.unique(labels))
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=cmap(d), markersize=4,
                          label=str(d)) for d in sorted(shown)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7,
               frameon=False, title=legend_title, title_fontsize=7)
    return fig


def _digits(labels: Any, n: int) -> np.ndarray:
    """``labels`` as n ints in 0..9, the grids' palette, so that each is drawn in the colour
    its legend shows (a float label had been read by matplotlib as a fraction of the
    colour map, and -1 or 10 had shared a digit's colour).

    >>> _digits([4.0, 9.0], 2).tolist()
    [4, 9]
    """
    values = as_vector(labels, "labels", length=n)
    if not (np.all(values == np.round(values)) and values.min() >= 0 and values.max() <= 9):
        raise ValueError(f"labels must be whole numbers in 0..9 (one colour each), got values "
                         f"from {values.min()} to {values.max()}")
    return values.astype(np.int64)


def _categories(values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``values`` and each one's position among them; NaN is refused
    (it equals nothing, so its points would be dropped silently)."""
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise ValueError(f"{name} must not hold NaN, got {int(np.isnan(values).sum())}")
    return np.unique(values, return_inverse=True)


def _wrap(title: str, width: int) -> str:
    r"""``title`` with each of its lines wrapped at ``width`` characters (its own line breaks
    kept, so a score stays on its own line).

    >>> _wrap("DrLIM (loss='infonce', n_neighbors=15)\nT@5 0.934", 26)
    "DrLIM (loss='infonce',\nn_neighbors=15)\nT@5 0.934"
    """
    return "\n".join(textwrap.fill(line, width) for line in title.split("\n"))


def _zoom(ax, z: np.ndarray, quantile: float = 0.005) -> None:
    """Frame the central 99 % of the points, so a few far outliers do not flatten the map."""
    low = np.quantile(z, quantile, axis=0)
    high = np.quantile(z, 1.0 - quantile, axis=0)
    pad = 0.05 * np.maximum(high - low, 1e-12)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])


def _scatter(ax, z: np.ndarray, colour: np.ndarray, name: str, categorical: bool) -> None:
    colour = np.asarray(colour)
    if len(colour) != len(z):
        raise ValueError(f"colour must have one value per point ({len(z)}), got {len(colour)}")
    if categorical:
        values, position = _categories(colour, "colour")
        cmap = _category_cmap(len(values))
        for n, value in enumerate(values):
            mask = position == n
            ax.scatter(z[mask, 0], z[mask, 1], s=3, color=cmap(n % cmap.N), label=f"{value}",
                       alpha=0.7, linewidths=0)
        ax.legend(title=name, fontsize=7, title_fontsize=7, markerscale=3, frameon=False,
                  loc="best")
    else:
        points = ax.scatter(z[:, 0], z[:, 1], s=3, c=colour, cmap="viridis", linewidths=0)
        plt.colorbar(points, ax=ax, label=name)


def _category_cmap(count: int):
    """tab10 for up to ten categories, tab20 above (colours repeat beyond twenty)."""
    return plt.get_cmap("tab10" if count <= 10 else "tab20")


def _as_points(z: np.ndarray, dims: int) -> np.ndarray:
    """``z`` as finite float points (n >= 1, ``dims``): a map to draw.

    Local: :func:`drlim.validation.as_samples` flattens images, a map must not be.
    """
    points = as_samples(z, "z")
    if np.ndim(z) != 2 or points.shape[1] != dims:
        raise ValueError(f"z must have shape (n, {dims}), got {np.shape(z)}")
    return points


def norb_grid_figure(
    images: np.ndarray,
    azimuth: np.ndarray,
    elevation: np.ndarray,
    lighting: np.ndarray,
    shown_lighting: int = 0,
    pose: tuple[int, int] = (40, 50),
    title: str = "",
) -> Figure:
    """What the NORB network sees: every azimuth x elevation under one lighting (top) and the
    six lightings of one pose (bottom).

    ``images`` is ``(n, h, w[, 1])``, ``uint8`` or floats in [0, 1], with factor arrays
    ``azimuth`` and ``elevation`` (degrees) and ``lighting`` (0..5), in any order; ``pose`` is
    ``(azimuth, elevation)`` in degrees.

    >>> from drlim.data import render_airplane
    >>> data = render_airplane()
    >>> fig = norb_grid_figure(data.images, data.azimuth, data.elevation, data.lighting)
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, 1), got {images.shape}")
    if images.dtype == np.uint8:  # drawn on the same 0..1 grey scale as float images
        images = images / 255.0
    h, w = images.shape[1:]
    gap = max(1, min(h, w) // 24)  # between tiles, across and down alike
    azimuth, elevation, lighting = (
        as_vector(values, name, length=len(images), numeric=False)
        for values, name in ((azimuth, "azimuth"), (elevation, "elevation"),
                             (lighting, "lighting"))
    )
    azimuths, elevations, lightings = np.unique(azimuth), np.unique(elevation), np.unique(lighting)
    check_choice(shown_lighting, "shown_lighting", tuple(lightings.tolist()))
    at_pose = (azimuth == pose[0]) & (elevation == pose[1])
    if not at_pose.any():
        raise ValueError(f"pose must be an (azimuth, elevation) present in the data, got {pose}")

    def tile(rows: list[list[np.ndarray | None]]) -> np.ndarray:
        canvas = np.ones((len(rows) * (h + gap) - gap, len(rows[0]) * (w + gap) - gap))
        for r, row in enumerate(rows):
            for c, image in enumerate(row):
                if image is not None:
                    canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = image
        return canvas

    def pick(mask: np.ndarray) -> np.ndarray | None:
        index = np.flatnonzero(mask)
        return images[index[0]] if index.size else None

    grid = [[pick((azimuth == a) & (elevation == e) & (lighting == shown_lighting))
             for a in azimuths] for e in elevations[::-1]]
    row = [[pick(at_pose & (lighting == light)) for light in lightings]]
    step_y, step_x = h + gap, w + gap

    fig = plt.figure(figsize=(10.0, 7.4), constrained_layout=True)
    top, bottom = fig.subfigures(2, 1, height_ratios=[len(elevations), 2.6])
    ax = top.subplots()
    ax.imshow(tile(grid), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks(np.arange(len(azimuths)) * step_x + w / 2, [f"{a}" for a in azimuths])
    ax.set_yticks(np.arange(len(elevations)) * step_y + h / 2,
                  [f"{e}" for e in elevations[::-1]])
    ax.tick_params(length=0, labelsize=7)
    ax.set_xlabel("azimuth (degrees)")
    ax.set_ylabel("elevation (degrees)")
    ax.set_title(f"(a) all {len(azimuths)} x {len(elevations)} poses, lighting {shown_lighting}",
                 fontsize=9)
    ax_light = bottom.subplots()
    ax_light.imshow(tile(row), cmap="gray", vmin=0, vmax=1)
    ax_light.set_xticks(np.arange(len(lightings)) * step_x + w / 2,
                        [f"lighting {light}" for light in lightings])
    ax_light.set_yticks([])
    ax_light.tick_params(length=0, labelsize=7)
    ax_light.set_title(f"(b) the {len(lightings)} lightings of azimuth {pose[0]}, "
                       f"elevation {pose[1]}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def interactive(
    z: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    images: np.ndarray | None = None,
    title: str = "",
    path: str | os.PathLike | None = None,
    label_name: str = "label",
    marker_size: float = 5.0,
) -> Path | str:
    """A 2-D map as one self-contained HTML page: hover a point to see its image and label.

    Points are coloured by ``labels`` (one legend entry per value; click one to hide it) with
    the colours of :func:`embedding_figure`. Each of ``images`` (``(n, h, w)`` uint8, or
    floats in [0, 1], drawn dark on white as in :func:`thumbnail_figure`) is stored as a small
    PNG in the page; plotly's hover labels cannot show images, so a short script shows the
    hovered point's image, enlarged, in a panel beside the map. plotly.js is embedded, so the
    page works offline: about 4.9 MB, plus about 0.5 kB per point with a 28x28 image.
    ``title``, ``label_name`` and the labels are shown as written ("a<b" too, checked in
    chromium), except plotly's own tags (``<b>``, ``<i>``, ``<br>``), which format them.

    Returns the page as a string, or writes it atomically to ``path`` and returns the path.

    >>> rng = np.random.default_rng(0)
    >>> z, labels = rng.normal(size=(50, 2)), rng.integers(0, 3, 50)
    >>> images = rng.integers(0, 256, size=(50, 8, 8), dtype=np.uint8)
    >>> page = interactive(z, labels=labels, images=images, title="a map")
    >>> len(page) > 4_000_000  # plotly.js is in the page
    True
    >>> interactive(z, labels=labels, path="map.html")  # doctest: +SKIP
    PosixPath('map.html')
    """
    z = _as_points(z, dims=2).astype(np.float64)
    if labels is not None:
        labels = as_vector(labels, "labels", length=len(z), numeric=False)
    thumbnails = _thumbnails(images, len(z))
    for name, text in (("title", title), ("label_name", label_name)):
        if not isinstance(text, str):
            raise ValueError(f"{name} must be a str, got {type(text).__name__}")
    check_number(marker_size, "marker_size", 0, closed="neither")
    fig = _map_figure(z, labels, thumbnails, label_name, marker_size)
    fig.update_layout(title=title)
    plot = pio.to_html(fig, full_html=False, include_plotlyjs=True, div_id="drlim-map",
                       config={"displaylogo": False, "showSendToCloud": False},
                       post_script=_HOVER_SCRIPT if thumbnails else None)
    page = _PAGE.format(title=html.escape(title or "drlim map"), plot=plot,
                        panel=_PANEL if thumbnails else "")
    if path is None:
        return page
    return atomic_write(path, lambda handle: handle.write(page.encode()))


def _map_figure(
    z: np.ndarray, labels: np.ndarray | None, thumbnails: list[str], label_name: str,
    marker_size: float,
) -> go.Figure:
    """One plotly trace per label; each point carries its index (and thumbnail) as customdata,
    and its trace's ``meta`` is the caption the hover script shows."""
    values, position = _categories(labels, "labels") if labels is not None else ([None], None)
    cmap = _category_cmap(len(values))
    fig = go.Figure()
    for n, value in enumerate(values):
        index = np.arange(len(z)) if value is None else np.flatnonzero(position == n)
        name = "points" if value is None else f"{value}"
        caption = "" if value is None else f"{label_name} {name}"
        hover = f"{html.escape(caption)}<br>" if caption else ""
        fig.add_trace(go.Scatter(
            x=z[index, 0], y=z[index, 1], mode="markers", name=name, meta=caption,
            marker={"size": marker_size, "color": to_hex(cmap(n % cmap.N)), "opacity": 0.8},
            customdata=[[int(i), thumbnails[i]] if thumbnails else [int(i)] for i in index],
            hovertemplate=hover + "point %{customdata[0]}<extra></extra>",
        ))
    fig.update_layout(
        template="simple_white", width=760, height=680, hovermode="closest",
        showlegend=labels is not None, legend={"title": {"text": label_name}},
        xaxis={"showticklabels": False, "ticks": "", "title": ""},
        yaxis={"showticklabels": False, "ticks": "", "title": "", "scaleanchor": "x"},
    )
    return fig


# The panel beside the map that shows the hovered point's image, and the script that fills it
# (run by plotly once the map is drawn; '{plot_id}' is plotly's placeholder for the map's div).
_PANEL = """<div class="drlim-panel">
<img id="drlim-thumbnail" alt="image of the hovered point" hidden>
<div id="drlim-caption">hover over a point to see its image</div>
</div>"""
_HOVER_SCRIPT = """
var plot = document.getElementById('{plot_id}');
plot.on('plotly_hover', function (event) {
    var point = event.points[0];
    var image = document.getElementById('drlim-thumbnail');
    image.src = point.customdata[1];
    image.hidden = false;
    document.getElementById('drlim-caption').textContent =
        (point.data.meta ? point.data.meta + ', ' : '') + 'point ' + point.customdata[0];
});
"""
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 12px; }}
.drlim-page {{ display: flex; align-items: flex-start; gap: 16px; }}
.drlim-panel {{ width: 168px; position: sticky; top: 12px; text-align: center; }}
.drlim-panel img {{ width: 140px; height: 140px; image-rendering: pixelated;
                    border: 1px solid #bbb; }}
</style>
</head>
<body>
<div class="drlim-page">
<div class="drlim-plot">{plot}</div>
{panel}
</div>
</body>
</html>
"""


def _thumbnails(images: np.ndarray | None, n: int) -> list[str]:
    """Each image as a PNG data URI (dark ink on white), or [] when there are no images."""
    if images is None:
        return []
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or len(images) != n or images.size == 0:
        raise ValueError(f"images must have shape ({n}, h, w), one image per point, "
                         f"got shape {images.shape}")
    if np.issubdtype(images.dtype, np.floating) and (
        np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    ):
        images = np.round(images * 255).astype(np.uint8)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 or floats in [0, 1], got {images.dtype} "
                         f"in [{images.min()}, {images.max()}]")
    return [_png_data_uri(image) for image in images]


def _png_data_uri(ink: np.ndarray) -> str:
    """A grayscale PNG (Pillow: half the bytes of matplotlib's RGBA ``imsave``, 10x faster)."""
    buffer = io.BytesIO()
    PIL.Image.fromarray(255 - ink).save(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


__all__ = [
    "cylinder_figure",
    "embedding_figure",
    "embedding_grid",
    "interactive",
    "loss_curves_figure",
    "maps_and_curves_figure",
    "norb_grid_figure",
    "save_figure",
    "thumbnail_figure",
    "training_curves_figure",
    "weights_figure",
]
