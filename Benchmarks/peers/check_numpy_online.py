#!/usr/bin/env python3
"""Checks numpy_online.py (the numpy peer of the online algorithms) against the independent
float64 reference Tests/Reference/online_reference.py; exits 1 on any failure.

    python3 Benchmarks/peers/check_numpy_online.py

1. UORO noise: the vectorised uoro_noise() against a scalar Python-integer implementation of the
   same definition (SplitMix64 key mixing, xoshiro256**, 64 signs per output, least significant
   bit first), itself checked on the published test vectors (SplitMix64 from state 0;
   xoshiro256** from state {1, 2, 3, 4}).
2. Gradients: on a tiny case (I = 3, H = 4, classes 3, 2 lanes, 8 steps, random weights and data,
   tau_b = 1, SGD lr 0.3 between the updates, so the influence runs on with changed weights) the
   Trainer in float64 mode gives, at every step, every tensor's gradient and the loss of the
   reference run through its CLI (case JSON: an rnn tanh layer under a dense softmax layer,
   cross-entropy, mask all set; uoro gets the Trainer's own noise as the case's "noise", kf-rtrl
   rnn-exp's signs, uoro_noise(T, B, 2), as the case's "kf_noise" (T, B, 1, 2)):
   relative difference <= 1e-10, for rtrl, snap1, uoro, rflo (lambda = 0.5 and 0) and kf-rtrl.
3. float32: the float32 Trainer keeps every array float32 (no silent promotion) and its per-window
   losses stay within 1e-4 (relative) of the float64 Trainer's on the "small" workload's shapes.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "..", "Tests", "Reference", "online_reference.py")
sys.path.insert(0, HERE)

import common  # noqa: E402
import numpy_online  # noqa: E402

MASK = (1 << 64) - 1
TOL = 1e-10
failures = []


def report(name, ok, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        failures.append(name)


# ---- 1. noise -------------------------------------------------------------------------------

def splitmix_out(x):
    """SplitMix64: state x -> (new state, output)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return x, z ^ (z >> 31)


def mix(x):
    return splitmix_out(x)[1]


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def xoshiro_next(s):
    result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
    t = (s[1] << 17) & MASK
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 45)
    return result


def scalar_nu(seed, epoch, batch, lane, step, H):
    key = mix(seed)
    for v in (epoch, batch, lane, step):
        key = mix(key ^ v)
    x = (key + 0x554F524F * 0xD1B54A32D192ED03) & MASK
    s = []
    for _ in range(4):
        x, out = splitmix_out(x)
        s.append(out)
    signs = []
    while len(signs) < H:
        w = xoshiro_next(s)
        signs += [1.0 if (w >> i) & 1 else -1.0 for i in range(64)]
    return signs[:H]


def check_noise():
    _, first = splitmix_out(0)
    report("splitmix64 test vector", first == 0xE220A8397B1DCDAF, f"first output from state 0 = {first:#x}")
    s = [1, 2, 3, 4]
    got = [xoshiro_next(s) for _ in range(4)]
    want = [11520, 0, 1509978240, 1215971899390074240]
    report("xoshiro256** test vector", got == want, f"first outputs from {{1, 2, 3, 4}} = {got}")
    steps, B, H = 7, 3, 70                       # H > 64: two 64-bit outputs per (lane, step)
    vec = numpy_online.uoro_noise(steps, B, H)
    ref = np.array([[scalar_nu(0, 0, 0, lane, t + 1, H) for lane in range(B)] for t in range(steps)])
    report("uoro noise (vectorised = scalar)", vec.dtype == np.float32 and np.array_equal(vec, ref),
           f"{steps} steps x {B} lanes x {H} units, {int((vec != ref).sum())} entries differ, "
           f"mean {vec.mean():+.3f}")
    other = numpy_online.uoro_noise(2, 1, 5, seed=7, epoch=3, batch=2, first_step=11)
    ref = np.array([[scalar_nu(7, 3, 2, 0, n, 5)] for n in (11, 12)])
    report("uoro noise (seed, epoch, batch, first step)", np.array_equal(other, ref), "")


# ---- 2. gradients against the reference ---------------------------------------------------------

def tiny_case(rng, I=3, H=4, C=3, B=2, T=8):
    weights = {"layers.0.W_s": rng.normal(size=(H, I)), "layers.0.W_t": 0.9 * rng.normal(size=(H, H)),
               "layers.0.b": rng.normal(size=H), "layers.1.W_s": rng.normal(size=(C, H)),
               "layers.1.b": rng.normal(size=C)}
    x = rng.normal(size=(T, B, I))
    x[2, 0, 1] = 0.0                            # a zero input must not wipe snap1's carried entry
    y = rng.integers(0, C, size=(T, B))
    return weights, x, y


def flat(weights):
    return np.concatenate([np.asarray(weights[n]).ravel() for n in common.tensor_names("rnn")])


