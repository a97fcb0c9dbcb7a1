"""Generate docs/torch-api-coverage.md: which public torch APIs Ember provides, from the code.

    python docs/gen_api_coverage.py            # rewrite the document (needs torch installed)
    python docs/gen_api_coverage.py --check    # exit 1 if the document is stale

For each namespace a PyTorch program reaches (torch, torch.Tensor, torch.nn, ...), every public
name of torch is looked up in the matching Ember namespace. Names Ember leaves out on purpose
are grouped with the reason (KNOWN_GAPS); everything else missing is listed as not yet covered.
"""
from __future__ import annotations

import argparse
import importlib
import pathlib
import re
import sys

OUT = pathlib.Path(__file__).with_name("torch-api-coverage.md")

NAMESPACES = [
    ("torch", "ember"),
    ("torch.Tensor", "ember.Tensor"),
    ("torch.nn", "ember.nn"),
    ("torch.nn.functional", "ember.nn.functional"),
    ("torch.nn.init", "ember.nn.init"),
    ("torch.nn.utils", "ember.nn.utils"),
    ("torch.optim", "ember.optim"),
    ("torch.optim.lr_scheduler", "ember.optim.lr_scheduler"),
    ("torch.autograd", "ember.autograd"),
    ("torch.utils.data", "ember.utils.data"),
    ("torch.linalg", "ember.linalg"),
    ("torch.cuda", "ember.cuda"),
    ("torch.testing", "ember.testing"),
    ("torch.func", "ember.func"),
    ("torch.jit", "ember.jit"),
    ("torch.special", "ember.special"),
    ("torch.fft", "ember.fft"),
    ("torch.autograd.functional", "ember.autograd.functional"),
    ("torch.backends.cuda", "ember.backends.cuda"),
    ("torch.profiler", "ember.profiler"),
    ("torch.autograd.profiler", "ember.autograd.profiler"),
    ("torch.multiprocessing", "ember.multiprocessing"),
    ("torch.distributed", "ember.distributed"),
    ("torch.nn.parallel", "ember.nn.parallel"),
    ("torch.sparse", "ember.sparse"),
]

# Whole families Ember knowingly does not provide, with the reason (regex on the name).
KNOWN_GAPS = [
    (r"complex|cfloat|cdouble|chalf|^conj|^angle$|^polar$|^view_as_real|^view_as_complex|"
     r"^real$|^imag$|^is_conj|^resolve_conj|^resolve_neg|^is_neg|^sgn",
     "complex: complex64/complex128 are covered; not ComplexHalf (chalf, complex32), nor lazy "
     "conjugate/negative views (conj computes the values)"),
    (r"sparse|^coo|^csr|^csc|^bsr|^bsc|to_dense|_nnz|^indices$|^values$|crow|ccol|row_indices|"
     r"col_indices", "sparse layouts beyond Ember's sparse COO tensors and basic 2-D CSR "
     "(ember.sparse: construction, conversion, sum, softmax, mm, autograd, sparse embedding "
     "gradients): CSC/BSR/BSC, batched or hybrid CSR, and the sparse-only long tail"),
    (r"quant|^q_|qint|quint|^int_repr$|dequantize|fake_quant|per_channel|per_tensor|"
     r"^fbgemm|^channel_shuffle$", "quantization: not in scope"),
    (r"^float8|^float4|^uint16$|^uint32$|^uint64$|^int1$|^int2$|^int3$|^int4$|^int5$|^int6$|"
     r"^int7$|^uint[1-7]$|^bits|^complex32$|float8_e",
     "dtypes Ember does not have (fp8, sub-byte, wide unsigned)"),
    (r"^nested|^is_nested|^jagged", "nested tensors: not in scope"),
    (r"^named|^refine_names|^rename|^align_|^names$|^unflatten_dense", "named tensors"),
    (r"mkldnn|mkl|cudnn|miopen|^vulkan|^mps|^xpu|^hpu|^ipu|^mtia|^xla|^lazy|^meta$|"
     r"^is_meta|^is_mkldnn|^is_vulkan|^is_xpu|^is_ipu|^is_hpu|^is_mps|^is_mtia|^is_maia|"
     r"^maia|^privateuse|^to_mkldnn|^nnpack|^xnnpack|^backends$",
     "vendor-specific backends: Ember's backends are plugins (cpu, opencl, cuda)"),
    (r"^fx$|^export|^compile$|^compiler|^_dynamo|^jit$|^onnx|^package$|^hub$|^library$|"
     r"^overrides$|^func$|^vmap$|^cond$|^while_loop|^fork$|^wait$|^futures|^distributed|"
     r"^multiprocessing|^profiler|^monitor|^masked$|^ao$|^signal$|^special$|^sym|^Sym|"
     r"^utils$|^return_types$|^storage$|^types$|^version$|^serialization$|^testing$|^nn$|"
     r"^optim$|^autograd$|^linalg$|^fft$|^cuda$|^cpu$|^random$|^hub$|^amp$|^accelerator$|"
     r"^xpu$|^mtia$|^contrib$|^inductor|^functional$|^device_mesh|^Storage|Storage$|"
     r"^TypedStorage|^UntypedStorage|^storage|^untyped_storage|^_|^set_flush_denormal|"
     r"^set_warn_always|^is_warn_always|^get_device_module|^classes$|^ops$|^torch_version|"
     r"^overrides", "tooling, compiler stacks and submodules (submodules are listed on their "
     "own)"),
    (r"fft", "signal processing"),
    (r"^pin_memory$|^is_pinned$|^share_memory_|^is_shared$|^record_stream$|^set_$|"
     r"^storage_offset$|^untyped|^data_ptr$|^_|^is_set_to$|^resize_as_$|^resize_$|"
     r"^dim_order$|^module_load$|^new$", "storage-level APIs (Ember has no storage objects)"),
    (r"Stream|Event|graph|Graph|^caching_allocator|^memory_|^ipc|^nvtx|^jiterator|^tunable|"
     r"^sanitizer|^gds|^cudart|^comm|^nccl|^profiler|^green_contexts|^host_memory",
     "CUDA runtime internals beyond torch.cuda's common functions"),
]


