#!/usr/bin/env python3
"""`make crosscheck`: rnn-exp's online algorithms against braintrace, an outside JAX library.

    .build/crosscheck-venv/bin/python Benchmarks/crosscheck/braintrace_crosscheck.py [--steps N]

For snap1, rflo (lambda 0.5), uoro and rtrl: the same Elman model (the benchmark's "small" rnn
workload: 16 inputs, 32 tanh units, a 16-class softmax readout, 16 lanes of one stream), the same
data and initial weights (Benchmarks/peers/common.py, exported once, float32 values), trained
online in float64 with one plain SGD update per step (lr 0.01), the influence carried over the
whole stream, by
  - rnn-exp: Benchmarks' tbptt-bench (the engine's OnlineTraining) with --precision float64
    --trace FILE, which writes every update's loss and gradient;
  - braintrace (pinned by `make crosscheck`), whose learner carries the trace of the cell
    braintrace.nn.ValinaRNNCell (h = tanh([x, h] W + b): rnn-exp's Wc = [W_s | W_t | b] on
    [x; h; 1], W = [W_s | W_t]^T) and gives that step's online gradient of the step's loss
    (mean over the lanes of the softmax cross-entropy of a readout W_o h + b_o kept outside the
    learner: inside it a readout gets no gradient under braintrace's 'single-step' VJP). The
    readout's gradient is its exact same-step gradient, as in rnn-exp (formed here from the
    learner's h). SGD on every tensor between the steps, in this script.
The braintrace rule of each rnn-exp algorithm (what makes them the same algorithm on this cell):
  snap1  braintrace.SnAp, n = 1 (recurrence_scope 'coupled': sigma'(z_k) W_t[k, k] kept;
         braintrace's D_RTRL ('diagonal') drops it on a cell without a leak: not SnAp-1)
  rflo   ETraceConfig(temporal_recursion='scalar_leak', decay=0.5): M <- 0.5 M + D a^T
  uoro   braintrace.UORO (vjp_method 'single-step') vmapped over the lanes (one rank-one pair per
         lane, as rnn-exp; unbatched it keeps one pair for all lanes), fed rnn-exp's noise nu
         (numpy_online.uoro_noise: seed 0, epoch 0, batch 0, lane, step) through its
         `_draw_projection` seam, table-indexed by its step counter, which this script starts
         at lane * steps in each lane (so no key is drawn). braintrace adds a guard eps to every
         norm of the normalisers, rho0 = sqrt((|theta~| + eps) / (|J a~| + eps)) (rnn-exp: no
         guard, rho = 1 where a norm is 0); with eps = 1e-30 (UORO_EPS) the first step's
         rho0 = sqrt(eps / eps) = 1, as rnn-exp's, and the later ones agree to rounding. With
         braintrace's default eps = 1e-12 the gradients differ by up to 8e-14 (measured): the
         guard's relative shift of the norms, not a difference of the rule
  rtrl   braintrace.SnAp, n = 2, vmapped over the lanes (n >= the diameter of a dense
         recurrent group: the full within-group influence, i.e. exact RTRL)
Compared at every step n: the loss (mean over the lanes), and the gradient of every tensor
(|g_braintrace - g_rnn-exp| / |g_rnn-exp|, the recurrent layer's W_s, W_t, b and the readout's
W_o, b_o together). Printed: per algorithm the largest relative difference over the steps, of
the losses and of the gradients; exit 1 when one is above BOUND (1e-10; the expected size is
1e-15, float64 rounding). Non-vacuity: the four algorithms' gradients differ from each other by
far more than the bound. --reference numpy compares braintrace with the project's float64 numpy
peer (Benchmarks/peers/numpy_online.py) instead of rnn-exp.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

# SnAp(n=2) on a dense cell: braintrace warns that its position analysis widened the pattern to
# all-to-all (every unit of the group), which is what makes it full RTRL here. Expected.
warnings.filterwarnings("ignore", message="The SnAp-n position analysis")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "peers"))
BENCH = os.path.join(ROOT, "Benchmarks", ".build", "release", "tbptt-bench")

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import brainstate  # noqa: E402
import braintrace  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402  (Benchmarks/peers: workloads, data, initial weights)
import numpy_online  # noqa: E402  (rnn-exp's UORO noise, uoro_noise)

brainstate.environ.set(precision=64)

BOUND = 1e-10
UORO_EPS = 1e-30   # braintrace UORO's norm guard (default 1e-12), see the docstring
ALGORITHMS = ("snap1", "rflo", "uoro", "rtrl")
RFLO_DECAY = 0.5


def versions():
    from importlib.metadata import version
    return ", ".join(f"{p} {version(p)}" for p in ("braintrace", "brainstate", "jax", "numpy"))


# ---- rnn-exp ----------------------------------------------------------------------------------

def rnn_exp(data, steps, P):
    """(losses (steps,), gradients (steps, P)) of rnn-exp's run, from tbptt-bench --trace."""
    trace = os.path.join(data, "trace.f64")
    out = subprocess.run([BENCH, "--data", data, "--precision", "float64", "--trace", trace],
                         capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if out.returncode != 0:
        sys.exit(f"tbptt-bench failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    line = json.loads(out.stdout.strip().splitlines()[-1])
    assert line["dtype"] == "float64", line
    rows = np.fromfile(trace, dtype=np.float64).reshape(-1, 2 + P)
    assert rows.shape[0] == steps and np.array_equal(rows[:, 0], np.arange(1, steps + 1)), rows[:, 0]
    return rows[:, 1], rows[:, 2:]


# ---- braintrace -------------------------------------------------------------------------------

class TableUORO(braintrace.UORO):
    """braintrace's UORO with its projection nu read from a table instead of drawn: entry
    `step` of the flattened (lanes * steps, H) table, where each lane's step counter starts at
    lane * steps (set by the caller). The carried key stays as raw uint32 data (a typed
    threefry key cannot be carried through a vmapped learner in 0.2.6); it is split, never used."""

    table = None

    def _initial_projection_key(self):
        return jax.random.key_data(jax.random.key(0))

    def _draw_projection(self, key, step, group_index, shape, dtype):
        return self.table[step].reshape(shape).astype(dtype)

    def _make_scan_fn(self, weight_vals):
        inner = super()._make_scan_fn(weight_vals)

        def scan_fn(carry, jacobians):
            new, out = inner(carry, jacobians)
            if jnp.issubdtype(new["key"].dtype, jax.dtypes.prng_key):     # back to raw uint32
                new = dict(new, key=jax.random.key_data(new["key"]))
            return new, out
        return scan_fn


def learner_for(algorithm, cell, x0, B, noise, steps):
    if algorithm == "snap1":
        return braintrace.compile(cell, braintrace.SnAp, x0, batch_size=B, n=1)
    if algorithm == "rflo":
        return braintrace.compile(cell, braintrace.ETraceConfig(temporal_recursion="scalar_leak", decay=RFLO_DECAY),
                                  x0, batch_size=B)
    if algorithm == "rtrl":
        return braintrace.compile(cell, braintrace.SnAp, x0, batch_size=B, vmap=True, n=2)
    TableUORO.table = jnp.asarray(np.transpose(noise, (1, 0, 2)).reshape(B * steps, -1))
    return braintrace.compile(cell, TableUORO, x0, batch_size=B, vmap=True, vjp_method="single-step",
                              projection_eps=UORO_EPS)


def set_step_counters(learner, B, steps):
    """UORO: every lane's step counter starts at lane * steps (its rows of the nu table)."""
    found = []
    for path, st in learner.states().items():
        if "projection_step" in "/".join(map(str, path)):
            st.value = jnp.arange(B, dtype=st.value.dtype) * steps
            found.append(path)
    if len(found) != 1:
        sys.exit(f"expected one UORO step counter in the vmapped learner, found {found}")


def braintrace_run(algorithm, weights, x, y, lr, noise):
    """(losses (steps,), gradients (steps, P)) of braintrace's run, in rnn-exp's layout order."""
    steps, B, I = x.shape
    H = weights["layers.0.W_t"].shape[0]
    C = weights["layers.1.b"].shape[0]
    f64 = lambda a: jnp.asarray(np.asarray(a, dtype=np.float64))  # noqa: E731
    cell = braintrace.nn.ValinaRNNCell(I, H, activation="tanh")
    (cell_path, cell_param), = [(p, s) for p, s in cell.states(brainstate.ParamState).items()]
    cell_param.value = {"weight": f64(np.concatenate([weights["layers.0.W_s"].T, weights["layers.0.W_t"].T], axis=0)),
                        "bias": f64(weights["layers.0.b"])}
    learner = learner_for(algorithm, cell, f64(x[0]), B, noise, steps)
    if algorithm == "uoro":
        set_step_counters(learner, B, steps)
    Wo, bo = f64(weights["layers.1.W_s"]), f64(weights["layers.1.b"])

    def step_loss(xt, yt, Wo, bo):
        h = learner(xt)
        logp = jax.nn.log_softmax(h @ Wo.T + bo, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, yt[:, None], axis=-1)), h

    @brainstate.transform.jit
    def one_step(xt, yt, Wo, bo):
        grads, losses, hs = learner.etrace_grad(xt[None], yt[None], Wo[None], bo[None], step_fn=step_loss,
                                                has_aux=True, return_value=True)
        (g,) = grads.values()
        return g, losses[0], hs[0]

    losses, grads = np.empty(steps), np.empty((steps, H * (I + H + 1) + C * (H + 1)))
    for t in range(steps):
        g, loss, h = one_step(f64(x[t]), jnp.asarray(y[t].astype(np.int32)), Wo, bo)
        # the readout's exact gradient at this step (softmax cross-entropy, mean over the lanes)
        e = (jax.nn.softmax(h @ Wo.T + bo, axis=-1) - jax.nn.one_hot(y[t], C, dtype=jnp.float64)) / B
        gWo, gbo = e.T @ h, e.sum(axis=0)
        gW, gb = np.asarray(g["weight"]), np.asarray(g["bias"])
        grads[t] = np.concatenate([gW[:I].T.ravel(), gW[I:].T.ravel(), gb, np.asarray(gWo).ravel(), np.asarray(gbo)])
        losses[t] = float(loss)
        cell_param.value = jax.tree.map(lambda w, d: w - lr * d, cell_param.value, g)
        Wo, bo = Wo - lr * gWo, bo - lr * gbo
    return losses, grads


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=400, help="online steps (updates) per algorithm (default 400)")
    ap.add_argument("--reference", choices=["rnn-exp", "numpy"], default="rnn-exp",
                    help="compare with rnn-exp (default) or with the project's float64 numpy peer")
    a = ap.parse_args()
    I, H, C, B, K = common.SHAPES["small"]
    if a.steps % K:
        sys.exit(f"--steps must be a multiple of {K}")
    P = H * (I + H + 1) + C * (H + 1)
    if a.reference == "rnn-exp" and not os.path.exists(BENCH):
        sys.exit(f"{BENCH} is missing: `make crosscheck` builds it (cd Benchmarks && swift build -c release)")
    print(f"braintrace cross-check: rnn small (I, H, C, B) = {(I, H, C, B)}, {a.steps} online steps, one SGD "
          f"update per step (lr {common.LR}), float64; {versions()}; reference: {a.reference}")
    worst, last = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for alg in ALGORITHMS:
            data = os.path.join(tmp, alg)
            meta = common.export(data, "small", "rnn", 0, a.steps // K, algorithm=alg,
                                 rflo_decay=RFLO_DECAY if alg == "rflo" else None)
            _, x, y, weights = common.load(data)
            noise = numpy_online.uoro_noise(a.steps, B, H, dtype=np.float64)
            t0 = time.perf_counter()
            if a.reference == "rnn-exp":
                ref_l, ref_g = rnn_exp(data, a.steps, P)
            else:
                tr = numpy_online.Trainer(weights, x, y, K, alg, RFLO_DECAY, dtype=np.float64, noise=noise)
                ref_l, ref_g = np.empty(a.steps), np.empty((a.steps, P))
                for t in range(a.steps):
                    tr.step(t)
                    ref_l[t] = tr.losses(t, t + 1)[0]
                    ref_g[t] = np.concatenate([np.asarray(v).ravel() for v in tr.gradients().values()])
            t1 = time.perf_counter()
            bt_l, bt_g = braintrace_run(alg, weights, x, y, meta["lr"], noise)
            t2 = time.perf_counter()
            dl = float(np.max(np.abs(bt_l - ref_l) / np.abs(ref_l)))
            dg = float(np.max(np.linalg.norm(bt_g - ref_g, axis=1) / np.linalg.norm(ref_g, axis=1)))
            worst[alg] = max(dl, dg)
            last[alg] = ref_g
            print(f"{'ok  ' if worst[alg] <= BOUND else 'FAIL'} {alg:<6} max rel. diff over {a.steps} steps: "
                  f"loss {dl:.1e}, gradient {dg:.1e}   (final loss {ref_l[-1]:.12f}; "
                  f"{a.reference} {t1 - t0:.1f} s, braintrace {t2 - t1:.1f} s)", flush=True)
    # Non-vacuity: the four algorithms' gradients differ (from step 2 on) by far more than the bound.
    spread = min(np.max(np.linalg.norm(last[p][1:] - last[q][1:], axis=1) / np.linalg.norm(last[q][1:], axis=1))
                 for i, p in enumerate(ALGORITHMS) for q in ALGORITHMS[i + 1:])
    print(f"{'ok  ' if spread > 1e3 * BOUND else 'FAIL'} non-vacuity: the algorithms' gradients differ from each other "
          f"by {spread:.1e} at least (relative; the largest over the steps, the smallest over the pairs)")
    bad = [k for k, v in worst.items() if v > BOUND] + (["non-vacuity"] if spread <= 1e3 * BOUND else [])
    print(f"largest relative difference per algorithm: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
          + f" (bound {BOUND:.0e})")
    print("all agree" if not bad else f"ABOVE THE BOUND: {', '.join(bad)}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
