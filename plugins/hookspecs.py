"""The hooks an Ember plugin implements. Each is documented here, once; the functions are empty.

A plugin is a module (found through an entry point in the group ``ember``) with functions
decorated by ``ember.plugins.hookimpl`` and named like the specs below. Built-in backends use the
same hooks as third-party ones.

Example, the whole plugin module of a backend::

    from ember.plugins import hookimpl, BackendSpec

    @hookimpl
    def ember_register_backends():
        return [BackendSpec(name="mydev", load=_load)]
"""
import pluggy

hookspec = pluggy.HookspecMarker("ember")
hookimpl = pluggy.HookimplMarker("ember")


@hookspec
def ember_register_backends():
    """Called once, when Ember first needs its list of backends (the first tensor, or
    ``ember.backends.available()``).

    :return: a list of ``ember.plugins.BackendSpec``. Each spec's ``load`` is called lazily, when
        its device is first used; it may import heavy device libraries. A name already taken by
        another plugin is refused with a message naming both plugins.
    """


@hookspec
def ember_register_kernels():
    """Called once, after all backends are registered; lets a plugin add kernels to an existing
    backend: a fused kernel for a composite op (used instead of its decomposition), or a faster
    kernel for a primitive.

    :return: a list of ``ember.plugins.KernelSpec``. A kernel for an op the op table does not know
        is refused with a message naming the plugin and the op; a kernel for a backend that is not
        installed is ignored with a note.
    """
