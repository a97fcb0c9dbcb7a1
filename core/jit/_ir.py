"""The recorded program: a flat list of op calls over numbered values, its optimisation passes,
its text renderings (``graph``, ``code``), its compilation to a Python function, and its
encoding as data for ``ember.jit.save``.

A value (``Var``) is a program input, a parameter or buffer of the module (read by name on
every call), a constant tensor, or an output of a node. A node calls one public ember op by its
qualified name (``"ember.nn.functional.linear"``, ``"Tensor.add_"``) with arguments that are
Python constants and ``Var``s, nested in tuples, lists, dicts and slices.
"""
from __future__ import annotations

import json
import keyword
import math

from ..dtypes import BY_NAME as _DTYPES, dtype as _dtype
from ..device import device as _device
from ..tensor import Size, Tensor

FORMAT = "ember.jit"
FORMAT_VERSION = 1


class Var:
    """A value of the program (printed ``%3``)."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i

    def __repr__(self) -> str:
        return f"%{self.i}"


class Node:
    """One op call: ``out = target(*args, **kwargs)``.

    ``out``: the result's structure with a ``Var`` for every tensor (None: nothing kept).
    ``mutates``: the call modified a tensor argument in place. ``random``: it drew from a random
    generator. ``aliases``: argument values its outputs share storage with (views, ``self``).
    ``no_grad``: the traced code ran it with gradient recording off.
    """

    __slots__ = ("target", "args", "kwargs", "out", "mutates", "random", "aliases", "no_grad")

    def __init__(self, target, args, kwargs, out, mutates=False, random=False, aliases=(),
                 no_grad=False):
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.out = out
        self.mutates = mutates
        self.random = random
        self.aliases = tuple(aliases)
        self.no_grad = no_grad

    @property
    def pure(self) -> bool:
        return not (self.mutates or self.random)

    def inputs(self) -> list:
        return _vars((self.args, self.kwargs))

    def outputs(self) -> list:
        return _vars(self.out)


class Graph:
    """The program. ``inputs``: one Var per tensor leaf of the call's arguments, in order;
    ``attrs``: Var index -> (``"param"`` or ``"buffer"``, dotted name); ``consts``: Var index ->
    tensor; ``meta``: Var index -> (shape, dtype name, device string) seen while recording."""

    def __init__(self) -> None:
        self.inputs: list[Var] = []
        self.attrs: dict[int, tuple[str, str]] = {}
        self.consts: dict[int, Tensor] = {}
        self.nodes: list[Node] = []
        self.output = None
        self.meta: dict[int, tuple] = {}
        self.count = 0

    def new_var(self, t=None) -> Var:
        v = Var(self.count)
        self.count += 1
        if t is not None:
            self.meta[v.i] = (tuple(t._data.shape), t._dtype.name, str(t._device))
        return v

    # ---- passes -----------------------------------------------------------------------------
    def has_random(self) -> bool:
        return any(n.random for n in self.nodes)

    def has_mutation(self) -> bool:
        return any(n.mutates for n in self.nodes)

    def _mutated_storage(self) -> set:
        """Values whose storage some node writes: written arguments and, through views, the
        values they alias."""
        written = set()
        for n in self.nodes:
            if n.mutates:
                written.update(v.i for v in n.inputs())
        alias_of = {}
        for n in self.nodes:
            for o in n.outputs():
                alias_of[o.i] = [a.i for a in n.aliases]
        stack = list(written)
        while stack:
            for a in alias_of.get(stack.pop(), ()):
                if a not in written:
                    written.add(a)
                    stack.append(a)
        return written

    def eliminate_dead_code(self) -> int:
        """Drop pure nodes none of whose outputs is used; returns how many were dropped."""
        used = {v.i for v in _vars(self.output)}
        kept = []
        for n in reversed(self.nodes):
            if n.pure and not any(o.i in used for o in n.outputs()):
                continue
            kept.append(n)
            used.update(v.i for v in n.inputs())
        dropped = len(self.nodes) - len(kept)
        self.nodes = kept[::-1]
        return dropped

    def eliminate_common_subexpressions(self) -> int:
        """Replace a pure node that repeats an earlier one (same op, same arguments) by the
        earlier one's outputs. A mutation ends every match (values may have changed), and a node
        whose outputs (or views of them) are written in place is never shared."""
        written = self._mutated_storage()
        seen: dict = {}
        rename: dict[int, Var] = {}
        kept = []
        for n in self.nodes:
            if rename:
                n.args, n.kwargs = _substitute((n.args, n.kwargs), rename)
                n.aliases = tuple(rename.get(a.i, a) for a in n.aliases)
            if n.mutates:
                seen.clear()
            key = None
            if n.pure and not any(o.i in written for o in n.outputs()):
                key = _key((n.target, n.args, n.kwargs, n.no_grad))
            if key is not None:
                first = seen.get(key)
                if first is not None and len(_vars(first.out)) == len(_vars(n.out)):
                    for a, b in zip(_vars(n.out), _vars(first.out)):
                        rename[a.i] = b
                    continue
                seen[key] = n
            kept.append(n)
        if rename:
            self.output = _substitute(self.output, rename)
        dropped = len(self.nodes) - len(kept)
        self.nodes = kept
        return dropped

    def fold_constants(self, run) -> int:
        """Evaluate pure nodes whose arguments are all constants (``run(node, values)`` computes
        one); their outputs become constants. Outputs that are written in place later are left
        alone (a folded constant must not change between calls), and so are the program's own
        outputs (a caller may write into what it gets back)."""
        written = self._mutated_storage() | {v.i for v in _vars(self.output)}
        folded = 0
        kept = []
        for n in self.nodes:
            ins = n.inputs()
            outs = n.outputs()
            if (n.pure and outs and all(v.i in self.consts for v in ins)
                    and not any(o.i in written for o in outs)):
                result = run(n, self.consts)
                for v, t in zip(outs, _leaves(n.out, result)):
                    self.consts[v.i] = t
                folded += 1
                continue
            kept.append(n)
        self.nodes = kept
        return folded

    def fold_conv_batchnorm(self, targets) -> int:
        """Fold an eval-mode ``batch_norm`` that follows a ``conv1d/2d/3d`` with constant
        weights into the convolution's weight and bias (torch's freeze does it too):
        ``W' = W * s``, ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``.
        Only where the convolution's output feeds nothing else; returns how many were folded."""
        import inspect
        from ..autograd import no_grad
        uses: dict[int, int] = {}
        for v in _vars(self.output):
            uses[v.i] = uses.get(v.i, 0) + 2
        for n in self.nodes:
            for v in n.inputs():
                uses[v.i] = uses.get(v.i, 0) + 1
        producer = {n.out.i: n for n in self.nodes if type(n.out) is Var}
        signatures: dict = {}

        def bound(n):
            sig = signatures.get(n.target)
            if sig is None:
                sig = signatures[n.target] = inspect.signature(targets[n.target])
            b = sig.bind(*n.args, **n.kwargs)
            b.apply_defaults()
            return b

        def const(x):
            return None if x is None else self.consts.get(x.i) if type(x) is Var else False

        folded = 0
        kept = []
        for n in self.nodes:
            conv = None
            if n.target == "ember.nn.functional.batch_norm" and n.pure and n.args:
                x = n.args[0]
                conv = producer.get(x.i) if type(x) is Var else None
            if (conv is None or conv.target not in _CONVS or uses.get(conv.out.i) != 1
                    or not conv.pure):
                kept.append(n)
                continue
            conv_call = bound(conv)
            bn, cv = bound(n).arguments, conv_call.arguments
            weight, bias = const(cv["weight"]), const(cv["bias"])
            stats = [const(bn[k]) for k in ("running_mean", "running_var", "weight", "bias")]
            if (bn["training"] or weight is None or weight is False or bias is False
                    or any(t is False for t in stats) or stats[0] is None or stats[1] is None):
                kept.append(n)
                continue
            mean, var, gamma, beta = stats
            with no_grad():
                scale = (var + bn["eps"]).rsqrt()
                if gamma is not None:
                    scale = scale * gamma
                shape = (-1,) + (1,) * (weight.dim() - 1)
                new_w = (weight * scale.reshape(shape)).to(weight.dtype)
                new_b = (-mean if bias is None else bias - mean) * scale
                if beta is not None:
                    new_b = new_b + beta
                new_b = new_b.to(weight.dtype)
            w_var, b_var = self.new_var(new_w), self.new_var(new_b)
            self.consts[w_var.i], self.consts[b_var.i] = new_w, new_b
            cv["weight"], cv["bias"] = w_var, b_var
            conv.args, conv.kwargs = tuple(conv_call.args), dict(conv_call.kwargs)
            conv.out = n.out  # the convolution now yields the normalised result
            folded += 1
        self.nodes = kept
        return folded

    def prune_values(self) -> None:
        """Forget constants and attributes that no node or output reads."""
        used = {v.i for v in _vars(self.output)}
        for n in self.nodes:
            used.update(v.i for v in n.inputs())
        self.consts = {k: t for k, t in self.consts.items() if k in used}
        self.attrs = {k: a for k, a in self.attrs.items() if k in used}

    # ---- renderings -------------------------------------------------------------------------
    def _type_str(self, i: int) -> str:
        m = self.meta.get(i)
        if m is None:
            return "Tensor"
        shape, dt, dev = m
        if not dev:  # a traced shape value (int, float)
            return dt
        return f"{dt}[{', '.join(map(str, shape))}]({dev})"

    def render_graph(self) -> str:
        """torch.jit-style IR text: inputs with their types, one line per node."""
        heads = [f"%{v.i} : {self._type_str(v.i)}" for v in self.inputs]
        heads += [f"%{k} : {self._type_str(k)} = self.{path}  # {kind}"
                  for k, (kind, path) in sorted(self.attrs.items())]
        heads += [f"%{k} : {self._type_str(k)}  # constant" for k in sorted(self.consts)]
        lines = ["graph(" + (",\n      ".join(heads)) + "):"]
        for n in self.nodes:
            outs = n.outputs()
            lhs = ", ".join(f"%{o.i} : {self._type_str(o.i)}" for o in outs)
            flags = [f for f, on in (("in-place", n.mutates), ("random", n.random),
                                     ("no_grad", n.no_grad)) if on]
            call = f"{n.target}({_fmt_args(n.args, n.kwargs, _show_var)})"
            note = f"  # {', '.join(flags)}" if flags else ""
            lines.append(f"  {lhs + ' = ' if lhs else ''}{call}{note}")
        lines.append(f"  return {_fmt(self.output, _show_var)}")
        return "\n".join(lines)

    def render_code(self) -> str:
        """A readable Python rendering of the program."""
        return _generate(self, readable=True)[0]

    def compile(self, owners=None, targets=None):
        """A Python function ``fn(*input_tensors)`` that runs the program. ``owners``: dotted
        module name -> module (parameters and buffers are read from it at each call);
        ``targets``: op name -> function."""
        src, names = _generate(self, readable=False)
        ns = {"_no_grad": _no_grad_cls()}
        for name, (kind, obj) in names.items():
            if kind == "target":
                ns[name] = targets[obj]
            elif kind == "owner":
                ns[name] = owners[obj]
            else:
                ns[name] = obj
        code = compile(src, "<ember.jit program>", "exec")
        exec(code, ns)  # the source is generated here from the checked program; see _generate
        return ns["_program"]

    # ---- encoding ---------------------------------------------------------------------------
    def encode(self):
        """(JSON text, constant tensors): the program as data, for ``ember.save``."""
        const_ids = sorted(self.consts)
        doc = {
            "inputs": [v.i for v in self.inputs],
            "attrs": [[k, kind, path] for k, (kind, path) in sorted(self.attrs.items())],
            "consts": const_ids,
            "nodes": [[n.target, _enc(n.args), _enc(n.kwargs), _enc(n.out),
                       [int(n.mutates), int(n.random), int(n.no_grad)],
                       [a.i for a in n.aliases]] for n in self.nodes],
            "output": _enc(self.output),
            "meta": [[k, list(s), d, dev] for k, (s, d, dev) in sorted(self.meta.items())],
            "count": self.count,
        }
        return json.dumps(doc, separators=(",", ":")), [self.consts[k] for k in const_ids]

    @classmethod
    def decode(cls, text, consts, targets, device_map=None) -> "Graph":
        """The inverse of ``encode``; every op name must be one of ``targets`` (nothing from the
        file is executed or imported). ``device_map(str) -> str`` moves device constants."""
        doc = json.loads(text)
        g = cls()
        g.count = int(doc["count"])
        g.inputs = [Var(int(i)) for i in doc["inputs"]]
        g.attrs = {int(k): (_check(kind, ("param", "buffer"), "attribute kind"), str(path))
                   for k, kind, path in doc["attrs"]}
        ids = [int(i) for i in doc["consts"]]
        if len(ids) != len(consts):
            raise ValueError("the number of constant tensors does not match the program")
        g.consts = dict(zip(ids, consts))
        dec = _Decoder(device_map)
        for target, args, kwargs, out, flags, aliases in doc["nodes"]:
            if target not in targets:
                raise ValueError(f"unknown op {target!r} in the program")
            kw = dec(kwargs)
            if not isinstance(kw, dict) or not all(_is_name(k) for k in kw):
                raise ValueError(f"bad keyword arguments for {target!r}")
            g.nodes.append(Node(target, dec(args), kw, dec(out), bool(flags[0]),
                                bool(flags[1]), [Var(int(a)) for a in aliases],
                                bool(flags[2])))
        g.output = dec(doc["output"])
        for k, s, d, dev in doc["meta"]:
            g.meta[int(k)] = (tuple(int(x) for x in s), str(d), str(dev))
        return g


