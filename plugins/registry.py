"""Discovery and loading of backend plugins (pluggy, entry-point group ``ember``).

Everything here runs once, at registration; the hot path only sees ``device.backend.kernels``.
A plugin that fails to import, declares another plugin-API version, or fails to start is
recorded with its cause, never fatal to ``import ember``.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
import warnings

import pluggy

from . import hookspecs
from .api import NO_FALLBACK, PLUGIN_API_VERSION, PRIMITIVES, Backend, BackendSpec, KernelSpec

GROUP = "ember"
# When Ember runs from a source tree without installed metadata, these are its own plugins.
_BUILTIN = {"cpu": "ember.backends.cpu", "opencl": "ember.backends.opencl",
            "cuda": "ember.backends.cuda"}

_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_specs: dict[str, tuple[BackendSpec, str]] = {}   # name -> (spec, plugin that gave it)
_loaded: dict[str, Backend] = {}
_failed: dict[str, str] = {}                      # backend name or plugin -> why
_notes: list[str] = []                            # non-fatal messages (ignored kernels ...)
_extra_kernels: list[tuple[KernelSpec, str]] = []
fallback_counts: dict[str, dict[str, int]] = {}
_warned_fallback: set = set()


class PluginError(RuntimeError):
    """A plugin could not be registered or loaded."""


def _known_ops() -> set[str]:
    from ..core.ops import registry as ops
    return set(PRIMITIVES) | set(ops.COMPOSITES)


def _check_api(version, who: str):
    if not isinstance(version, int) or version != PLUGIN_API_VERSION:
        raise PluginError(f"{who} targets ember plugin API version {version!r}, but this ember "
                          f"provides version {PLUGIN_API_VERSION}; upgrade the plugin or ember")


def _discover():
    global _manager
    pm = pluggy.PluginManager("ember")
    pm.add_hookspecs(hookspecs)
    entries = {}
    try:
        for ep in importlib.metadata.entry_points(group=GROUP):
            entries.setdefault(ep.name, ep.value)
    except Exception as e:  # broken metadata of an unrelated package must not stop ember
        _notes.append(f"reading entry points failed: {e}")
    for name, module in _BUILTIN.items():
        entries.setdefault(name, module)
    for name, module in sorted(entries.items()):
        try:
            mod = importlib.import_module(module)
            api = getattr(mod, "EMBER_PLUGIN_API", PLUGIN_API_VERSION)
            _check_api(api, f"plugin {name!r} ({module})")
            pm.register(mod, name=name)
        except PluginError as e:
            _failed[name] = str(e)
        except Exception as e:
            _failed[name] = f"plugin {name!r} ({module}) failed to load: {type(e).__name__}: {e}"
    for impl in pm.hook.ember_register_backends.get_hookimpls():
        who = impl.plugin_name
        try:
            specs = impl.function() or []
        except Exception as e:
            _failed[who] = f"plugin {who!r}: ember_register_backends raised {type(e).__name__}: {e}"
            continue
        for spec in specs:
            try:
                if not isinstance(spec, BackendSpec):
                    raise PluginError(f"plugin {who!r} returned {spec!r}, not a BackendSpec")
                _check_api(spec.api_version, f"backend {spec.name!r} of plugin {who!r}")
                if spec.name in _specs:
                    raise PluginError(f"backend name {spec.name!r} of plugin {who!r} is already "
                                      f"registered by plugin {_specs[spec.name][1]!r}")
                _specs[spec.name] = (spec, who)
                _failed.pop(spec.name, None)
            except PluginError as e:
                _failed[getattr(spec, "name", who)] = str(e)
    known = None
    for impl in pm.hook.ember_register_kernels.get_hookimpls():
        who = impl.plugin_name
        try:
            specs = impl.function() or []
        except Exception as e:
            _failed[f"{who} (kernels)"] = (f"plugin {who!r}: ember_register_kernels raised "
                                           f"{type(e).__name__}: {e}")
            continue
        for ks in specs:  # one bad spec does not drop the plugin's other kernels
            try:
                known = known or _known_ops()
                if not isinstance(ks, KernelSpec):
                    raise PluginError(f"plugin {who!r} returned {ks!r}, not a KernelSpec")
                _check_api(ks.api_version, f"kernel {ks.op!r} of plugin {who!r}")
                if ks.op not in known and not ks.op.startswith("linalg_"):
                    raise PluginError(f"plugin {who!r} registers a kernel for op {ks.op!r}, "
                                      f"which the ember op table does not define")
                if ks.backend not in _specs:
                    _notes.append(f"plugin {who!r}: kernel {ks.op!r} for backend "
                                  f"{ks.backend!r}, which is not installed; ignored")
                    continue
                _extra_kernels.append((ks, who))
            except PluginError as e:
                _failed[f"{who} (kernels)"] = str(e)
    _manager = pm


def _ensure():
    if _manager is None:
        with _lock:
            if _manager is None:
                _discover()


def _load(name: str) -> Backend:
    spec, who = _specs[name]
    try:
        b = spec.load()
        if not isinstance(b, Backend):
            raise PluginError(f"load() returned {type(b).__name__}, not an ember Backend")
        _check_api(b.api_version, f"backend {name!r}")
        if b.device_count() < 1:
            raise PluginError("no device found")
    except Exception as e:
        raise PluginError(f"{type(e).__name__}: {e}") from e
    for ks, kwho in _extra_kernels:
        if ks.backend == name:
            b.kernels[ks.op] = ks.kernel
    _install_fallbacks(b)
    return b


def backend(name: str) -> Backend:
    """The loaded backend called ``name``; loads it on first use, with a clear error when it
    is unknown, failed, or has no device."""
    b = _loaded.get(name)
    if b is not None:
        return b
    _ensure()
    with _lock:
        b = _loaded.get(name)
        if b is not None:
            return b
        if name in _specs and name not in _failed:
            try:
                b = _load(name)
            except PluginError as e:
                _failed[name] = str(e)
            else:
                _loaded[name] = b
                return b
        if name in _failed:
            raise RuntimeError(f"ember backend {name!r} is installed but failed to load: "
                               f"{_failed[name]}")
        raise RuntimeError(f"unknown device type {name!r}; available: {available()}"
                           + _why_missing())


def _why_missing() -> str:
    if not _failed:
        return ""
    return "; unavailable: " + "; ".join(f"{k}: {v}" for k, v in sorted(_failed.items()))


def available() -> list[str]:
    """Names of the backends that load and have at least one device.

    >>> "cpu" in ember.backends.available()
    True
    """
    _ensure()
    names = []
    for name in list(_specs):
        try:
            backend(name)
        except RuntimeError:
            continue
        names.append(name)
    return sorted(names, key=lambda n: (n != "cpu", n))


def failures() -> dict[str, str]:
    """Plugins or backends that could not load, with the cause."""
    available()
    return dict(_failed)


def notes() -> list[str]:
    return list(_notes)


def registered() -> dict[str, str]:
    """Backend name -> plugin that registered it (loaded or not)."""
    _ensure()
    return {n: who for n, (_, who) in _specs.items()}


def default_index(name: str) -> int:
    b = backend(name)
    return int(getattr(b, "default_index", 0))


def capabilities(name: str) -> dict:
    """What a backend claims: its dtypes and the ops it has kernels for (the rest fall back to
    cpu, or are unsupported where fallback is not allowed)."""
    b = backend(name)
    native = sorted(k for k, v in b.kernels.items() if not getattr(v, "_ember_fallback", False))
    missing = sorted(k for k in PRIMITIVES if k not in native)
    return {"name": b.name, "version": b.version, "devices": b.device_names(),
            "dtypes": sorted(b.dtypes, key=lambda n: n), "ops": native, "missing": missing,
            "flushes_subnormals": b.flushes_subnormals}


def fallback_count(name: str) -> dict[str, int]:
    """Per-op count of calls on backend ``name`` that ran on cpu instead."""
    return dict(fallback_counts.get(name, {}))


def _fallback_policy() -> str:
    return os.environ.get("EMBER_FALLBACK", "warn")


def _install_fallbacks(b: Backend) -> None:
    """Fill every primitive the backend lacks with a cpu-fallback wrapper (or an error for the
    ones that may not fall back), so the hot path is a plain dict lookup."""
    if b.name == "cpu":
        return
    for op in PRIMITIVES:
        if op not in b.kernels:
            b.kernels[op] = _make_fallback(b, op)


def fallback_kernel(b: Backend, op: str):
    """A cpu-fallback kernel for an optional (non-primitive) op the backend lacks; created once
    and kept in the backend's table. NotImplementedError when cpu lacks it too."""
    k = b.kernels.get(op)
    if k is None:
        if op not in backend("cpu").kernels:
            raise NotImplementedError(f"no backend implements {op!r}")
        k = b.kernels[op] = _make_fallback(b, op)
    return k


