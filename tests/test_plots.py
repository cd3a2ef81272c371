"""Importing the plotting modules has no side effect on matplotlib's backend."""

import subprocess
import sys


def test_importing_plots_and_figures_leaves_the_backend_alone():
    code = ("import matplotlib; matplotlib.use('svg'); import drlim.plots, drlim.report; "
            "print(matplotlib.get_backend())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "svg"
