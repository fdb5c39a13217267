"""JAX peer, online learning of an Elman layer: RTRL, SnAp-1, UORO, RFLO and KF-RTRL, one jit over the stream.

The JAX twin of numpy_online.py (same model, same five algorithms with the same equations, same
data, initial weights, UORO noise and KF-RTRL signs, same interface), written as a JAX user writes it at their
fastest: one online step is a pure function of (weights, state, x_n, y_n, nu_n), and the whole
call of train(first, count) — count windows of K steps, count * K steps and updates — is ONE
jax.jit-compiled lax.scan over the stream (no Python per step or per window). See numpy_online.py
for the equations; in short, with Wc = [W_s | W_t | b] (H x C, C = I + H + 1) acting on
a_n = [x_n; h_{n-1}; 1] and D_n = 1 - h_n^2, at every step n (tau_b = 1, plain SGD, lr = common.LR):
  forward   z = a_n Wc^T, h_n = tanh(z), D = 1 - h_n^2                   (all lanes, one dot)
  readout   log p = log_softmax(W_o h_n + b_o);  e = (p - onehot(y_n)) / B;
            dW_o = e^T [h_n; 1] (exact);  q = e W_o                    (dloss_n/dh_n, this step)
  influence M_{n-1} -> M_n with this step's W_t, then dWc = sum over lanes of q_lane^T M_lane
  update    w -= lr dw (recurrent and readout)

  rtrl   M (lanes, H, H, C): M_n = (D W_t) M_{n-1} + I_n, one batched dot over the lane axis
         (H x H times H x P per lane), I_n added on the diagonal blocks M[lane, k, k, :] (an
         identity mask, fused by XLA into the dot's output); dWc = one dot over lanes and units.
  snap1  N (lanes, H, C), M_n = D_n N_n row-wise: N_n = (W_t[k, k] D_{n-1}[k]) N_{n-1} + a_n,
         dWc[k, :] = sum_lanes (q D_n)[lane, k] N_n[lane, k, :].
  rflo   M (lanes, H, C): M_n = lambda M_{n-1} + D_n a_n^T, dWc[k, :] = sum_lanes q[k] M[k, :].
  uoro   a~ (lanes, H), theta~ (lanes, H, C): Ja = D (W_t a~), nu~ = (nu D) (x) a_n,
         rho0 = (|theta~|^2 / |Ja|^2)^(1/4), rho1 = (|nu D|^2 |a_n|^2 / H)^(1/4) (1 where a norm
         is 0), a~ <- rho0 Ja + rho1 nu, theta~ <- theta~ / rho0 + nu~ / rho1,
         dWc = sum_lanes (q . a~) theta~. The norms are sums of squares in the working precision
         (float32: what a JAX user writes; the numpy and PyTorch peers sum them in float64 to
         follow rnn-exp; the losses still agree, check_jax_online.py). nu = numpy_online.uoro_noise
         (rnn-exp's noise), computed for the whole stream in __init__ (not timed).
  kf-rtrl  u (lanes, C), A (lanes, H, H): HA = D (W_t A) (batched: one dot over the lane axis),
         p1 = (|HA|_F^2 / |u|^2)^(1/4), p2 = (|D|^2 / |a_n|^2)^(1/4) (1 where a norm is 0; sums of
         squares in the working precision, as for uoro), u <- c1 p1 u + c2 p2 a_n,
         A <- (c1 / p1) HA + (c2 / p2) diag(D), dWc = sum_lanes (A^T q) u^T. c1, c2 per lane and
         step = numpy_online.uoro_noise(steps, B, 2) (rnn-exp's signs), scanned like uoro's nu.

Lanes, two ways (both compile to one scan; check_jax_online.py checks both): "batched" writes the
lane axis explicitly in every product; "vmap" writes the influence update and gradient of ONE
lane and jax.vmap's it over the lanes (the forward and the readout stay batched; the per-lane
gradients are summed). Each algorithm runs the faster of the two (FASTEST), measured on the rnn
small workload, one thread, jax 0.8.1, 5 interleaved repetitions, best (sample-steps/s):
    rtrl  vmap 44,964  batched 12,226   (batched: XLA puts the gradient's dot over lanes and
                                         units into a loop fusion, computed element by element)
    snap1 vmap 1.61M   batched 1.46M
    uoro  vmap 0.55M   batched 0.56M    (a tie; batched kept)
    rflo  vmap 2.24M   batched 1.35M
    kf-rtrl  batched 508k  vmap 421k  (CPU time, best of 3 interleaved, 100 windows, on the
                                         shared machine at load 8-11: 31.5 against 38.0 us per
                                         step; a unit-major layout with one 2-D dot for W_t A,
                                         as the numpy peer, 39 us: batched kept)
JAX_ONLINE_MODE=batched|vmap overrides it (for timing the other).

Compilation is kept out of the timing: compile(warmup, windows) (called by common.time_training
before anything is timed, reported as `compile_seconds`) compiles the scan for both call lengths
ahead of time (jit(...).lower(...).compile()) and runs each executable once on copies of the
state; the warm-up windows then run compiled code too. train() returns the device array of the
per-step losses and loss_value() takes the last K after the timing (slicing on the device inside
the timed call would compile a slice for each new length: 30-50 ms in a quick run). The
per-step losses (mean over the lanes of -log p[y]) come out of the scan; train() returns the mean
of its last K. One thread: peer.py sets JAX_PLATFORMS=cpu and XLA_FLAGS before jax is imported,
and run_bench.py pins every implementation to one CPU. dtype float64 (with jax_enable_x64 set by
the caller) serves check_jax_online.py's comparison with the float64 numpy peer.
"""

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from common import LR
from numpy_online import ALGORITHMS, DEFAULT_RFLO_DECAY, LAYERS, uoro_noise

