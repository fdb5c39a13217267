#!/usr/bin/env python3
"""Checks torch_online.py (the PyTorch peer of the online algorithms) against numpy_online.py;
exits 1 on any failure, 0 (with a note) when torch is not installed.

    python3 Benchmarks/peers/check_torch_online.py

For rtrl, snap1, uoro, rflo (lambda 0.5) and kf-rtrl: exports the "small" rnn workload as an online
workload (common.export, 2 warm-up + 10 timed windows of K steps), runs both peers on it through
peer.py as run_bench.py does (a subprocess each, OPENBLAS_NUM_THREADS / OMP_NUM_THREADS = 1) and
requires their final losses to agree within 1e-5 (relative). numpy_online.py itself is checked
against the float64 reference by check_numpy_online.py. Non-vacuity: the algorithms' final
losses differ from each other by more than the tolerance.
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

import common  # noqa: E402

ALGORITHMS = ("rtrl", "snap1", "uoro", "rflo", "kf-rtrl")
TOL = 1e-5


def run_peer(peer, data):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, PEER, "--peer", peer, "--data", data], capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"peer.py --peer {peer} --data {data} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    if importlib.util.find_spec("torch") is None:
        print("torch is not installed: torch_online.py not checked")
        sys.exit(0)
    failures, losses = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for alg in ALGORITHMS:
            data = os.path.join(tmp, alg)
            common.export(data, "small", "rnn", 2, 10, algorithm=alg, rflo_decay=0.5 if alg == "rflo" else None)
            r = {peer: run_peer(peer, data) for peer in ("numpy", "torch")}
            ln, lt = r["numpy"]["final_loss"], r["torch"]["final_loss"]
            rel = abs(lt - ln) / abs(ln)
            ok = (rel <= TOL and r["torch"]["algorithm"] == alg and r["torch"]["version"].startswith("torch"))
            losses[alg] = ln
            print(f"{'ok  ' if ok else 'FAIL'} {alg}: final loss numpy {ln:.9f}, torch {lt:.9f}, rel. diff {rel:.1e} "
                  f"({r['torch']['version']}, {r['numpy']['version']})")
            if not ok:
                failures.append(alg)
    spread = min(abs(losses[a] - losses[b]) / abs(losses[a])
                 for i, a in enumerate(ALGORITHMS) for b in ALGORITHMS[i + 1:])
    ok = spread > 10 * TOL
    print(f"{'ok  ' if ok else 'FAIL'} non-vacuity: min rel. diff between the algorithms' losses {spread:.1e}")
    if not ok:
        failures.append("non-vacuity")
    print("all checks passed" if not failures else f"{len(failures)} check(s) FAILED: {', '.join(failures)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