# ---- trees ----------------------------------------------------------------------------------

def _vars(tree) -> list:
    out = []

    def walk(x):
        if type(x) is Var:
            out.append(x)
        elif isinstance(x, (tuple, list)):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)
        elif type(x) is slice:
            walk((x.start, x.stop, x.step))
    walk(tree)
    return out


def _substitute(tree, rename):
    if type(tree) is Var:
        return rename.get(tree.i, tree)
    if type(tree) in (tuple, list, Size):
        return type(tree)(_substitute(x, rename) for x in tree)
    if isinstance(tree, dict):
        return {k: _substitute(v, rename) for k, v in tree.items()}
    if type(tree) is slice:
        return slice(*_substitute((tree.start, tree.stop, tree.step), rename))
    return tree


def _leaves(spec, value) -> list:
    """The values of ``value`` at the Var positions of ``spec``."""
    out = []

    def walk(s, v):
        if type(s) is Var:
            out.append(v)
        elif isinstance(s, (tuple, list)):
            for i, x in enumerate(s):
                walk(x, v[i])
        elif isinstance(s, dict):
            for k, x in s.items():
                walk(x, v[k])
    walk(spec, value)
    return out


def _key(tree):
    """A hashable identity of a node's call, or None when an argument is not comparable."""
    if type(tree) is Var:
        return ("%", tree.i)
    if type(tree) in (int, bool, str, type(None), type(Ellipsis)):
        return (type(tree).__name__, tree)
    if type(tree) is float:
        return ("float", tree) if not math.isnan(tree) else None
    if isinstance(tree, (tuple, list)):
        parts = tuple(_key(x) for x in tree)
        return None if None in parts else (type(tree).__name__, parts)
    if isinstance(tree, dict):
        parts = tuple((k, _key(v)) for k, v in tree.items())
        return None if any(p[1] is None for p in parts) else ("dict", parts)
    if type(tree) is slice:
        return _key(("slice", tree.start, tree.stop, tree.step))
    if isinstance(tree, (_dtype, _device)):
        return (type(tree).__name__, str(tree))
    return None