__all__ = ["ALGORITHMS", "LAYERS", "DEFAULT_RFLO_DECAY", "MODES", "FASTEST", "Trainer"]

MODES = ("batched", "vmap")
FASTEST = {"rtrl": "vmap", "snap1": "vmap", "uoro": "batched", "rflo": "vmap", "kf-rtrl": "batched"}


# ---- the influence updates: (state, a, D, q, nu, Wt) -> (state', dWc) -----------------------------
# Batched: a (B, C), D, q, nu (B, H), Wt (H, H). Per lane (for vmap): a (C,), D, q, nu (H,).

def _rtrl_batched(M, a, D, q, nu, Wt, decay):
    B, H, _, Cc = M.shape
    J = D[:, :, None] * Wt[None]                                          # D W_t per lane
    Mn = jnp.einsum("bki,bip->bkp", J, M.reshape(B, H, H * Cc)).reshape(B, H, H, Cc)
    eye = jnp.eye(H, dtype=M.dtype)
    Mn = Mn + eye[None, :, :, None] * (D[:, :, None, None] * a[:, None, None, :])   # + I_n
    return Mn, jnp.einsum("bk,bkp->p", q, Mn.reshape(B, H, H * Cc)).reshape(H, Cc)


def _rtrl_lane(M, a, D, q, nu, Wt, decay):
    H, _, Cc = M.shape
    Mn = ((D[:, None] * Wt) @ M.reshape(H, H * Cc)).reshape(H, H, Cc)
    Mn = Mn + jnp.eye(H, dtype=M.dtype)[:, :, None] * (D[:, None, None] * a[None, None, :])
    return Mn, (q @ Mn.reshape(H, H * Cc)).reshape(H, Cc)


def _snap1_batched(state, a, D, q, nu, Wt, decay):
    N, Dprev = state
    N = (Dprev * jnp.diagonal(Wt))[:, :, None] * N + a[:, None, :]       # N_n
    return (N, D), jnp.einsum("bk,bkj->kj", q * D, N)


def _snap1_lane(state, a, D, q, nu, Wt, decay):
    N, Dprev = state
    N = (Dprev * jnp.diagonal(Wt))[:, None] * N + a[None, :]
    return (N, D), (q * D)[:, None] * N


def _rflo_batched(M, a, D, q, nu, Wt, decay):
    M = decay * M + D[:, :, None] * a[:, None, :]
    return M, jnp.einsum("bk,bkj->kj", q, M)


def _rflo_lane(M, a, D, q, nu, Wt, decay):
    M = decay * M + D[:, None] * a[None, :]
    return M, q[:, None] * M


def _rho(num, den):
    """(num / den)^(1/4), 1 where either squared norm is 0."""
    ok = (num > 0) & (den > 0)
    return jnp.where(ok, jnp.sqrt(jnp.sqrt(num / jnp.where(ok, den, 1))), 1)


def _uoro_batched(state, a, D, q, nu, Wt, decay):
    at, th = state
    H = at.shape[1]
    Ja = (at @ Wt.T) * D                                                   # J a~
    nuD = nu * D                                                           # nu~ = (nu D) (x) a
    r0 = _rho(jnp.sum(th * th, axis=(1, 2)), jnp.sum(Ja * Ja, axis=1))
    r1 = _rho(jnp.sum(nuD * nuD, axis=1) * jnp.sum(a * a, axis=1), jnp.asarray(H, dtype=a.dtype))
    at = r0[:, None] * Ja + r1[:, None] * nu
    th = th / r0[:, None, None] + (nuD / r1[:, None])[:, :, None] * a[:, None, :]
    s = jnp.sum(q * at, axis=1)
    return (at, th), jnp.einsum("b,bkj->kj", s, th)