def run_reference(case, tmp):
    path, out = os.path.join(tmp, "case.json"), os.path.join(tmp, "out.json")
    with open(path, "w") as f:
        json.dump(case, f)
    subprocess.run([sys.executable, REFERENCE, path, out], check=True)
    with open(out) as f:
        return json.load(f)


def check_gradients(tmp):
    rng = np.random.default_rng(20240531)
    weights, x, y = tiny_case(rng)
    T, B, I = x.shape
    H, C = weights["layers.0.W_t"].shape[0], weights["layers.1.b"].shape[0]
    lr = 0.3
    noise = numpy_online.uoro_noise(T, B, H, dtype=np.float64)
    kf_noise = numpy_online.uoro_noise(T, B, 2, dtype=np.float64)
    own_noise = {"uoro": noise, "kf-rtrl": kf_noise}
    for algorithm, decay in (("rtrl", None), ("snap1", None), ("uoro", None), ("rflo", 0.5), ("rflo", 0.0),
                             ("kf-rtrl", None)):
        case = {"layers": [{"kind": "rnn", "inputs": I, "units": H, "activation": "tanh"},
                           {"kind": "dense", "inputs": H, "units": C, "activation": "softmax"}],
                "loss": "cross-entropy", "weights": flat(weights).tolist(), "inputs": x.tolist(),
                "mask": np.ones((T, B), dtype=bool).tolist(), "targets": y.tolist(),
                "tau_b": 1, "lr": lr, "algorithm": algorithm,
                "rflo_decay": numpy_online.DEFAULT_RFLO_DECAY if decay is None else decay}
        if algorithm == "uoro":
            case["noise"] = noise.tolist()
        if algorithm == "kf-rtrl":
            case["kf_noise"] = kf_noise.reshape(T, B, 1, 2).tolist()
        ref = run_reference(case, tmp)
        trainer = numpy_online.Trainer(weights, x, y, 1, algorithm, decay, dtype=np.float64,
                                       noise=own_noise.get(algorithm), lr=lr)
        worst_g = worst_l = 0.0
        ok = len(ref) == T
        for t in range(T):
            trainer.step(t)
            g = flat(trainer.gradients())
            r = np.array(ref[t]["grad"]) if ok else g
            ok = ok and ref[t]["n"] == t + 1
            worst_g = max(worst_g, np.linalg.norm(g - r) / np.linalg.norm(r))
            loss = trainer.losses(t, t + 1)[0]
            worst_l = max(worst_l, abs(loss - ref[t]["loss"]) / abs(ref[t]["loss"]))
        name = algorithm + ("" if decay is None else f" (lambda {decay})")
        report(f"{name} vs online_reference.py", ok and worst_g <= TOL and worst_l <= TOL,
               f"{T} updates, max rel. gradient diff {worst_g:.1e}, max rel. loss diff {worst_l:.1e}")
    # Non-vacuity: the algorithms' gradients differ on this case (W_t is full).
    last = {}
    for algorithm in numpy_online.ALGORITHMS:
        tr = numpy_online.Trainer(weights, x, y, 1, algorithm, 0.5, dtype=np.float64,
                                  noise=own_noise.get(algorithm), lr=lr)
        for t in range(T):
            tr.step(t)
        last[algorithm] = flat(tr.gradients())
    spread = min(np.linalg.norm(last[a] - last["rtrl"]) / np.linalg.norm(last["rtrl"])
                 for a in ("snap1", "uoro", "rflo", "kf-rtrl"))
    report("non-vacuity (snap1, uoro, rflo, kf-rtrl differ from rtrl)", spread > 1e-3, f"min rel. diff {spread:.2f}")


# ---- 3. float32 ------------------------------------------------------------------------------

def check_float32():
    I, H, C, B, K = common.SHAPES["small"]
    windows = 5
    x, y = common.stream_data(I, C, B, windows * K)
    weights = common.initial_weights("rnn", I, H, C)
    for algorithm in numpy_online.ALGORITHMS:
        t32 = numpy_online.Trainer(weights, x, y, K, algorithm)
        t64 = numpy_online.Trainer(weights, x, y, K, algorithm, dtype=np.float64)
        worst = 0.0
        for w in range(windows):
            l32, l64 = t32.train(w, 1), t64.train(w, 1)
            worst = max(worst, abs(l32 - l64) / abs(l64))
        # uoro's float64 norms and kf-rtrl's float64 norm ratios and signs, on purpose
        norms = ("th64", "sq", "num", "den", "rho", "sq64", "ratio", "fac64", "kf_noise", "kf_signs")
        wrong = sorted({k for k, v in vars(t32).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"
                        and v.dtype != np.float32 and k not in norms})
        report(f"{algorithm} float32", worst <= 1e-4 and not wrong,
               f"{windows} windows of {K} steps, max rel. window-loss diff to float64 {worst:.1e}"
               + (f"; not float32: {wrong}" if wrong else ""))


def main():
    check_noise()
    with tempfile.TemporaryDirectory() as tmp:
        check_gradients(tmp)
    check_float32()
    print("all checks passed" if not failures else f"{len(failures)} check(s) FAILED: {', '.join(failures)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
