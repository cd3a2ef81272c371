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