def _uoro_lane(state, a, D, q, nu, Wt, decay):
    at, th = state
    H = at.shape[0]
    Ja = (Wt @ at) * D
    nuD = nu * D
    r0 = _rho(jnp.sum(th * th), jnp.sum(Ja * Ja))
    r1 = _rho(jnp.sum(nuD * nuD) * jnp.sum(a * a), jnp.asarray(H, dtype=a.dtype))
    at = r0 * Ja + r1 * nu
    th = th / r0 + (nuD / r1)[:, None] * a[None, :]
    return (at, th), jnp.dot(q, at) * th


def _kfrtrl_batched(state, a, D, q, c, Wt, decay):
    u, A = state
    H = A.shape[1]
    HA = D[:, :, None] * jnp.einsum("kl,bli->bki", Wt, A)                  # H_n A_{n-1}
    p1 = _rho(jnp.sum(HA * HA, axis=(1, 2)), jnp.sum(u * u, axis=1))
    p2 = _rho(jnp.sum(D * D, axis=1), jnp.sum(a * a, axis=1))
    c1, c2 = c[:, 0], c[:, 1]
    u = (c1 * p1)[:, None] * u + (c2 * p2)[:, None] * a
    A = (c1 / p1)[:, None, None] * HA + jnp.eye(H, dtype=A.dtype)[None] * ((c2 / p2)[:, None] * D)[:, :, None]
    v = jnp.einsum("bki,bk->bi", A, q)                                     # A^T q per lane
    return (u, A), v.T @ u


def _kfrtrl_lane(state, a, D, q, c, Wt, decay):
    u, A = state
    HA = D[:, None] * (Wt @ A)
    p1 = _rho(jnp.sum(HA * HA), jnp.sum(u * u))
    p2 = _rho(jnp.sum(D * D), jnp.sum(a * a))
    u = (c[0] * p1) * u + (c[1] * p2) * a
    A = (c[0] / p1) * HA + jnp.diag((c[1] / p2) * D)
    return (u, A), jnp.outer(q @ A, u)


INFLUENCE = {"rtrl": (_rtrl_batched, _rtrl_lane), "snap1": (_snap1_batched, _snap1_lane),
             "rflo": (_rflo_batched, _rflo_lane), "uoro": (_uoro_batched, _uoro_lane),
             "kf-rtrl": (_kfrtrl_batched, _kfrtrl_lane)}


def initial_state(algorithm, B, H, Cc, dtype):
    z = lambda *s: jnp.zeros(s, dtype=dtype)  # noqa: E731
    return {"rtrl": lambda: z(B, H, H, Cc), "snap1": lambda: (z(B, H, Cc), z(B, H)),
            "rflo": lambda: z(B, H, Cc), "uoro": lambda: (z(B, H), z(B, H, Cc)),
            "kf-rtrl": lambda: (z(B, Cc), z(B, H, H))}[algorithm]()


def make_run(algorithm, mode, I, H, K, decay, lr):
    """run(Wc, Wo, h, state, x, y, noise, start, count): count * K online steps from step `start`
    (count static), returning the new (Wc, Wo, h, state) and the per-step losses."""
    batched, lane = INFLUENCE[algorithm]
    if mode == "batched":
        influence = batched
    else:
        per_lane = jax.vmap(lane, in_axes=(0, 0, 0, 0, 0, None, None))

        def influence(state, a, D, q, nu, Wt, decay):
            state, g = per_lane(state, a, D, q, nu, Wt, decay)
            return state, g.sum(axis=0)

    def step(carry, inp):
        Wc, Wo, h, state = carry
        x, y, nu = inp
        B = x.shape[0]
        one = jnp.ones((B, 1), dtype=x.dtype)
        a = jnp.concatenate([x, h, one], axis=1)                             # a_n = [x; h_{n-1}; 1]
        h = jnp.tanh(a @ Wc.T)
        D = 1 - h * h
        hh = jnp.concatenate([h, one], axis=1)                               # [h_n; 1]
        logp = jax.nn.log_softmax(hh @ Wo.T, axis=1)
        logp_y = jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
        e = (jnp.exp(logp) - jax.nn.one_hot(y, Wo.shape[0], dtype=x.dtype)) / B
        gWo = e.T @ hh
        q = e @ Wo[:, :H]
        state, gWc = influence(state, a, D, q, nu, Wc[:, I:I + H], decay)
        return (Wc - lr * gWc, Wo - lr * gWo, h, state), -jnp.mean(logp_y)

    def run(Wc, Wo, h, state, x, y, noise, start, count):
        n = count * K
        xs = jax.lax.dynamic_slice_in_dim(x, start, n, axis=0)
        ys = jax.lax.dynamic_slice_in_dim(y, start, n, axis=0)
        nus = jax.lax.dynamic_slice_in_dim(noise, start, n, axis=0)
        (Wc, Wo, h, state), losses = jax.lax.scan(step, (Wc, Wo, h, state), (xs, ys, nus))
        return Wc, Wo, h, state, losses

    return jax.jit(run, static_argnums=(8,), donate_argnums=(0, 1, 2, 3))


