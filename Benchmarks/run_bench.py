#!/usr/bin/env python3
"""`make bench`: rnn-exp against numpy, PyTorch and JAX at the same TBPTT work, side by side.

Workloads (peers/common.py says exactly what they compute): one recurrent layer under a dense
softmax layer, BPTT(K, K) on B streams, plain SGD, float32, shapes (I, H, C, B, K)
    small (16, 32, 16, 16, 20), medium (64, 128, 64, 32, 25), large (64, 512, 64, 64, 50)
with an `rnn` layer (rows always run) and with an `lstm` layer (rows run when rnn-exp's engine
has the lstm layer; see "LSTM rows" below); and the element-wise row indrnn-small: the small
shapes with an `indrnn` layer (h = tanh(W_s x + w_t * h_prev + b), rnn-exp's `indrnn`), BPTT(K, K)
as above, against PyTorch (autograd through a per-step loop, peers/torch_indrnn.py) and JAX
(jit + lax.scan + value_and_grad, peers/jax_indrnn.py), no numpy peer (target >= 2x the best
peer; GFLOP/s counted as 4 I H + 6 H C: the recurrence is element-wise).

For each row the data and initial weights are exported once (peers/common.py), then every
implementation trains on them: rnn-exp through Benchmarks' `tbptt-bench` (the engine's
TruncatedBPTT) and the peers of Benchmarks/peers/ (numpy by hand, PyTorch eager, JAX jit for rnn;
numpy by hand and PyTorch nn.LSTM for lstm), each pinned to one CPU and limited to one thread,
interleaved, REPS times. Printed: each implementation's best repetition in sample-steps/s (this
project's machine is a shared VM whose speed drifts by ±15% from minute to minute: the fastest of
several interleaved runs is the least disturbed estimate of each, as `timeit` takes the minimum),
ratio = rnn-exp / best peer, the same ratio from the medians, and the check that every peer's
final loss is within 1e-4 (relative) of rnn-exp's — that they all did the same work (exit status
1 otherwise). Then:
  - the CPU's single-thread FMA peak (Benchmarks' `peak-fma`) and the fraction of it the large
    workloads reach. The VM's speed drifts, so the peak is measured right before and right after
    every rnn-exp run of a large workload, and each run's fraction is taken against the higher of
    the two (paired, as the peers are interleaved): printed are the best and the median of these
    paired fractions, and the best run against the best peak of the whole benchmark. The GEMM
    flops of one sample-step (forward + backward) are counted as
        4 I G + (6 - 2/K) H G + 6 H C,   G = H (rnn) or 4H (lstm)
    (derivation in peers/common.py, gemm_flops_per_sample_step);
  - the single-thread SGEMM rate of the large workload's recurrent shape (64 x 512 x 512) through
    the engine's BLAS;
  - the online rows rtrl-small, snap1-small, uoro-small, rflo-small, kfrtrl-small: the rnn small
    workload (same data and initial weights) trained online, one update per step (tau_b = 1; rflo
    with decay lambda = 0.5), the influence carried over the whole stream: rnn-exp (tbptt-bench
    reads the workload's `algorithm`) against the numpy, PyTorch and JAX peers of the same
    algorithm (peers/numpy_online.py, peers/torch_online.py, batched over lanes;
    peers/jax_online.py, the whole call under one jit as one lax.scan, compiled ahead of time and
    not timed), interleaved, same loss check, the ratio from the best repetitions and from the
    medians; plus rnn-exp's BPTT(1, 1) on the same data as the yardstick of the per-step cost
    (targets: rtrl >= 2x the best peer, snap1, uoro, rflo >= 5x, kf-rtrl >= 2x; snap1, uoro, rflo
    within 3x of BPTT(1, 1) per step). kf-rtrl (Mujika et al. 2018, SPEC 3.5) needs rnn-exp's
    random signs c1, c2 per lane and step: the peers draw them with the same generator as UORO's
    nu (numpy_online.uoro_noise(steps, B, 2): the engine's OnlineNoise with count 2R, R = 1
    recurrent layer, seed 0), so the final losses agree like the others'; its us per step is
    printed beside uoro's and rtrl's. rtrl's GFLOP/s count the time term's GEMM, 2 B H^2 P per
    step (P = H (I + H + 1) influence columns);
  - sweep throughput: a grid of the medium model (`random` dataset), --jobs 1 vs --jobs 2;
  - per-run overhead: trivial runs (start-up, config, writing results, summaries) in one
    process, at 150, 3,000 and 10,000 runs (the cost per run must not grow with the sweep);
  - peak RSS of the large workload next to its model-bound memory;
  - peak RSS of a 200-run sweep against a 10-run one (memory bounded by model and window);
  - the report at scale (report_bench.py): `rnn-exp report` on a 6,000-run count-ones sweep
    (30 seeds x 200 learning rates) at 1 and at 30 epochs per run, its time and report.html's
    size (targets < 1.5 s, < 1.5 MB; quick: 600 runs).
Numbers go to Benchmarks/results/latest.json (latest-quick.json with --quick, latest-only.json
with --only). Only ratios from one run count.

Options (or environment variables, for `make bench`):
  --quick        BENCH_QUICK=1     few windows, one repetition, small sweeps: checks the plumbing
                                   in a few minutes; its speed figures mean little
  --reps N       BENCH_REPS=N      repetitions (default 5, quick 1)
  --lstm         BENCH_LSTM=1      LSTM rows even when rnn-exp has no lstm layer (peers only)
  --no-lstm      BENCH_LSTM=0      no LSTM rows
                 BENCH_LSTM=auto   (default) LSTM rows exactly when `tbptt-bench --layer lstm` exits
                                   0; it exits 3 ("unsupported layer lstm") while the engine has none
  --detail       BENCH_DETAIL=1    also each matrix product of every workload's update, timed alone
                                   on its own shape (`tbptt-bench --detail`): GFLOP/s and path
  --only ROWS    BENCH_ONLY=ROWS   only these rows, comma-separated (e.g. kfrtrl-small,uoro-small,
                                   rtrl-small,indrnn-small; rnn-small, lstm-large, ... for the
                                   BPTT rows) and nothing else (no sweeps, overheads, memory or
                                   SGEMM rate); written to latest-only.json
                 BENCH_CPU=N       the CPU every timed run is pinned to (default: the last allowed)
A peer whose framework is not installed is left out, with a note.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS_DIR = os.path.join(HERE, "peers")
PEER = os.path.join(PEERS_DIR, "peer.py")
BENCH = os.path.join(HERE, ".build", "release", "tbptt-bench")
PEAK_FMA = os.path.join(HERE, ".build", "release", "peak-fma")
RNN_EXP = os.path.join(ROOT, ".build", "release", "rnn-exp")
RESULTS = os.path.join(HERE, "results")
sys.path.insert(0, PEERS_DIR)
import common  # noqa: E402

UNSUPPORTED = 3  # tbptt-bench: the engine has no such layer
PEER_MISSING = 4  # peer.py: framework not installed / no implementation of the layer
TOLERANCE = 1e-4
PEERS = {"rnn": ["numpy", "torch", "jax"], "lstm": ["numpy", "torch"], "indrnn": ["torch", "jax"]}
MODULE = {"numpy": "numpy", "torch": "torch", "jax": "jax"}
# Timed windows per row (warm-up windows come first and are not timed).
WINDOWS = {("rnn", "small"): 400, ("rnn", "medium"): 200, ("rnn", "large"): 60,
           ("lstm", "small"): 200, ("lstm", "medium"): 60, ("lstm", "large"): 12, ("indrnn", "small"): 400}
QUICK_WINDOWS = {("rnn", "small"): 40, ("rnn", "medium"): 20, ("rnn", "large"): 4,
                 ("lstm", "small"): 20, ("lstm", "medium"): 6, ("lstm", "large"): 2, ("indrnn", "small"): 40}
# The element-wise rows: BPTT(K, K) on an indrnn layer at these shapes (rnn-exp, PyTorch, JAX).
INDRNN_ROWS = [("indrnn", "small")]
# The online rows (rnn small, one update per step): timed windows of K = 20 steps each.
ONLINE = ["rtrl", "snap1", "uoro", "rflo", "kf-rtrl"]
ONLINE_WINDOWS = {"rtrl": 20, "snap1": 200, "uoro": 200, "rflo": 200, "kf-rtrl": 100}
QUICK_ONLINE_WINDOWS = {"rtrl": 2, "snap1": 10, "uoro": 10, "rflo": 10, "kf-rtrl": 5}
ONLINE_TARGET = {"rtrl": 2.0, "snap1": 5.0, "uoro": 5.0, "rflo": 5.0, "kf-rtrl": 2.0}


def online_row(alg):
    """The printed name of an online row: rtrl-small, ..., kfrtrl-small."""
    return alg.replace("-", "") + "-small"


def main_row(row):
    return f"{row[0]}-{row[1]}"
RFLO_DECAY = 0.5


class Unsupported(Exception):
    pass


class PeerMissing(Exception):
    """peer.py exited 4: the framework is not installed or has no implementation of the workload."""


def options():
    env = os.environ
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", default=env.get("BENCH_QUICK", "0") not in ("", "0", "false", "no"))
    ap.add_argument("--reps", type=int, default=int(env["BENCH_REPS"]) if env.get("BENCH_REPS") else None)
    ap.add_argument("--detail", action="store_true", default=env.get("BENCH_DETAIL", "0") not in ("", "0", "false", "no"))
    ap.add_argument("--only", default=env.get("BENCH_ONLY") or None, metavar="ROWS",
                    help="comma-separated rows (e.g. kfrtrl-small,indrnn-small): only these, nothing else")
    lstm = ap.add_mutually_exclusive_group()
    lstm.add_argument("--lstm", dest="lstm", action="store_const", const="1")
    lstm.add_argument("--no-lstm", dest="lstm", action="store_const", const="0")
    ap.set_defaults(lstm=env.get("BENCH_LSTM", "auto"))
    a = ap.parse_args()
    if a.lstm not in ("auto", "1", "0"):
        ap.error(f"BENCH_LSTM must be auto, 1 or 0, not {a.lstm}")
    if a.reps is None:
        a.reps = 1 if a.quick else 5
    if a.only is not None:
        a.only = [r.strip() for r in a.only.split(",") if r.strip()]
        known = ([main_row((layer, name)) for layer in ("rnn", "lstm") for name in common.SHAPES]
                 + [main_row(r) for r in INDRNN_ROWS] + [online_row(alg) for alg in ONLINE])
        unknown = [r for r in a.only if r not in known]
        if unknown or not a.only:
            ap.error(f"--only: unknown row(s) {', '.join(unknown) or '(none given)'}; rows: {', '.join(known)}")
    return a


def bench_cpu():
    allowed = sorted(os.sched_getaffinity(0))
    cpu = int(os.environ.get("BENCH_CPU", allowed[-1]))
    if cpu not in allowed:
        sys.exit(f"BENCH_CPU={cpu} is not one of the CPUs this process may use: {allowed}")
    return cpu


CPU = None


def pinned():
    os.sched_setaffinity(0, {CPU})


# OpenBLAS overrides meant for rnn-exp's system OpenBLAS (older builds are unsafe on some CPUs):
# the peers run without them, each at its own library's best (numpy's wheel ships a newer
# OpenBLAS that picks its kernel set by itself); rnn-exp runs in the environment as it is.
PEER_DROPPED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def run_json(cmd, pin=True, peer=False):
    """The last stdout line of `cmd` as JSON; Unsupported on tbptt-bench's exit 3. `peer`: the
    environment without PEER_DROPPED_ENV."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if peer:
        for var in PEER_DROPPED_ENV:
            env.pop(var, None)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=pinned if pin else None)
    if out.returncode == UNSUPPORTED and cmd[0] == BENCH:
        raise Unsupported(out.stdout.strip())
    if out.returncode == PEER_MISSING and cmd[0] == sys.executable:
        raise PeerMissing(out.stderr.strip())
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_model():
    """`model name (family F model M)` from /proc/cpuinfo, else platform's processor string."""
    try:
        info = {}
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" in line:
                    k, v = (x.strip() for x in line.split(":", 1))
                    info.setdefault(k, v)
                if not line.strip() and info:
                    break
        flags = set(info.get("flags", "").split())
        simd = "AVX-512" if {"avx512f", "avx512bw", "avx512vl"} <= flags else ("AVX2" if "avx2" in flags else "no AVX2")
        return (f"{info.get('model name', '?')} (vendor {info.get('vendor_id', '?')}, family {info.get('cpu family', '?')} "
                f"model {info.get('model', '?')}, {simd}, {os.cpu_count()} CPUs)")
    except OSError:
        return platform.processor() or platform.machine()


