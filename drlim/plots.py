"""Paper-style figures, drawn from saved arrays and run directories (never by training).

Every function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes it
atomically. The Agg backend is used so that figures render on machines without a screen.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from drlim._io import atomic_write  # noqa: E402
from drlim.loss import dissimilar_loss, similar_loss  # noqa: E402

SIMILAR_STYLE = {"color": "tab:red", "linestyle": "--", "linewidth": 2}
DISSIMILAR_STYLE = {"color": "tab:blue", "linestyle": "-", "linewidth": 2}


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
    rows = [r for r in history if "loss_similar" in r]
    if not rows:
        raise ValueError("history must hold rows with 'step', 'loss_similar', 'loss_dissimilar'")
    step = np.array([r["step"] for r in rows])
    fig, ax = plt.subplots(figsize=(4.2, 2.8), constrained_layout=True)
    ax.plot(step, [r["loss_similar"] for r in rows], label="similar pairs $L_S$", **SIMILAR_STYLE)
    ax.plot(step, [r["loss_dissimilar"] for r in rows], label="dissimilar pairs $L_D$",
            **DISSIMILAR_STYLE)
    ax.set_xlabel("training step")
    ax.set_ylabel("mean partial loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.25)
    if "inside_margin" in rows[0]:
        twin = ax.twinx()
        twin.plot(step, [r["inside_margin"] for r in rows], color="0.4", linewidth=1,
                  label="dissimilar inside margin")
        twin.set_ylabel("fraction inside margin", color="0.4")
        twin.set_ylim(0, 1)
        twin.legend(fontsize=7, loc="upper right", frameon=False)
    ax.legend(fontsize=7, loc="lower left", frameon=False)
    ax.set_title(title, fontsize=9)
    return fig


def embedding_figure(
    z: np.ndarray,
    colour: np.ndarray,
    title: str = "",
    colour_name: str = "",
    categorical: bool = True,
) -> Figure:
    """A 2-D embedding as a scatter plot, coloured by one factor (label, shift, ...)."""
    z = _check_embedding(z, dims=2)
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
    z = _check_embedding(z, dims=2)
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
    z = _check_embedding(z, dims=3)
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


def _scatter(ax, z: np.ndarray, colour: np.ndarray, name: str, categorical: bool) -> None:
    colour = np.asarray(colour)
    if categorical:
        values = np.unique(colour)
        cmap = plt.get_cmap("tab10" if len(values) <= 10 else "tab20")
        for n, value in enumerate(values):
            mask = colour == value
            ax.scatter(z[mask, 0], z[mask, 1], s=3, color=cmap(n % cmap.N), label=f"{value}",
                       alpha=0.7, linewidths=0)
        ax.legend(title=name, fontsize=7, title_fontsize=7, markerscale=3, frameon=False,
                  loc="best")
    else:
        points = ax.scatter(z[:, 0], z[:, 1], s=3, c=colour, cmap="viridis", linewidths=0)
        plt.colorbar(points, ax=ax, label=name)


def _check_embedding(z: np.ndarray, dims: int) -> np.ndarray:
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] != dims:
        raise ValueError(f"z must have shape (n, {dims}), got {z.shape}")
    return z


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

    ``images`` is ``(n, h, w[, 1])`` with factor arrays ``azimuth`` and ``elevation`` (degrees)
    and ``lighting`` (0..5), in any order; ``pose`` is ``(azimuth, elevation)`` in degrees.

    >>> from drlim.data import render_airplane
    >>> data = render_airplane()
    >>> fig = norb_grid_figure(data.images, data.azimuth, data.elevation, data.lighting)
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, 1), got {images.shape}")
    factors = [np.asarray(f) for f in (azimuth, elevation, lighting)]
    if any(f.shape != images.shape[:1] for f in factors):
        raise ValueError(
            f"azimuth, elevation, lighting must each have shape ({images.shape[0]},), got "
            f"{[f.shape for f in factors]}"
        )
    azimuth, elevation, lighting = factors
    azimuths, elevations, lightings = np.unique(azimuth), np.unique(elevation), np.unique(lighting)
    if shown_lighting not in lightings:
        raise ValueError(
            f"shown_lighting must be one of {lightings.tolist()}, got {shown_lighting}"
        )
    at_pose = (azimuth == pose[0]) & (elevation == pose[1])
    if not at_pose.any():
        raise ValueError(f"pose must be an (azimuth, elevation) present in the data, got {pose}")

    def tile(rows: list[list[np.ndarray | None]]) -> np.ndarray:
        h, w = images.shape[1:]
        gap = max(1, h // 24)
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
    h, w = images.shape[1:]
    step_y, step_x = h + max(1, h // 24), w + max(1, w // 24)

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
