"""Run an ordinary PyTorch program under Ember: ``python _run_as_ember.py PROGRAM [--device NAME]``.

An import hook maps ``torch`` and every ``torch.X.Y`` to ``ember`` / ``ember.X.Y`` (the very same
module objects, so ``sys.modules["torch.nn"] is sys.modules["ember.nn"]``), the default device is
set when ``--device`` is given, and the program runs as ``__main__`` with runpy.

``python _run_as_ember.py --list-devices`` prints the names ``ember.backends.available()`` reports,
one a line (the test module uses it to parametrise over devices without importing ember itself).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def import_ember():
    """Import ember: installed, or (no install yet) straight from this checkout, whose root is
    the package (pyproject's package-dir {"ember" = "."})."""
    try:
        return importlib.import_module("ember")
    except ModuleNotFoundError as exc:
        if exc.name != "ember" or not os.path.exists(os.path.join(_REPO_ROOT, "__init__.py")):
            raise
    spec = importlib.util.spec_from_file_location(
        "ember", os.path.join(_REPO_ROOT, "__init__.py"), submodule_search_locations=[_REPO_ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules["ember"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["ember"]
        raise
    return module


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        # The module object *is* ember's; the import system binds it under the torch name.
        module = importlib.import_module(self.target)
        self._ember_spec = module.__spec__
        return module

    def exec_module(self, module):
        # Already executed when ember imported it. The import system has just set __spec__ to
        # the torch-named alias spec; give the module its own spec back so that ember's relative
        # imports and importlib.reload keep working.
        module.__spec__ = self._ember_spec


class TorchToEmberFinder(importlib.abc.MetaPathFinder):
    """Maps ``torch`` / ``torch.X.Y`` to ``ember`` / ``ember.X.Y``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        target_name = "ember" + fullname[len("torch"):]
        try:
            real = importlib.util.find_spec(target_name)
        except ModuleNotFoundError:
            real = None
        if real is None:
            return None  # "No module named 'torch.X'": ember lacks ember.X
        spec = importlib.util.spec_from_loader(fullname, _AliasLoader(target_name),
                                               is_package=real.submodule_search_locations is not None)
        return spec


def install_hook() -> None:
    for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, TorchToEmberFinder())


def _device_names(ember) -> list[str]:
    names = []
    for d in ember.backends.available():
        names.append(d if isinstance(d, str) else getattr(d, "name", str(d)))
    return names


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program", nargs="?")
    parser.add_argument("--device", default=None)
    parser.add_argument("--list-devices", action="store_true")
    args = parser.parse_args(argv)
    ember = import_ember()
    if args.list_devices:
        print("\n".join(_device_names(ember)))
        return
    if not args.program:
        parser.error("PROGRAM is required")
    install_hook()
    if args.device:
        ember.set_default_device(args.device)
    program = os.path.abspath(args.program)
    sys.argv = [program]
    sys.path[0] = os.path.dirname(program)
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
