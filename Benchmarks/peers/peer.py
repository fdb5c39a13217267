#!/usr/bin/env python3
"""Runs one peer implementation on one exported workload and prints one JSON line.

    peer.py --peer numpy|torch|jax --data DIR

DIR is a workload written by common.export (run_bench.py does that): its workload.json names the
layer (rnn, lstm or indrnn), the shapes and the warm-up / timed window counts. The module run is
<peer>_<layer>.py beside this file (numpy_rnn, torch_rnn, jax_rnn, numpy_lstm, torch_lstm,
torch_indrnn, jax_indrnn); an online workload (workload.json has "algorithm": rtrl, snap1, uoro,
rflo or kf-rtrl) runs <peer>_online.py
instead (numpy_online, torch_online and jax_online, rnn layer only), with the algorithm and
"rflo_decay" (absent: the module's default). The JSON line's `algorithm` is the
workload's ("bptt" for the windowed ones).

Thread limits are set here, before numpy, torch or jax is imported, since their thread pools
read them when they load: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS,
BLIS_NUM_THREADS = 1; for jax also JAX_PLATFORMS=cpu and XLA_FLAGS +=
"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" (one intra-op thread).
(torch calls set_num_threads(1) in its module.) A trainer with compile() (jax_online) is compiled
before the warm-up and reports compile_seconds (common.time_training).
The JSON line's `kernel` names the BLAS kernel set the process loaded (threadpoolctl), see kernel().

Exit status: 0 with a JSON line; 4 when the peer's framework is not installed or it has no
implementation of the layer (run_bench.py leaves that peer out); anything else is a failure.
"""

import argparse
import importlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MISSING = 4


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer", required=True, choices=["numpy", "torch", "jax"])
    ap.add_argument("--data", required=True, help="directory written by common.export")
    args = ap.parse_args()

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = "1"
    if args.peer == "jax":
        os.environ["JAX_PLATFORMS"] = "cpu"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()

    sys.path.insert(0, HERE)
    import common

    meta, x, y, weights = common.load(args.data)
    algorithm = meta.get("algorithm")
    module_name = f"{args.peer}_{meta['layer'] if algorithm is None else 'online'}"
    what = f"the {meta['layer']} layer" + ("" if algorithm is None else f" with {algorithm}")
    if not os.path.exists(os.path.join(HERE, module_name + ".py")):
        print(f"no {args.peer} implementation of {what}", file=sys.stderr)
        sys.exit(MISSING)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        print(f"{args.peer} is not installed: {e}", file=sys.stderr)
        sys.exit(MISSING)

    if algorithm is None:
        trainer = module.Trainer(weights, x, y, meta["K"])
    else:
        if meta["layer"] not in module.LAYERS or algorithm not in module.ALGORITHMS:
            print(f"no {args.peer} implementation of {what}", file=sys.stderr)
            sys.exit(MISSING)
        trainer = module.Trainer(weights, x, y, meta["K"], algorithm, meta.get("rflo_decay"))
    out = {"framework": args.peer, "layer": meta["layer"], "algorithm": algorithm or "bptt",
           "workload": meta["name"], "windows": meta["windows"], "warmup": meta["warmup"], "threads": 1,
           "dtype": "float32", "version": getattr(trainer, "version", module.Trainer.version)}
    out.update(common.time_training(trainer, meta["B"], meta["K"], meta["warmup"], meta["windows"]))
    out["kernel"] = kernel(args.peer)
    print(json.dumps(out), flush=True)


def kernel(peer):
    """The matrix-product kernels this process used, as the process itself sees them (after
    training, so every library is loaded). numpy: its BLAS through threadpoolctl (the wheel's
    OpenBLAS names its kernel set, e.g. SkylakeX; `threadpoolctl missing` when it is not
    installed). PyTorch: ATen's CPU capability, oneDNN and MKL, plus any BLAS of its own that
    threadpoolctl finds. JAX: XLA:CPU (its own Eigen-based kernels). numpy's OpenBLAS is loaded in
    every peer (the data are numpy arrays) but computes only in the numpy peer."""
    libs = None
    try:
        import threadpoolctl
        libs = [lib for lib in threadpoolctl.threadpool_info() if lib.get("user_api") == "blas"]
    except ImportError:
        pass

    def describe(lib):
        arch = lib.get("architecture")
        return (f"{lib.get('internal_api')} {lib.get('version')}" + (f" core {arch}" if arch else "")
                + f", {lib.get('num_threads')} thread(s)")

    if peer == "numpy":
        if libs is None:
            return "threadpoolctl missing: numpy's BLAS kernel not checked"
        return "; ".join(describe(lib) for lib in libs if "numpy" in lib.get("filepath", "")) or "no BLAS found"
    if peer == "torch":
        import torch
        cap = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "?"
        parts = [f"ATen CPU {cap}", f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}",
                 f"MKL {'on' if torch.backends.mkl.is_available() else 'off'}"]
        parts += [describe(lib) for lib in libs or [] if "torch" in lib.get("filepath", "")]
        return ", ".join(parts)
    import jax
    import jaxlib
    return f"XLA:CPU ({jax.devices()[0].platform}, jaxlib {jaxlib.__version__})"


if __name__ == "__main__":
    main()
