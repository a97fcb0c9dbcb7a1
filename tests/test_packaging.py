"""The package list in pyproject.toml matches the tree, and a wheel ships no tests."""
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "benchmarks", "docs", "scripts", "out", "build", "dist", ".venv"}


def _packages_in_tree():
    found = {"ember"}
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        parts = rel.parts
        if not parts or parts[0] in NOT_SHIPPED or parts[0].startswith("."):
            continue
        if parts[:2] == ("plugins", "examples"):  # separate distributions of their own
            continue
        found.add(".".join(("ember",) + parts))
    return found


def test_pyproject_lists_every_package():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    tree = _packages_in_tree()
    assert tree - listed == set(), f"packages missing from pyproject.toml: {tree - listed}"
    assert listed - tree == set(), f"pyproject.toml lists packages that do not exist: " \
                                   f"{listed - tree}"
    assert not any(p.startswith("ember.tests") for p in listed)


def test_builtin_backends_are_entry_points():
    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["ember"]
    assert {"cpu", "opencl", "cuda"} <= set(eps)