def _make_fallback(b: Backend, op: str):
    def fallback(*args, **kwargs):
        policy = _fallback_policy()
        if op in NO_FALLBACK or policy == "error":
            why = ("views, in-place writes and RNG never fall back" if op in NO_FALLBACK
                   else "EMBER_FALLBACK=error")
            raise NotImplementedError(f"the {b.name} backend has no kernel for {op!r} and it may "
                                      f"not fall back to cpu ({why})")
        counts = fallback_counts.setdefault(b.name, {})
        counts[op] = counts.get(op, 0) + 1
        if policy == "warn" and (b.name, op) not in _warned_fallback:
            _warned_fallback.add((b.name, op))
            warnings.warn(f"ember: {op!r} has no {b.name} kernel; running it on cpu "
                          f"(set EMBER_FALLBACK=error to forbid, =silent to hide)", stacklevel=3)
        cpu = backend("cpu")
        index = _index_of(b, args)
        host = [_to_host(b, a) for a in args]
        out = cpu.kernels[op](*host, **kwargs)
        return _to_device(b, out, index)
    fallback._ember_fallback = True
    return fallback


def _index_of(b, args):
    for a in args:
        if hasattr(a, "shape") and hasattr(b, "index_of"):
            return b.index_of(a)
    return 0


def _to_host(b, a):
    import numpy as np
    if isinstance(a, (list, tuple)):
        return type(a)(_to_host(b, x) for x in a)
    if hasattr(a, "shape") and not isinstance(a, np.ndarray):
        return b.to_numpy(a)
    return a


def _to_device(b, out, index):
    if isinstance(out, tuple):
        return tuple(_to_device(b, o, index) for o in out)
    if out is None:
        return None
    return b.from_numpy(out, index)
