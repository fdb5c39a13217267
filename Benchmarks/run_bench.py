#!/usr/bin/env python3
"""`make bench`: rnn-exp against numpy, JAX and PyTorch at the same TBPTT work, side by side.

For each workload of ../shared/bench/tbptt_bench.py (small, medium, large) it exports the data
and initial weights once, then runs every framework 3 times, interleaved, at 1 thread, and prints
the medians and the ratio rnn-exp / best peer. rnn-exp's final_loss must agree with numpy's to
1e-4 (relative): the check that it did the same work. Then:
  - the single-thread SGEMM rate of the large workload's recurrent shape (64 x 512 x 512) through
    the same BLAS, and the fraction of it rnn-exp reaches;
  - sweep throughput: a 32-run grid of the medium model (`random` dataset), --jobs 1 vs --jobs 2;
  - per-run overhead: 40 trivial runs (start-up, config, writing results) per run;
  - peak RSS of the large workload next to its model-bound memory;
  - peak RSS of a 200-run sweep (issue 6: memory bounded by model and window, not by runs).
Numbers go to Benchmarks/results/latest.json. Only ratios from one run count.
"""
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.environ.get("TBPTT_BENCH", os.path.join(ROOT, "..", "shared", "bench", "tbptt_bench.py"))
BENCH = os.path.join(HERE, ".build", "release", "tbptt-bench")
RNN_EXP = os.path.join(ROOT, ".build", "release", "rnn-exp")
WORKLOADS = {"small": (16, 32, 16, 16, 20), "medium": (64, 128, 64, 32, 25), "large": (64, 512, 64, 64, 50)}
WINDOWS = {"small": 400, "medium": 200, "large": 60}
REPS = int(os.environ.get("BENCH_REPS", "3"))


def have(module):
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def run_json(cmd, env=None):
    e = dict(os.environ, OPENBLAS_NUM_THREADS="1", **(env or {}))
    out = subprocess.run(cmd, capture_output=True, text=True, env=e)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb(cmd):
    """Peak resident set size of one child process, in MB (measured by a fresh interpreter whose
    only child is `cmd`, since RUSAGE_CHILDREN keeps the maximum over all children so far)."""
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe] + cmd, capture_output=True, text=True, check=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return int(out.stdout.strip()) / 1024.0


def write_sweep(path, body, seeds):
    """An experiment file: `body` plus a sweep over training.seed = 1 ... seeds."""
    with open(path, "w") as f:
        f.write(body + "sweep:\n  training.seed: [" + ", ".join(str(i) for i in range(1, seeds + 1)) + "]\n")
    return path


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return time.perf_counter() - t


