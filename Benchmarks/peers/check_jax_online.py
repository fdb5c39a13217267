#!/usr/bin/env python3
"""Checks jax_online.py (the JAX peer of the online algorithms) against numpy_online.py; exits 1 on
any failure, 0 (with a note) when jax is not installed.

    python3 Benchmarks/peers/check_jax_online.py

numpy_online.py is itself checked against the independent float64 reference
(Tests/Reference/online_reference.py) by check_numpy_online.py. For rtrl, snap1, uoro, rflo
(lambda 0.5 and 0) and kf-rtrl, in both lane modes (batched and vmap), on the "small" workload's
shapes, data and initial weights (uoro and kf-rtrl with rnn-exp's noise, numpy_online.uoro_noise):
1. float64 (jax_enable_x64): the JAX scan, called as the benchmark calls it (one call of 1 window,
   then one of 2), against the float64 numpy Trainer step by step: every step's loss and the final
   weights' change from the initial ones, relative difference <= 1e-10 (the same equations).
2. float32 (what the benchmark times): every step's loss over 5 windows within 1e-4 (relative) of
   the float64 numpy Trainer's, and every array of the carried state float32.
3. The benchmark's path: the "small" online workload exported (common.export, 2 warm-up + 10 timed
   windows) and run by peer.py --peer jax and --peer numpy in subprocesses, as run_bench.py does:
   final losses within 1e-5 (relative); compile_seconds reported.
Non-vacuity: the algorithms' final losses differ from each other by more than the tolerance.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer.py")
sys.path.insert(0, HERE)

ALGORITHMS = ("rtrl", "snap1", "uoro", "rflo", "kf-rtrl")
TOL64, TOL32, TOL_PEER = 1e-10, 1e-4, 1e-5
failures = []


def report(name, ok, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok:
        failures.append(name)


def run_peer(peer, data):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, PEER, "--peer", peer, "--data", data], capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"peer.py --peer {peer} --data {data} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    if importlib.util.find_spec("jax") is None:
        print("jax is not installed: jax_online.py not checked")
        sys.exit(0)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np

    import common
    import jax_online
    import numpy_online

    I, H, C, B, K = common.SHAPES["small"]
    windows = 5
    x, y = common.stream_data(I, C, B, windows * K)
    w = common.initial_weights("rnn", I, H, C)
    Wc0 = np.concatenate([w["layers.0.W_s"], w["layers.0.W_t"], w["layers.0.b"][:, None]], axis=1).astype(np.float64)
    Wo0 = np.concatenate([w["layers.1.W_s"], w["layers.1.b"][:, None]], axis=1).astype(np.float64)
    cases = [(a, None) for a in ALGORITHMS] + [("rflo", 0.0)]
    for alg, decay in cases:
        ref = numpy_online.Trainer(w, x, y, K, alg, decay, dtype=np.float64)
        for i in range(windows):
            ref.train(i, 1)
        losses64 = ref.losses(0, windows * K)
        for mode in jax_online.MODES:
            name = f"{alg}{'' if decay is None else f' (lambda {decay})'} {mode}"
            t = jax_online.Trainer(w, x, y, K, alg, decay, dtype=np.float64, mode=mode)
            got = []
            for first, count in ((0, 1), (1, 2)):
                t.train(first, count)
                got.append(np.asarray(t.last_losses))
            got = np.concatenate(got)
            dl = np.max(np.abs(got - losses64[:3 * K]) / np.abs(losses64[:3 * K]))
            mid = numpy_online.Trainer(w, x, y, K, alg, decay, dtype=np.float64)
            for i in range(3):
                mid.train(i, 1)
            Wc, Wo = t.params()
            dw = max(np.linalg.norm(Wc - mid.Wc) / np.linalg.norm(mid.Wc - Wc0),
                     np.linalg.norm(Wo - mid.Wo) / np.linalg.norm(mid.Wo - Wo0))
            report(f"{name} float64 vs numpy float64", dl <= TOL64 and dw <= TOL64,
                   f"{3 * K} steps, max rel. step-loss diff {dl:.1e}, rel. diff of the weights' change {dw:.1e}")
            t32 = jax_online.Trainer(w, x, y, K, alg, decay, mode=mode)
            t32.train(0, windows)
            l32 = np.asarray(t32.last_losses, dtype=np.float64)
            d32 = np.max(np.abs(l32 - losses64) / np.abs(losses64))
            leaves = jax.tree_util.tree_leaves((t32.Wc, t32.Wo, t32.h, t32.state))
            wrong = sorted({str(v.dtype) for v in leaves if v.dtype != np.float32})
            report(f"{name} float32 vs numpy float64", d32 <= TOL32 and not wrong,
                   f"{windows * K} steps, max rel. step-loss diff {d32:.1e}" + (f"; not float32: {wrong}" if wrong else ""))

    losses = {}
    with tempfile.TemporaryDirectory() as tmp:
        for alg in ALGORITHMS:
            data = os.path.join(tmp, alg)
            common.export(data, "small", "rnn", 2, 10, algorithm=alg, rflo_decay=0.5 if alg == "rflo" else None)
            r = {peer: run_peer(peer, data) for peer in ("numpy", "jax")}
            ln, lj = r["numpy"]["final_loss"], r["jax"]["final_loss"]
            rel = abs(lj - ln) / abs(ln)
            losses[alg] = ln
            report(f"{alg} through peer.py", rel <= TOL_PEER and r["jax"]["algorithm"] == alg
                   and r["jax"]["version"].startswith("jax"),
                   f"final loss numpy {ln:.9f}, jax {lj:.9f}, rel. diff {rel:.1e} ({r['jax']['version']}, "
                   f"compiled in {r['jax'].get('compile_seconds')} s, not timed)")
    spread = min(abs(losses[a] - losses[b]) / abs(losses[a])
                 for i, a in enumerate(ALGORITHMS) for b in ALGORITHMS[i + 1:])
    report("non-vacuity", spread > 10 * TOL_PEER, f"min rel. diff between the algorithms' losses {spread:.1e}")
    print("all checks passed" if not failures else f"{len(failures)} check(s) FAILED: {', '.join(failures)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
