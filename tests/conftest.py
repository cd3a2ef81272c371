"""Shared test setup: figures render off screen with Agg, whatever the machine has.

The library leaves the backend alone when imported (the command line chooses Agg itself), so
the tests choose it here; notebook kernels started by the tests keep their inline backend.
"""

import matplotlib

matplotlib.use("Agg")
