"""The public surface: drlim/__init__ names what users need, every module sets __all__."""

import importlib
import pkgutil
import subprocess
import sys

import drlim


def test_every_public_name_resolves_to_its_module_object():
    for name in drlim.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(drlim._PUBLIC[name])
        assert getattr(drlim, name) is getattr(module, name)
        assert name in module.__all__, f"{module.__name__}.__all__ lacks {name}"


def test_every_module_sets_all_and_lists_only_what_it_defines():
    for info in pkgutil.walk_packages(drlim.__path__, "drlim."):
        module = importlib.import_module(info.name)
        if info.name.startswith("drlim.experiments") or info.name.split(".")[-1][0] == "_":
            continue
        assert hasattr(module, "__all__"), f"{info.name} sets no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name}"
            assert not name.startswith("_"), f"{info.name}.__all__ exports {name}"


def test_import_drlim_loads_no_jax():
    code = "import drlim, sys; print('jax' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