def _public(obj):
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def _resolve(path):
    mod, _, attr = path.partition(".Tensor") if path.endswith(".Tensor") else (path, "", "")
    if path.endswith(".Tensor"):
        return getattr(importlib.import_module(mod), "Tensor")
    return importlib.import_module(path)


def _gap_reason(name, obj=None):
    mod = getattr(obj, "__module__", None) or ""
    if mod.split(".")[0] in {"typing", "typing_extensions", "functools", "collections", "abc",
                             "builtins", "warnings", "weakref", "enum", "dataclasses"} or (
            name.isupper() and not callable(obj)):
        return "Python typing/stdlib names and constants that torch modules re-export"
    if isinstance(obj, type) and (mod.startswith("torch._C") or mod.startswith("torch.jit")):
        return "TorchScript, dispatcher and C++ binding internals"
    for pattern, reason in KNOWN_GAPS:
        if re.search(pattern, name):
            return reason
    return None


def build() -> str:
    import ember  # noqa: F401
    import torch  # noqa: F401
    lines = ["# Torch API coverage", "",
             "Generated by `python docs/gen_api_coverage.py` from the code of Ember and of "
             "torch " + torch.__version__.split("+")[0] + " (a test checks it is current). For "
             "each namespace a PyTorch program reaches: the public torch names Ember provides, "
             "the ones it knowingly leaves out (with the reason), and the ones not covered yet.",
             "", "| namespace | torch names | covered | knowingly not | not yet |",
             "|---|---:|---:|---:|---:|"]
    sections = []
    for tname, ename in NAMESPACES:
        tobj, eobj = _resolve(tname), _resolve(ename)
        names = [n for n in _public(tobj) if not (isinstance(getattr(tobj, n, None), type(torch))
                                                   and n not in dir(eobj))]
        covered, known, missing = [], {}, []
        for n in names:
            if hasattr(eobj, n):
                covered.append(n)
            else:
                reason = _gap_reason(n, getattr(tobj, n, None))
                if reason:
                    known.setdefault(reason, []).append(n)
                else:
                    missing.append(n)
        n_known = sum(len(v) for v in known.values())
        lines.append(f"| `{tname}` | {len(names)} | {len(covered)} | {n_known} | "
                     f"{len(missing)} |")
        sec = [f"## `{tname}`", "", f"**Covered ({len(covered)}):** " +
               ", ".join(f"`{n}`" for n in covered), ""]
        for reason, ns in sorted(known.items()):
            sec.append(f"**Knowingly not: {reason} ({len(ns)}):** " +
                       ", ".join(f"`{n}`" for n in ns))
            sec.append("")
        sec.append(f"**Not covered yet ({len(missing)}):** " +
                   (", ".join(f"`{n}`" for n in missing) or "none"))
        sec.append("")
        sections.append("\n".join(sec))
    return "\n".join(lines) + "\n\n" + "\n".join(sections)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    text = build()
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is stale: run python docs/gen_api_coverage.py", file=sys.stderr)
            sys.exit(1)
        print(f"{OUT} is current")
        return
    OUT.write_text(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