def _check(value, allowed, what):
    if value not in allowed:
        raise ValueError(f"bad {what} {value!r}")
    return value


def _is_name(k) -> bool:
    return isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k)


# ---- text -----------------------------------------------------------------------------------

def _show_var(v) -> str:
    return f"%{v.i}"


def _fmt(x, show) -> str:
    if type(x) is Var:
        return show(x)
    if type(x) is tuple or type(x) is Size:
        inner = ", ".join(_fmt(y, show) for y in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if type(x) is list:
        return "[" + ", ".join(_fmt(y, show) for y in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_fmt(v, show)}" for k, v in x.items()) + "}"
    if type(x) is slice:
        return f"slice({_fmt(x.start, show)}, {_fmt(x.stop, show)}, {_fmt(x.step, show)})"
    if x is Ellipsis:
        return "..."
    if isinstance(x, _dtype):
        return f"ember.{x.name}"
    if isinstance(x, _device):
        return f"ember.device({str(x)!r})"
    if isinstance(x, (int, float, str, type(None))):
        return repr(x)
    text = getattr(x, "ir_text", None)  # (a fused step's description)
    return text() if text is not None else f"<{type(x).__name__}>"


def _fmt_args(args, kwargs, show) -> str:
    parts = [_fmt(a, show) for a in args] + [f"{k}={_fmt(v, show)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _no_grad_cls():
    from ..autograd import no_grad
    return no_grad


# ---- code generation ------------------------------------------------------------------------

def _generate(g: Graph, readable: bool):
    """Python source for the program and the names it uses: name -> (kind, object).

    Only names made here, integer/boolean/None/finite-float literals and ``Var`` names reach
    the source; every other constant (strings, dtypes, tensors ...) and every function is
    passed in the namespace, so a program read from a file cannot inject code."""
    names: dict[str, tuple] = {}
    by_obj: dict = {}

    def name_for(kind, obj, prefix):
        k = (kind, obj if kind in ("target", "owner") else id(obj))
        n = by_obj.get(k)
        if n is None:
            n = by_obj[k] = f"{prefix}{len(by_obj)}"
            names[n] = (kind, obj)
        return n

    def var(v):
        return f"v{v.i}"

    def lit(x):
        if type(x) is Var:
            return var(x)
        if type(x) in (bool, int) or x is None:
            return repr(x)
        if type(x) is float and math.isfinite(x):
            return repr(x)
        if type(x) is tuple:
            inner = ", ".join(lit(y) for y in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        if type(x) is list:
            return "[" + ", ".join(lit(y) for y in x) + "]"
        if type(x) is slice and _vars(x):
            return f"{name_for('const', slice, '_c')}({lit(x.start)}, {lit(x.stop)}, " \
                   f"{lit(x.step)})"
        if type(x) is dict and _vars(x):
            items = ", ".join(f"{name_for('const', k, '_c')}: {lit(v)}" for k, v in x.items())
            return "{" + items + "}"
        if readable:
            return _fmt(x, var)
        return name_for("const", x, "_c")

    def call(n: Node) -> str:
        t = n.target
        if readable:
            args = _fmt_args(n.args, n.kwargs, var)
            if t.startswith("Tensor.") and n.args:
                meth = t[len("Tensor."):]
                rest = _fmt_args(n.args[1:], n.kwargs, var)
                if meth == "__getitem__":
                    return f"{lit(n.args[0])}[{rest}]"
                return f"{lit(n.args[0])}.{meth}({rest})" if meth not in _PROPS else \
                    f"{lit(n.args[0])}.{meth}"
            return f"{t}({args})"
        f = name_for("target", t, "_f")
        parts = [lit(a) for a in n.args]
        for k, v in n.kwargs.items():
            if not _is_name(k):
                raise ValueError(f"bad keyword argument name {k!r}")
            parts.append(f"{k}={lit(v)}")
        return f"{f}({', '.join(parts)})"

    lines = []
    params = ", ".join(var(v) for v in g.inputs)
    head = f"def forward(self, {params}):" if readable else f"def _program({params}):"
    lines.append(head)
    for k, (kind, path) in sorted(g.attrs.items()):
        if readable:
            lines.append(f"    v{k} = {_attr_path(path)}")
            continue
        owner_path, _, leaf = path.rpartition(".")
        owner = name_for("owner", owner_path, "_m")
        store = "_parameters" if kind == "param" else "_buffers"
        lines.append(f"    v{k} = {owner}.{store}[{name_for('const', leaf, '_c')}]")
    for k, t in sorted(g.consts.items()):
        ref = f"CONSTANTS.c{k}" if readable else name_for("const", t, "_c")
        lines.append(f"    v{k} = {ref}")
    in_no_grad = False
    for n in g.nodes:
        if n.no_grad != in_no_grad:
            if n.no_grad:
                lines.append("    with ember.no_grad():" if readable else "    with _no_grad():")
            in_no_grad = n.no_grad
        ind = "        " if in_no_grad else "    "
        out = n.out
        rhs = call(n)
        if type(out) is Var:
            lines.append(f"{ind}{var(out)} = {rhs}")
        elif _vars(out):
            r = f"r{_vars(out)[0].i}"
            lines.append(f"{ind}{r} = {rhs}")
            for v, path in _paths(out):
                lines.append(f"{ind}{var(v)} = {r}{''.join(f'[{lit(p)}]' for p in path)}")
        else:
            lines.append(f"{ind}{rhs}")
    lines.append(f"    return {lit(g.output)}")
    return "\n".join(lines) + "\n", names


_PROPS = {"T", "mT", "H", "mH", "data", "real", "imag"}
_CONVS = {"ember.nn.functional.conv1d", "ember.nn.functional.conv2d",
          "ember.nn.functional.conv3d"}


def _attr_path(path: str) -> str:
    """``self.layer.weight``, with ``getattr(self, '0')`` for names that are not
    identifiers (torch's rendering)."""
    out = "self"
    for part in path.split("."):
        out = f"{out}.{part}" if _is_name(part) else f"getattr({out}, {part!r})"
    return out


def _paths(spec, prefix=()):
    if type(spec) is Var:
        yield spec, prefix
    elif isinstance(spec, (tuple, list)):
        for i, x in enumerate(spec):
            yield from _paths(x, prefix + (i,))
    elif isinstance(spec, dict):
        for k, x in spec.items():
            yield from _paths(x, prefix + (k,))


# ---- JSON encoding of argument trees ---------------------------------------------------------

def _enc(x):
    if type(x) is Var:
        return {"v": x.i}
    if x is None or type(x) in (bool, int, str):
        return x
    if type(x) is float:
        return x if math.isfinite(x) else {"f": x.hex()}
    if type(x) is tuple:
        return {"tuple": [_enc(y) for y in x]}
    if type(x) is Size:
        return {"size": [_enc(y) for y in x]}
    if type(x) is list:
        return [_enc(y) for y in x]
    if type(x) is dict:
        return {"dict": [[_enc(k), _enc(v)] for k, v in x.items()]}
    if type(x) is slice:
        return {"slice": [_enc(x.start), _enc(x.stop), _enc(x.step)]}
    if x is Ellipsis:
        return {"ellipsis": 1}
    if isinstance(x, _dtype):
        return {"dtype": x.name}
    if isinstance(x, _device):
        return {"device": str(x)}
    raise TypeError(f"ember.jit.save cannot store a program argument of type "
                    f"{type(x).__module__}.{type(x).__qualname__}: only tensors, numbers, "
                    "strings, None, slices, tuples, lists, dicts, dtypes and devices are saved")


class _Decoder:
    def __init__(self, device_map):
        self.device_map = device_map

    def __call__(self, x):
        if x is None or type(x) in (bool, int, str, float):
            return x
        if type(x) is list:
            return [self(y) for y in x]
        if type(x) is not dict or len(x) != 1:
            raise ValueError(f"bad program entry {x!r}")
        (tag, val), = x.items()
        if tag == "v":
            return Var(int(val))
        if tag == "f":
            return float.fromhex(val)
        if tag == "tuple":
            return tuple(self(y) for y in val)
        if tag == "size":
            return Size(self(y) for y in val)
        if tag == "dict":
            return {self(k): self(v) for k, v in val}
        if tag == "slice":
            return slice(*(self(y) for y in val))
        if tag == "ellipsis":
            return Ellipsis
        if tag == "dtype":
            return _DTYPES[_check(val, _DTYPES, "dtype")]
        if tag == "device":
            return _device(self.device_map(val) if self.device_map else val)
        raise ValueError(f"bad program entry tag {tag!r}")
