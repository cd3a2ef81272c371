"""Importing the plotting modules has no side effect on matplotlib's backend; bad maps and
factors are refused naming the argument."""

import subprocess
import sys

import numpy as np
import pytest

from drlim.data import render_airplane
from drlim.plots import embedding_figure, norb_grid_figure


def test_importing_plots_and_figures_leaves_the_backend_alone():
    code = ("import matplotlib; matplotlib.use('svg'); import drlim.plots, drlim.report; "
            "print(matplotlib.get_backend())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "svg"


@pytest.mark.parametrize(("z", "message"), [
    (np.zeros((5, 3)), r"^z must have shape \(n, 2\), got \(5, 3\)$"),
    (np.zeros((5, 2, 1)), r"^z must have shape \(n, 2\), got \(5, 2, 1\)$"),
    (np.zeros((0, 2)), r"^z must have shape .*, got \(0, 2\)$"),
    (np.full((5, 2), np.nan), "^z must be finite, got 10 NaN/inf$"),
    (np.full((5, 2), True), "^z must hold real numbers, got dtype bool$"),
])
def test_a_map_is_refused_with_one_message_style(z, message):
    with pytest.raises(ValueError, match=message):
        embedding_figure(z, np.zeros(len(z)))


def test_the_norb_grid_names_a_bad_factor():
    data = render_airplane()
    factors = (data.azimuth, data.elevation, data.lighting)
    with pytest.raises(ValueError, match=r"^elevation must have shape \(\d+,\), got shape"):
        norb_grid_figure(data.images, factors[0], factors[1][:-1], factors[2])
    with pytest.raises(ValueError, match=r"^shown_lighting must be one of \(0, 1, .*got 9$"):
        norb_grid_figure(data.images, *factors, shown_lighting=9)
    with pytest.raises(ValueError, match="^shown_lighting must be one of .*got True$"):
        norb_grid_figure(data.images, *factors, shown_lighting=True)


def _colours_of(ax):
    """Each drawn point's RGBA colour, over the axes' scatter collections."""
    return np.concatenate([c.get_facecolors() for c in ax.collections])


def test_grids_colour_each_digit_as_their_legend_shows_it():
    """tab10 read float labels as fractions of the map: 1.0 and 2.0 were drawn alike."""
    import matplotlib.pyplot as plt

    from drlim.plots import embedding_grid

    z = np.random.default_rng(0).normal(size=(3, 2))
    as_floats = embedding_grid([[{"z": z, "labels": np.array([0.0, 1.0, 2.0]), "title": "a"}]],
                               ["r"])
    as_ints = embedding_grid([[{"z": z, "labels": np.array([0, 1, 2]), "title": "a"}]], ["r"])
    drawn = _colours_of(as_floats.axes[0])
    np.testing.assert_array_equal(drawn, _colours_of(as_ints.axes[0]))
    assert len({tuple(colour) for colour in drawn}) == 3
    np.testing.assert_allclose(drawn[:, :3], [plt.get_cmap("tab10")(d)[:3] for d in (0, 1, 2)])
    for bad in ([0, 1, -1], [0, 1, 10], [0, 1, 2.5], [0, 1, np.nan]):
        with pytest.raises(ValueError, match="^labels must"):
            embedding_grid([[{"z": z, "labels": np.array(bad), "title": "a"}]], ["r"])


def test_nan_labels_and_mismatched_lengths_are_refused_not_dropped():
    from drlim.plots import interactive, thumbnail_figure

    z = np.random.default_rng(0).normal(size=(3, 2))
    with pytest.raises(ValueError, match="^colour must not hold NaN, got 1$"):
        embedding_figure(z, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"^colour must have one value per point \(3\), got 2$"):
        embedding_figure(z, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="^labels must not hold NaN, got 1$"):
        interactive(z, labels=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"^images must have one image per point \(3\), got 2$"):
        thumbnail_figure(z, np.zeros((2, 4, 4)))


def test_the_scatter_draws_each_category_s_points_with_its_legend_entry():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(60, 2))
    colour = np.array(["b", "a", "c"])[rng.integers(0, 3, 60)]
    ax = embedding_figure(z, colour, colour_name="letter").axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert ax.get_legend().get_title().get_text() == "letter"
    for collection, value in zip(ax.collections, "abc", strict=True):
        np.testing.assert_array_equal(collection.get_offsets(), z[colour == value])
    colours = {tuple(collection.get_facecolor()[0]) for collection in ax.collections}
    assert len(colours) == 3


def test_training_curves_draw_the_logged_parts_and_the_margin_share():
    from drlim.plots import training_curves_figure

    rows = [{"step": s, "loss_similar": 1.0 / s, "loss_dissimilar": 0.1 * s,
             "inside_margin": 0.9 / s} for s in (10, 20, 30)]
    fig = training_curves_figure(rows, title="run")
    ax, second = fig.axes
    similar, dissimilar = ax.lines
    np.testing.assert_array_equal(similar.get_xdata(), [10, 20, 30])
    np.testing.assert_allclose(similar.get_ydata(), [0.1, 0.05, 1 / 30])
    np.testing.assert_allclose(dissimilar.get_ydata(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(second.lines[0].get_ydata(), [0.09, 0.045, 0.03])
    assert ax.get_title() == "run"


def test_training_curves_use_a_linear_axis_where_a_part_is_negative():
    from drlim.plots import training_curves_figure

    rows = [{"step": s, "loss_similar": 1.0 / s, "loss_dissimilar": v}
            for s, v in ((1, 0.5), (2, -0.3))]
    assert training_curves_figure(rows).axes[0].get_yscale() == "linear"
    assert training_curves_figure(rows[:1]).axes[0].get_yscale() == "log"


def test_the_norb_grid_draws_uint8_images_on_the_float_grey_scale():
    """imshow(vmin=0, vmax=1) had drawn uint8 pixels of 1 and more all white."""
    data = render_airplane()
    factors = (data.azimuth, data.elevation, data.lighting)
    as_uint8 = np.round(data.images * 255).astype(np.uint8)
    drawn = norb_grid_figure(as_uint8, *factors).axes[0].images[0].get_array()
    expected = norb_grid_figure(as_uint8 / 255.0, *factors).axes[0].images[0].get_array()
    np.testing.assert_array_equal(drawn, expected)
    assert 0.0 < float(np.mean(drawn)) < 1.0