def have(module):
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def engine_has_layer(layer):
    r = subprocess.run([BENCH, "--layer", layer], capture_output=True, text=True)
    if r.returncode == 0:
        return True
    if r.returncode == UNSUPPORTED:
        return False
    raise RuntimeError(f"tbptt-bench --layer {layer} failed ({r.returncode}): {r.stdout}{r.stderr}")


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


def gflops(layer, name, sample_steps_per_s):
    I, H, C, B, K = common.SHAPES[name]
    return common.gemm_flops_per_sample_step(layer, I, H, C, K) * sample_steps_per_s / 1e9


def online_rows(a, tmp, warmup, results, peak, installed):
    """The online rows (module docstring): rnn-exp and the peers of each algorithm (numpy, and
    PyTorch and JAX when installed), interleaved, and rnn-exp's BPTT(1, 1) on the same data as the
    per-step yardstick."""
    windows = QUICK_ONLINE_WINDOWS if a.quick else ONLINE_WINDOWS
    I, H, C, B, K = common.SHAPES["small"]
    columns = H * (I + H + 1)
    peers = [p for p in ("numpy", "torch", "jax") if installed.get(p)]
    algs = [alg for alg in ONLINE if a.only is None or online_row(alg) in a.only]
    runs = {alg: {f: [] for f in peers + ["rnn-exp"]} for alg in algs}
    yardstick = []
    data = {}
    for alg in algs:
        data[alg] = os.path.join(tmp, f"online-{alg}")
        common.export(data[alg], "small", "rnn", warmup, windows[alg], algorithm=alg,
                      rflo_decay=RFLO_DECAY if alg == "rflo" else None)
    for rep in range(a.reps):
        for alg in algs:
            runs[alg]["rnn-exp"].append(run_json([BENCH, "--data", data[alg]]))
            for f in list(runs[alg]):
                if f == "rnn-exp":
                    continue
                try:
                    runs[alg][f].append(run_json([sys.executable, PEER, "--peer", f, "--data", data[alg]], peer=True))
                except PeerMissing:
                    del runs[alg][f]
        yardstick.append(run_json([BENCH, "--data", data[algs[0]], "--algorithm", "bptt1"]))
        print(f"  rep {rep + 1}/{a.reps} online: " + "; ".join(
            f"{alg} " + ", ".join(f"{f} {rs[-1]['sample_steps_per_s']:,.0f}" for f, rs in runs[alg].items())
            for alg in algs) + f"; bptt(1,1) {yardstick[-1]['sample_steps_per_s']:,.0f}", flush=True)
    # Per-step cost in microseconds from the best repetition (a step is B sample-steps).
    def step_us(rs, key="sample_steps_per_s"):
        return 1e6 * B / max(r[key] for r in rs)
    bptt_us = step_us(yardstick)
    bptt_cpu_us = step_us(yardstick, "sample_steps_per_cpu_s")
    print(f"\nonline rows: rnn small (I, H, C, B) = {(I, H, C, B)}, one update per step (tau_b = 1), rflo lambda "
          f"{RFLO_DECAY}; rnn-exp's BPTT(1, 1) on the same data: {bptt_us:.2f} us per step ({bptt_cpu_us:.2f} in CPU time)")
    print(f"{'row':<12} {'numpy':>11} {'torch':>11} {'jax':>11} {'rnn-exp':>11} {'best peer':>10} {'ratio':>7} "
          f"{'median':>15} {'target':>7} {'us/step':>8} {'x bptt(1,1)':>11} {'(CPU)':>6} {'GFLOP/s':>8}  final loss")
    ok = True
    results["online"] = {"bptt11_us_per_step": bptt_us, "bptt11_cpu_us_per_step": bptt_cpu_us, "rflo_decay": RFLO_DECAY,
                         "rows": {}}
    for alg in algs:
        top = {f: max(r["sample_steps_per_s"] for r in rs) for f, rs in runs[alg].items()}
        best = max((f for f in top if f != "rnn-exp"), key=lambda f: top[f])
        ref = runs[alg]["rnn-exp"][0]["final_loss"]
        diffs = {f: max(abs(r["final_loss"] - ref) / abs(ref) for r in rs) for f, rs in runs[alg].items() if f != "rnn-exp"}
        worst = max(diffs.values())
        agree = worst <= TOLERANCE
        ok &= agree
        ratio = top["rnn-exp"] / top[best]
        med = {f: statistics.median(r["sample_steps_per_s"] for r in rs) for f, rs in runs[alg].items()}
        best_median = max((f for f in med if f != "rnn-exp"), key=lambda f: med[f])
        ratio_median = med["rnn-exp"] / med[best_median]
        us = step_us(runs[alg]["rnn-exp"])
        cpu_us = step_us(runs[alg]["rnn-exp"], "sample_steps_per_cpu_s")
        rate = 2 * B * H * H * columns / (us * 1e-6) / 1e9 if alg == "rtrl" else None
        results["online"]["rows"][online_row(alg)] = {
            "sample_steps_per_s": top, "best_peer": best, "ratio": ratio, "sample_steps_per_s_median": med,
            "best_peer_median": best_median, "ratio_median": ratio_median, "target_ratio": ONLINE_TARGET[alg],
            "us_per_step": us, "cpu_us_per_step": cpu_us, "times_bptt11": us / bptt_us,
            "times_bptt11_cpu": cpu_us / bptt_cpu_us, "gemm_gflops": rate,
            "fraction_of_peak": rate / peak["peak_gflops"] if rate and peak.get("peak_gflops") else None,
            "final_loss": ref, "loss_rel_diff": diffs, "loss_agrees": agree, "runs": runs[alg],
            "kernels": {f: rs[0].get("kernel") for f, rs in runs[alg].items()}}
        cells = " ".join(f"{top[f]:>11,.0f}" if f in top else f"{'-':>11}" for f in ("numpy", "torch", "jax", "rnn-exp"))
        print(f"{online_row(alg):<12} {cells} {best:>10} {ratio:>6.2f}x {ratio_median:>6.2f}x {'(' + best_median + ')':>7} "
              f"{ONLINE_TARGET[alg]:>6.0f}x {us:>8.2f} "
              f"{us / bptt_us:>10.2f}x {cpu_us / bptt_cpu_us:>5.2f}x " + (f"{rate:>8.1f}" if rate else f"{'':>8}")
              + f"  {'same' if agree else 'DIFFERENT'} ({worst:.1e})")
    rows = results["online"]["rows"]
    if "kfrtrl-small" in rows:
        print("kf-rtrl's step: " + ", ".join(f"{name} {rows[r]['us_per_step']:.2f} us" for name, r in
                                            (("kf-rtrl", "kfrtrl-small"), ("uoro", "uoro-small"), ("rtrl", "rtrl-small"))
                                            if r in rows) + " per step (rnn-exp, best repetition)")
    if peak.get("peak_gflops") and "rtrl-small" in rows:
        r = rows["rtrl-small"]
        print(f"rtrl's GEMM at {r['gemm_gflops']:.1f} GFLOP/s = {100 * r['fraction_of_peak']:.0f}% of the "
              f"{peak['peak_gflops']} GFLOP/s FMA peak")
    compiled = {alg: [r["compile_seconds"] for r in runs[alg].get("jax", []) if r.get("compile_seconds") is not None]
                for alg in algs}
    if any(compiled.values()):
        results["online"]["jax_compile_seconds"] = compiled
        print("jax's compilation (ahead of time, not timed; median of the repetitions): "
              + ", ".join(f"{alg} {statistics.median(v):.1f} s ({runs[alg]['jax'][0]['version']})"
                          for alg, v in compiled.items() if v))
    print("(sample-steps/s, best repetition; ratio = rnn-exp / best peer (by best repetition), median = rnn-exp's "
          "median / the best peer's median (that peer in brackets); x bptt(1,1) = rnn-exp's time per step over "
          "its BPTT(1, 1) step on the same data, wall clock and CPU time)\n")
    results["online"]["loss_agrees"] = ok
    if not ok:
        results["online_loss_failed"] = True