class Trainer:
    version = f"jax {jax.__version__}"

    def __init__(self, weights, x, y, K, algorithm="rtrl", rflo_decay=None, dtype=np.float32, lr=LR,
                 mode=None):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown online algorithm {algorithm!r} (one of {', '.join(ALGORITHMS)})")
        mode = mode or os.environ.get("JAX_ONLINE_MODE") or FASTEST[algorithm]
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        dt = np.dtype(dtype)
        self.algorithm, self.K, self.mode, self.dtype = algorithm, K, mode, dt
        Ws, Wt, b = (np.asarray(weights[f"layers.0.{n}"], dtype=dt) for n in ("W_s", "W_t", "b"))
        Wo, bo = (np.asarray(weights[f"layers.1.{n}"], dtype=dt) for n in ("W_s", "b"))
        H, I = Ws.shape
        steps, B = x.shape[0], x.shape[1]
        Cc = I + H + 1
        self.I, self.H, self.B = I, H, B
        self.Wc = jnp.asarray(np.concatenate([Ws, Wt, b[:, None]], axis=1))
        self.Wo = jnp.asarray(np.concatenate([Wo, bo[:, None]], axis=1))
        self.h = jnp.zeros((B, H), dtype=dt)
        self.state = initial_state(algorithm, B, H, Cc, dt)
        self.x = jnp.asarray(np.ascontiguousarray(x, dtype=dt))
        self.y = jnp.asarray(np.ascontiguousarray(y, dtype=np.int32))
        # nu for uoro, c1 and c2 for kf-rtrl (rnn-exp's noise); the others scan over a (steps, B, 1) dummy
        self.noise = jnp.asarray(uoro_noise(steps, B, H, dtype=dt) if algorithm == "uoro"
                                 else uoro_noise(steps, B, 2, dtype=dt) if algorithm == "kf-rtrl"
                                 else np.zeros((steps, B, 1), dtype=dt))
        decay = float(DEFAULT_RFLO_DECAY if rflo_decay is None else rflo_decay)
        self.run = make_run(algorithm, mode, I, H, K, decay, float(lr))
        self.compiled = {}
        self.version = f"jax {jax.__version__} ({mode})"

    def compile(self, *counts):
        """Compiles the scan for these call lengths (windows per train() call) and runs each
        executable once on copies of the state (so that nothing of an executable's first run,
        allocation or any lazy set-up, is timed); returns the seconds."""
        t = time.perf_counter()
        for count in counts:
            if count and count not in self.compiled:
                args = (self.Wc, self.Wo, self.h, self.state, self.x, self.y, self.noise, np.int32(0))
                self.compiled[count] = self.run.lower(*args[:7], args[7], count).compile()
                copies = jax.tree_util.tree_map(jnp.copy, args[:4])
                jax.block_until_ready(self.compiled[count](*copies, *args[4:]))
        return time.perf_counter() - t

    def train(self, first, count):
        """count windows (count * K online steps) from window `first`; their per-step losses."""
        self.compile(count)
        self.Wc, self.Wo, self.h, self.state, losses = self.compiled[count](
            self.Wc, self.Wo, self.h, self.state, self.x, self.y, self.noise, np.int32(first * self.K))
        self.last_losses = losses
        return losses          # loss_value takes the last K, after the timing (slicing a device
                               # array here would compile a slice for each new length)

    def params(self):
        """(Wc, Wo) as numpy arrays: [W_s | W_t | b] and [W_o | b_o]."""
        return np.asarray(self.Wc), np.asarray(self.Wo)

    def sync(self):
        jax.block_until_ready((self.Wc, self.Wo, self.h, self.state))

    def loss_value(self, loss):
        return float(np.mean(np.asarray(loss, dtype=np.float64)[-self.K:]))
