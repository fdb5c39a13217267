#!/usr/bin/env python3
"""Report at scale (issue 34): the time and size of `rnn-exp report` on a 6,000-run sweep.

The sweep is the issue's: count-ones, `training.seed` x 30 and `training.optimizer.lr` x 200
values from 1e-4 to 2e-2 (log spaced), trained once with --no-report at 1 epoch and at 30 epochs
per run (the data made small, 50 training and 20 validation sequences, so that the 30-epoch sweep
trains in minutes: the report reads the same files whatever the data's size). Then
`rnn-exp report` on each folder, REPS times: printed are the best and the median wall time and
the size of report.html, against the targets (under 1.5 s and 1.5 MB).

Run by `make bench` (Benchmarks/run_bench.py) after the engine rows, or alone:
    python3 Benchmarks/report_bench.py [--quick] [--reps N] [--bin PATH] [--keep DIR]
--quick: 30 x 20 = 600 runs (checks the plumbing). Prints one JSON object last (the numbers).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RNN_EXP = os.path.join(ROOT, ".build", "release", "rnn-exp")
TARGET_S, TARGET_BYTES = 1.5, 1_500_000


def experiment(name, epochs, seeds, lrs):
    values = [1e-4 * 200 ** (i / (lrs - 1)) for i in range(lrs)]
    return (f"name: {name}\n"
            "dataset: {kind: count-ones, length: 10, train: 50, validation: 20}\n"
            "model: {layers: [{type: rnn, units: 1, activation: identity}], loss: mse}\n"
            f"training: {{epochs: {epochs}, batch: 10, optimizer: {{name: sgd, lr: 0.001}}}}\n"
            "sweep:\n"
            f"  training.seed: [{', '.join(str(s) for s in range(1, seeds + 1))}]\n"
            f"  training.optimizer.lr: [{', '.join(f'{v:.4g}' for v in values)}]\n")


def bench(binary, tmp, epochs, seeds, lrs, reps):
    name = f"report{epochs}"
    path = os.path.join(tmp, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(experiment(name, epochs, seeds, lrs))
    t = time.perf_counter()
    # Diverging learning rates make some runs fail on purpose: the exit status is not checked.
    subprocess.run([binary, "run", path, "--results", os.path.join(tmp, "results"), "--quiet", "--jobs", "2", "--no-report"],
                   capture_output=True, text=True)
    train_s = time.perf_counter() - t
    folder = os.path.join(tmp, "results", name)
    if not os.path.exists(os.path.join(folder, "summary.csv")):
        raise RuntimeError(f"the {name} sweep wrote no summary.csv")
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        r = subprocess.run([binary, "report", folder], capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise RuntimeError(f"rnn-exp report {folder} failed:\n{r.stderr}")
    size = os.path.getsize(os.path.join(folder, "report.html"))
    runs = seeds * lrs
    ok = min(times) < TARGET_S and size < TARGET_BYTES
    print(f"report of {runs} runs x {epochs} epoch{'s' if epochs > 1 else ''} (trained in {train_s:.0f} s): "
          f"best {min(times):.2f} s, median {statistics.median(times):.2f} s, report.html {size / 1e6:.2f} MB "
          f"(targets < {TARGET_S} s, < {TARGET_BYTES / 1e6:.1f} MB: {'ok' if ok else 'MISSED'})")
    return {"runs": runs, "epochs": epochs, "best_s": min(times), "median_s": statistics.median(times),
            "bytes": size, "within_targets": ok}


def run(binary=RNN_EXP, quick=False, reps=3, keep=None):
    """The rows for 1 and 30 epochs per run; a list of dicts (see `bench`)."""
    seeds, lrs = (30, 20) if quick else (30, 200)
    tmp = keep or tempfile.mkdtemp(prefix="rnn-exp-report-bench.")
    os.makedirs(tmp, exist_ok=True)
    try:
        return [bench(binary, tmp, epochs, seeds, lrs, reps) for epochs in (1, 30)]
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--bin", default=RNN_EXP)
    p.add_argument("--keep", help="train into (and keep) this folder instead of a temporary one")
    a = p.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} not built: make build")
    rows = run(a.bin, a.quick, a.reps, a.keep)
    print(json.dumps(rows))
    if not all(r["within_targets"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