def main():
    global CPU
    a = options()
    CPU = bench_cpu()
    for exe in (BENCH, PEAK_FMA, RNN_EXP):
        if not os.path.exists(exe):
            sys.exit(f"{exe} is missing: run `make bench` (it builds rnn-exp and Benchmarks/ in release first)")
    os.makedirs(RESULTS, exist_ok=True)
    windows = QUICK_WINDOWS if a.quick else WINDOWS
    warmup = 2 if a.quick else 5

    installed = {p: have(MODULE[p]) for p in ("numpy", "torch", "jax")}
    if not installed["numpy"]:
        sys.exit("numpy is missing: `make deps` installs it")
    lstm_engine = engine_has_layer("lstm")
    indrnn_engine = engine_has_layer("indrnn")
    layers = ["rnn"] + (["lstm"] if a.lstm == "1" or (a.lstm == "auto" and lstm_engine) else [])
    rows = [(layer, name) for layer in layers for name in common.SHAPES] + INDRNN_ROWS
    if a.only is not None:
        rows = [row for row in rows if main_row(row) in a.only]

    tmp = tempfile.mkdtemp(prefix="rnn-exp-bench-")
    version = subprocess.run([RNN_EXP, "--version"], capture_output=True, text=True).stdout.strip()
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "quick": a.quick, "reps": a.reps,
               "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "pinned_cpu": CPU,
               "rnn_exp": version, "installed": installed, "lstm_in_engine": lstm_engine,
               "indrnn_in_engine": indrnn_engine, "only": a.only, "rows": {}}
    cpu = cpu_model()
    results["cpu"] = cpu
    dropped = {v: os.environ[v] for v in PEER_DROPPED_ENV if v in os.environ}
    results["peer_env_dropped"] = dropped
    print(version)
    print(f"CPU: {cpu}")
    if dropped:
        print("rnn-exp runs with " + " ".join(f"{k}={v}" for k, v in dropped.items())
              + " as set; the peers run without it (each library picks its own kernels)")
    missing = [p for p, ok in installed.items() if not ok]
    print(f"{a.reps} interleaved repetition(s), best and median; every run on CPU {CPU}, one thread"
          + (f"; not installed, left out: {', '.join(missing)}" if missing else "")
          + ("; QUICK: few windows, for checking the plumbing" if a.quick else "")
          + (f"; only the rows {', '.join(a.only)}" if a.only else ""))
    if "lstm" not in layers:
        print("LSTM rows off: " + ("BENCH_LSTM=0" if a.lstm == "0" else
                                   "rnn-exp's engine has no lstm layer yet (tbptt-bench --layer lstm exits 3)"))
    elif not lstm_engine:
        print("LSTM rows: peers only (rnn-exp's engine has no lstm layer yet)")
    print(flush=True)

    data, impls = {}, {}
    for layer, name in rows:
        d = os.path.join(tmp, f"{layer}-{name}")
        common.export(d, name, layer, warmup, windows[layer, name])
        data[layer, name] = d
        impls[layer, name] = [p for p in PEERS[layer] if installed[p]] + (
            ["rnn-exp"] if layer == "rnn" or (layer == "lstm" and lstm_engine) or (layer == "indrnn" and indrnn_engine)
            else [])

    runs = {row: {f: [] for f in impls[row]} for row in rows}
    notes = {}
    peaks = []  # every FMA-peak measurement, each beside an rnn-exp run of a large workload
    for rep in range(a.reps):
        for row in rows:
            for f in list(impls[row]):
                try:
                    if f == "rnn-exp" and row[1] == "large":
                        before = run_json([PEAK_FMA])
                        r = run_json([BENCH, "--data", data[row]])
                        after = run_json([PEAK_FMA])
                        peaks += [before, after]
                        r["peak_beside"] = max(before["peak_gflops"] or 0, after["peak_gflops"] or 0) or None
                    elif f == "rnn-exp":
                        r = run_json([BENCH, "--data", data[row]])
                    else:
                        r = run_json([sys.executable, PEER, "--peer", f, "--data", data[row]], peer=True)
                except Unsupported as e:
                    notes[row] = f"rnn-exp: {e}"
                    impls[row].remove(f)
                    del runs[row][f]
                    continue
                runs[row][f].append(r)
            print(f"  rep {rep + 1}/{a.reps} {row[0]} {row[1]}: " + ", ".join(
                f"{f} {runs[row][f][-1]['sample_steps_per_s']:,.0f}" for f in impls[row]), flush=True)
    print()

    ok = True
    columns = ["numpy", "torch", "jax", "rnn-exp"]
    columns = [c for c in columns if any(c in impls[row] for row in rows)]
    header = (f"{'layer':<6} {'workload':<8} " + " ".join(f"{c:>11}" for c in columns)
              + f" {'best peer':>10} {'ratio':>7} {'median':>7} {'GFLOP/s':>8}  final loss vs rnn-exp's (max rel. diff.)")
    if rows:
        print(header)
    for row in rows:
        layer, name = row
        top = {f: max(r["sample_steps_per_s"] for r in rs) for f, rs in runs[row].items()}
        med = {f: statistics.median(r["sample_steps_per_s"] for r in rs) for f, rs in runs[row].items()}
        peers = [f for f in top if f != "rnn-exp"]
        best = max(peers, key=lambda f: top[f]) if peers else None
        best_median = max(peers, key=lambda f: med[f]) if peers else None
        ref_name = "rnn-exp" if "rnn-exp" in med else (peers[0] if peers else None)
        ref = runs[row][ref_name][0]["final_loss"] if ref_name else None
        diffs = {f: max(abs(r["final_loss"] - ref) / abs(ref) for r in rs) for f, rs in runs[row].items() if f != ref_name}
        agree = all(v <= TOLERANCE for v in diffs.values())
        ok &= agree
        ratio = top["rnn-exp"] / top[best] if "rnn-exp" in top and best else None
        ratio_median = med["rnn-exp"] / med[best_median] if "rnn-exp" in med and best_median else None
        rate = gflops(layer, name, top["rnn-exp"]) if "rnn-exp" in top else None
        rate_median = gflops(layer, name, med["rnn-exp"]) if "rnn-exp" in med else None
        results["rows"][f"{layer}-{name}"] = {
            "shape": dict(zip("IHCBK", common.SHAPES[name])), "windows": windows[row], "warmup": warmup,
            "sample_steps_per_s": top, "sample_steps_per_s_median": med, "runs": runs[row], "best_peer": best,
            "ratio": ratio, "best_peer_median": best_median, "ratio_median": ratio_median,
            "gemm_flops_per_sample_step": common.gemm_flops_per_sample_step(layer, *common.SHAPES[name][:3],
                                                                            common.SHAPES[name][4]),
            "rnn_exp_gflops": rate, "rnn_exp_gflops_median": rate_median, "loss_reference": ref_name, "final_loss": ref, "loss_rel_diff": diffs,
            "loss_agrees": agree, "note": notes.get(row)}
        cells = " ".join(f"{top[c]:>11,.0f}" if c in top else f"{'-':>11}" for c in columns)
        worst = max(diffs.values(), default=0.0)
        verdict = ("same" if agree else "DIFFERENT: " + ", ".join(f for f, v in diffs.items() if v > TOLERANCE))
        if ref_name != "rnn-exp":
            verdict += f" (vs {ref_name}: no rnn-exp)"
        print(f"{layer:<6} {name:<8} {cells} {best or '-':>10} "
              + (f"{ratio:>6.2f}x" if ratio else f"{'-':>7}") + (f" {ratio_median:>6.2f}x" if ratio_median else f" {'-':>7}")
              + (f" {rate:>8.1f}" if rate else f" {'-':>8}")
              + f"  {verdict} ({worst:.1e})")
    for row, n in notes.items():
        print(f"  {row[0]} {row[1]}: {n}")
    # The same table in CPU time (each implementation's best repetition): on a shared machine the
    # wall-clock rates above include the time other processes held the CPU; these do not.
    if rows and all(r.get("sample_steps_per_cpu_s") for row in rows for rs in runs[row].values() for r in rs):
        print(f"in CPU time (sample-steps per CPU-second; the machine's load: {os.getloadavg()[0]:.1f}):")
        for row in rows:
            layer, name = row
            top = {f: max(r["sample_steps_per_cpu_s"] for r in rs) for f, rs in runs[row].items() if rs}
            peers = [f for f in top if f != "rnn-exp"]
            best = max(peers, key=lambda f: top[f]) if peers else None
            ratio = top["rnn-exp"] / top[best] if "rnn-exp" in top and best else None
            rate = gflops(layer, name, top["rnn-exp"]) if "rnn-exp" in top else None
            results["rows"][f"{layer}-{name}"].update(sample_steps_per_cpu_s=top, ratio_cpu=ratio, rnn_exp_gflops_cpu=rate)
            cells = " ".join(f"{top[c]:>11,.0f}" if c in top else f"{'-':>11}" for c in columns)
            print(f"{layer:<6} {name:<8} {cells} {best or '-':>10} " + (f"{ratio:>6.2f}x" if ratio else f"{'-':>7}")
                  + f" {'':>7}" + (f" {rate:>8.1f}" if rate else f" {'-':>8}"))
        print()
    kernels = {}
    for row in rows:
        for f, rs in runs[row].items():
            if rs and f not in kernels:
                kernels[f] = rs[0].get("kernel") or rs[0].get("version", "?")
    results["kernels"] = kernels
    if rows:
        print("matrix-product kernels used: " + "; ".join(f"{f}: {k}" for f, k in kernels.items()))
        print("(sample-steps/s, each implementation's best repetition; ratio = rnn-exp / best peer, median = the same "
              "from the medians; GFLOP/s = rnn-exp's GEMM flops per second at its best, "
              "4IG + (6-2/K)HG + 6HC per sample-step, indrnn 4IH + 6HC; final loss: every peer within 1e-4 "
              "relative)\n")

    if a.detail:
        results["detail"] = {}
        for row in rows:
            if "rnn-exp" not in impls[row]:
                continue
            out = subprocess.run([BENCH, "--data", data[row], "--detail"], capture_output=True, text=True, check=True,
                                 env=dict(os.environ, OPENBLAS_NUM_THREADS="1"), preexec_fn=pinned)
            lines = [json.loads(x) for x in out.stdout.strip().splitlines() if x.startswith("{")]
            results["detail"][f"{row[0]}-{row[1]}"] = lines
            print(f"{row[0]} {row[1]} (I, H, C, B, K) = {common.SHAPES[row[1]]}: each product alone, best of 5")
            for d in lines:
                print(f"  {d['product']:<58} {'x'.join(map(str, d['shape'])):>13} {d['gflops']:>7.1f} GFLOP/s  {d['path']}")
        print()

    peak = max(peaks, key=lambda p: p["peak_gflops"] or 0) if peaks else run_json([PEAK_FMA])
    results["peak_fma"] = dict(peak, measurements=[p["peak_gflops"] for p in peaks])
    print(f"single-thread FMA peak: {peak['peak_gflops']} GFLOP/s at best over {len(peaks) or 1} measurement(s) "
          f"(AVX2 {peak['avx2_gflops']}, AVX-512 {peak['avx512_gflops']})")
    if peak["peak_gflops"]:
        for layer in layers:
            r = results["rows"].get(f"{layer}-large")
            if not (r and r["rnn_exp_gflops"]):
                continue
            I, H, C, B, K = common.SHAPES["large"]
            paired = [common.gemm_flops_per_sample_step(layer, I, H, C, K) * run["sample_steps_per_s"] / 1e9
                      / run["peak_beside"] for run in r["runs"]["rnn-exp"] if run.get("peak_beside")]
            frac = r["rnn_exp_gflops"] / peak["peak_gflops"]
            r["fraction_of_peak"] = frac
            r["fraction_of_peak_paired"] = paired
            line = f"{layer} large: best run {r['rnn_exp_gflops']:.1f} GFLOP/s = {100 * frac:.0f}% of the best peak"
            if paired:
                line += (f"; against the peak measured beside each run: best {100 * max(paired):.0f}%, "
                         f"median {100 * statistics.median(paired):.0f}%")
            print(line)

    if a.only is None or any(online_row(alg) in a.only for alg in ONLINE):
        online_rows(a, tmp, warmup, results, peak, installed)
    if a.only is not None:
        finish(a, results, tmp, ok)
        return

    sgemm = run_json([BENCH, "--sgemm", "64", "512", "512"])
    large = results["rows"]["rnn-large"]["rnn_exp_gflops"]
    results["sgemm_64x512x512_gflops"] = sgemm["gflops"]
    results["large_fraction_of_sgemm"] = large / sgemm["gflops"]
    print(f"single-thread SGEMM 64x512x512: {sgemm['gflops']:.1f} GFLOP/s ({sgemm['blas_core']}); rnn-exp rnn large "
          f"reaches {large:.1f} GFLOP/s = {100 * large / sgemm['gflops']:.0f}% of it")

    # Sweep throughput: runs of the medium model on `random`, --jobs 1 vs --jobs 2 (not pinned).
    n = 4 if a.quick else 32
    sweep = write_sweep(os.path.join(tmp, "sweep.yaml"),
                        "name: throughput\ndataset: {kind: random, inputs: 64, classes: 64, train: 8000, validation: 100}\n"
                        "model: {layers: [{type: rnn, units: 128}, {type: dense, activation: softmax}]}\n"
                        "training: {epochs: 1, batch: 32, tau_max: 25, optimizer: {name: sgd, lr: 0.01}}\n", n)
    t1 = timed([RNN_EXP, "run", sweep, "--results", os.path.join(tmp, "r1"), "--jobs", "1", "--quiet"])
    t2 = timed([RNN_EXP, "run", sweep, "--results", os.path.join(tmp, "r2"), "--jobs", "2", "--quiet"])
    results["sweep_seconds"] = {"runs": n, "jobs1": t1, "jobs2": t2, "speedup": t1 / t2}
    print(f"sweep of {n} medium runs: --jobs 1 {t1:.2f} s, --jobs 2 {t2:.2f} s: {t1 / t2:.2f}x")

    # Gradient diagnostics: the medium model through rnn-exp with and without gradient_every: 10
    # (reference 2 x tau_max back, a stream needs a number) and credit off. Target: < 25% overhead.
    medium_body = ("name: diag\ndataset: {kind: random, inputs: 64, classes: 64, train: 200000, validation: 100}\n"
                   "model: {layers: [{type: rnn, units: 128}, {type: dense, activation: softmax}]}\n"
                   "training: {epochs: 10, batch: 32, tau_max: 25, optimizer: {name: sgd, lr: 0.01}}\n")
    reps = 1 if a.quick else 3
    plain = write_sweep(os.path.join(tmp, "diag-off.yaml"), medium_body, 1)
    with_diag = write_sweep(os.path.join(tmp, "diag-on.yaml"),
                            medium_body + "diagnostics: {gradient_every: 10, reference_tau_max: 50}\n", 1)
    off, on = [], []
    for i in range(reps):
        off.append(timed([RNN_EXP, "run", plain, "--results", os.path.join(tmp, f"d-off-{i}"), "--jobs", "1", "--quiet", "--no-report"]))
        on.append(timed([RNN_EXP, "run", with_diag, "--results", os.path.join(tmp, f"d-on-{i}"), "--jobs", "1", "--quiet", "--no-report"]))
    overhead = statistics.median(on) / statistics.median(off) - 1
    results["diagnostics_overhead"] = {"off_s": statistics.median(off), "on_s": statistics.median(on), "fraction": overhead}
    print(f"gradient diagnostics on the medium model (gradient_every 10, reference 50 steps): "
          f"{statistics.median(off):.2f} s -> {statistics.median(on):.2f} s, overhead {100 * overhead:.1f}% (target < 25%)")

    # Per-run overhead: trivial runs, so that the time is start-up, config, result writing and the
    # summaries. Measured at several sweep sizes: the cost per run must not grow with the sweep.
    sizes = [10, 150] if a.quick else [150, 3000, 10000]
    tiny_body = ("name: tiny\ndataset: {kind: count-ones, length: 2, train: 1, validation: 1}\n"
                 "model: {layers: [{type: rnn, units: 1, activation: identity}]}\ntraining: {epochs: 1, batch: 1}\n")
    per_run = {}
    for n in sizes:
        tiny = write_sweep(os.path.join(tmp, f"tiny{n}.yaml"), tiny_body, n)
        t = timed([RNN_EXP, "run", tiny, "--results", os.path.join(tmp, f"r3-{n}"), "--jobs", "1", "--quiet", "--no-report"])
        per_run[n] = 1000 * t / n
        print(f"per-run overhead, {n} trivial runs in one process (--jobs 1): {per_run[n]:.1f} ms per run")
    results["per_run_overhead_ms"] = per_run[sizes[0]]
    results["per_run_overhead_ms_by_sweep_size"] = {str(n): v for n, v in per_run.items()}
    print(f"per-run overhead at {sizes[-1]} runs / at {sizes[0]} runs: {per_run[sizes[-1]] / per_run[sizes[0]]:.2f}x")

    # Memory of the large workload: model bound = weights + SGD state (none) + the window's stored
    # activations; the data arrays (inputs and targets of every window) are held by every peer too.
    I, H, C, B, K = common.SHAPES["large"]
    weights = 4 * (I * H + H * H + H + C * H + C)
    window = 4 * (K + 1) * B * (H + C)
    steps = (warmup + windows["rnn", "large"]) * K
    data_bytes = steps * B * (I * 4 + 4 + 1)  # inputs (float32), class ids (int32), mask (uint8)
    rss = peak_rss_mb([BENCH, "--data", data["rnn", "large"]])
    bound = 1.5 * (weights + window) / 2**20 + 30
    results["large_memory_mb"] = {"peak_rss": rss, "data": data_bytes / 2**20, "weights": weights / 2**20,
                                  "window_activations": window / 2**20, "bound_without_data": bound}
    print(f"rnn large workload peak RSS {rss:.1f} MB: data arrays {data_bytes / 2**20:.1f} MB + the rest "
          f"{rss - data_bytes / 2**20:.1f} MB; bound 1.5 x (weights {weights / 2**20:.1f} MB + window "
          f"{window / 2**20:.1f} MB) + 30 MB = {bound:.1f} MB")

    # Memory of a many-run sweep (one process, --jobs 2) against a 10-run one.
    n = 20 if a.quick else 200
    many = write_sweep(os.path.join(tmp, "many.yaml"),
                       "name: many\ndataset: {kind: adding, length: 10, train: 50, validation: 10}\n"
                       "model: {layers: [{type: rnn, units: 16}, {type: dense, activation: identity}]}\n"
                       "training: {epochs: 2, batch: 10}\n", n)
    rss_many = peak_rss_mb([RNN_EXP, "run", many, "--results", os.path.join(tmp, "r4"), "--jobs", "2", "--quiet"])
    rss10 = peak_rss_mb([RNN_EXP, "run", many, "--results", os.path.join(tmp, "r5"), "--jobs", "2", "--quiet",
                         "--set", "sweep.training.seed=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"])
    results["sweep_memory_mb"] = {"runs": n, f"runs_{n}": rss_many, "runs_10": rss10}
    print(f"peak RSS of a sweep: 10 runs {rss10:.1f} MB, {n} runs {rss_many:.1f} MB")

    # The report at scale (issue 34): time and size of `rnn-exp report` at 6,000 runs.
    import report_bench
    results["report_at_scale"] = report_bench.run(RNN_EXP, quick=a.quick, reps=1 if a.quick else 3)

    finish(a, results, tmp, ok)


def finish(a, results, tmp, ok):
    """Writes the results (latest.json; latest-quick.json with --quick; latest-only.json with
    --only) and exits 1 when a final loss disagreed."""
    out = os.path.join(RESULTS, "latest-quick.json" if a.quick else "latest-only.json" if a.only else "latest.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwritten: {os.path.relpath(out, ROOT)}")
    shutil.rmtree(tmp, ignore_errors=True)
    if not ok or results.get("online_loss_failed"):
        print("FAILED: a final loss differs from rnn-exp's by more than 1e-4: not the same work")
        sys.exit(1)


if __name__ == "__main__":
    main()
