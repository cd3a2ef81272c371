"""Shared test setup: figures render off screen with Agg, whatever the machine has, and
drlim's cache (``$DRLIM_CACHE``: rendered data, JAX's compiled programs) lives in a temporary
folder, so the suite never writes into the user's home.

The library leaves the backend alone when imported (the command line chooses Agg itself), so
the tests choose it here; notebook kernels started by the tests keep their inline backend.
"""

import os
import shutil
import tempfile

import matplotlib

matplotlib.use("Agg")


def pytest_configure(config):
    folder = tempfile.mkdtemp(prefix="drlim-test-cache-")
    config._drlim_cache = (folder, os.environ.get("DRLIM_CACHE"))
    os.environ["DRLIM_CACHE"] = folder


def pytest_unconfigure(config):
    folder, before = config._drlim_cache
    if before is None:
        os.environ.pop("DRLIM_CACHE", None)
    else:
        os.environ["DRLIM_CACHE"] = before
    shutil.rmtree(folder, ignore_errors=True)