def main():
    peers = ["numpy"] + [f for f, m in (("jax", "jax"), ("torch", "torch")) if have(m)]
    tmp = tempfile.mkdtemp(prefix="rnn-exp-bench-")
    results = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
               "cpus": os.cpu_count(), "peers": peers, "workloads": {}}
    blas = subprocess.run([RNN_EXP, "--version"], capture_output=True, text=True).stdout.strip()
    results["rnn_exp"] = blas
    print(f"{blas}\npeers: {', '.join(peers)} (1 thread, {REPS} interleaved repetitions, medians)\n", flush=True)

    data = {}
    for w in WORKLOADS:
        d = os.path.join(tmp, w)
        run_json([sys.executable, PEER, "--framework", "numpy", "--workload", w, "--windows", str(WINDOWS[w]),
                  "--export", d])
        data[w] = d

    runs = {w: {f: [] for f in peers + ["rnn-exp"]} for w in WORKLOADS}
    for rep in range(REPS):
        for w in WORKLOADS:
            for f in peers + ["rnn-exp"]:
                if f == "rnn-exp":
                    r = run_json([BENCH, "--data", data[w], "--workload", w, "--windows", str(WINDOWS[w])])
                else:
                    r = run_json([sys.executable, PEER, "--framework", f, "--workload", w, "--windows", str(WINDOWS[w])])
                runs[w][f].append(r)

    rows = []
    ok = True
    for w in WORKLOADS:
        med = {f: statistics.median(r["sample_steps_per_s"] for r in rs) for f, rs in runs[w].items()}
        gfl = {f: statistics.median(r["gflops"] for r in rs) for f, rs in runs[w].items()}
        best_peer = max(peers, key=lambda f: med[f])
        ratio = med["rnn-exp"] / med[best_peer]
        ref, mine = runs[w]["numpy"][0]["final_loss"], runs[w]["rnn-exp"][0]["final_loss"]
        agree = abs(mine - ref) / abs(ref) <= 1e-4
        ok &= agree
        results["workloads"][w] = {"sample_steps_per_s": med, "gflops": gfl, "best_peer": best_peer,
                                   "ratio": ratio, "final_loss": {"numpy": ref, "rnn-exp": mine}, "loss_agrees": agree}
        rows.append((w, med, gfl, best_peer, ratio, agree))

    header = f"{'workload':<8} " + " ".join(f"{f:>12}" for f in peers + ["rnn-exp"]) + f" {'best peer':>10} {'ratio':>7}  loss"
    print(header)
    for w, med, gfl, best, ratio, agree in rows:
        cells = " ".join(f"{med[f]:>12,.0f}" for f in peers + ["rnn-exp"])
        print(f"{w:<8} {cells} {best:>10} {ratio:>6.2f}x  {'same' if agree else 'DIFFERENT'}")
    print("(sample-steps/s; ratio = rnn-exp / best peer; loss: rnn-exp's final_loss vs numpy's, 1e-4 relative)\n")

    sgemm = run_json([BENCH, "--sgemm", "64", "512", "512"])
    frac = results["workloads"]["large"]["gflops"]["rnn-exp"] / sgemm["gflops"]
    results["sgemm_64x512x512_gflops"] = sgemm["gflops"]
    results["large_fraction_of_sgemm"] = frac
    print(f"single-thread SGEMM 64x512x512: {sgemm['gflops']:.1f} GFLOP/s; rnn-exp large reaches "
          f"{results['workloads']['large']['gflops']['rnn-exp']:.1f} GFLOP/s = {100 * frac:.0f}% of it")

    # Sweep throughput: 32 runs of the medium model on `random`, --jobs 1 vs --jobs 2.
    sweep = write_sweep(os.path.join(tmp, "sweep.yaml"),
                        "name: throughput\ndataset: {kind: random, inputs: 64, classes: 64, train: 8000, validation: 100}\n"
                        "model: {layers: [{type: rnn, units: 128}, {type: dense, activation: softmax}]}\n"
                        "training: {epochs: 1, batch: 32, tau_max: 25, optimizer: {name: sgd, lr: 0.01}}\n", 32)
    t1 = timed([RNN_EXP, "run", sweep, "--results", os.path.join(tmp, "r1"), "--jobs", "1", "--quiet"])
    t2 = timed([RNN_EXP, "run", sweep, "--results", os.path.join(tmp, "r2"), "--jobs", "2", "--quiet"])
    results["sweep_32_runs_seconds"] = {"jobs1": t1, "jobs2": t2, "speedup": t1 / t2}
    print(f"sweep of 32 medium runs: --jobs 1 {t1:.2f} s, --jobs 2 {t2:.2f} s: {t1 / t2:.2f}x")

    # Per-run overhead: trivial runs, so that the time is start-up, config and result writing.
    tiny = write_sweep(os.path.join(tmp, "tiny.yaml"),
                       "name: tiny\ndataset: {kind: count-ones, length: 2, train: 1, validation: 1}\n"
                       "model: {layers: [{type: rnn, units: 1, activation: identity}]}\ntraining: {epochs: 1, batch: 1}\n", 40)
    t = timed([RNN_EXP, "run", tiny, "--results", os.path.join(tmp, "r3"), "--jobs", "1", "--quiet"])
    results["per_run_overhead_ms"] = 1000 * t / 40
    print(f"per-run overhead (40 trivial runs, one process): {1000 * t / 40:.1f} ms per run")

    # Memory of the large workload: model bound = weights + SGD state (none) + the window's stored
    # activations; the data arrays (inputs and targets of every window) are held by every peer too.
    I, H, C, B, K = WORKLOADS["large"]
    weights = 4 * (I * H + H * H + H + C * H + C)
    window = 4 * (K + 1) * B * (H + C)
    steps = (5 + WINDOWS["large"]) * K
    data_bytes = steps * B * (I * 4 + 4 + 1)  # inputs (float32), class ids (int32), mask (uint8)
    rss = peak_rss_mb([BENCH, "--data", data["large"], "--workload", "large", "--windows", str(WINDOWS["large"])])
    bound = 1.5 * (weights + window) / 2**20 + 30
    results["large_memory_mb"] = {"peak_rss": rss, "data": data_bytes / 2**20, "weights": weights / 2**20,
                                  "window_activations": window / 2**20, "bound_without_data": bound}
    print(f"large workload peak RSS {rss:.1f} MB: data arrays {data_bytes / 2**20:.1f} MB + the rest "
          f"{rss - data_bytes / 2**20:.1f} MB; bound 1.5 x (weights {weights / 2**20:.1f} MB + window "
          f"{window / 2**20:.1f} MB) + 30 MB = {bound:.1f} MB")

    # Memory of a 200-run sweep (one process, --jobs 2).
    many = write_sweep(os.path.join(tmp, "many.yaml"),
                       "name: many\ndataset: {kind: adding, length: 10, train: 50, validation: 10}\n"
                       "model: {layers: [{type: rnn, units: 16}, {type: dense, activation: identity}]}\n"
                       "training: {epochs: 2, batch: 10}\n", 200)
    rss200 = peak_rss_mb([RNN_EXP, "run", many, "--results", os.path.join(tmp, "r4"), "--jobs", "2", "--quiet"])
    rss10 = peak_rss_mb([RNN_EXP, "run", many, "--results", os.path.join(tmp, "r5"), "--jobs", "2", "--quiet",
                         "--set", "sweep.training.seed=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"])
    results["sweep_memory_mb"] = {"runs_200": rss200, "runs_10": rss10}
    print(f"peak RSS of a sweep: 10 runs {rss10:.1f} MB, 200 runs {rss200:.1f} MB")

    with open(os.path.join(HERE, "results", "latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    shutil.rmtree(tmp, ignore_errors=True)
    if not ok:
        print("FAILED: rnn-exp's final_loss differs from numpy's: it did not do the same work")
        sys.exit(1)


if __name__ == "__main__":
    main()
