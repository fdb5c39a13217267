"""numpy peer, online learning of an Elman layer: RTRL, SnAp-1, UORO, RFLO and KF-RTRL by hand, float32.

Model (see common.py): h_n = tanh(W_s x_n + W_t h_{n-1} + b), p_n = softmax(W_o h_n + b_o),
loss_n = mean over the B lanes of -log p_n[y_n]. The B lanes are independent pieces of one
stream; h_0 = 0 and the influence is 0 before step 1, and both are carried over the whole stream
(never reset).

Written from the online algorithms' equations (Williams & Zipser 1989; Menick et al. 2021;
Tallec & Ollivier 2018; Murray 2019; Mujika, Meier & Steger 2018; notation of Marschall, Cho & Savin 2020). The recurrent
layer's parameters are one matrix Wc = [W_s | W_t | b] (H x C, C = I + H + 1) acting on
a_n = [x_n; h_{n-1}; 1], so z_n = Wc a_n; D_n = diag(1 - h_n^2) = diag(tanh'(z_n)); the Jacobian
is J_n = D_n W_t and the immediate influence I_n[k; i, j] = [k = i] D_n[k] a_n[j] (unit k touches
only its own row of Wc). P = H C. Wc's gradient splits back into dW_s, dW_t, db by columns.

Online training, tau_b = 1, plain SGD (lr = common.LR). At each step n, with the weights in force:
  forward   z = a_n Wc^T (all lanes, one product), h_n = tanh(z), D = 1 - h_n^2
  influence M_{n-1} -> M_n with this step's W_t (below); never reset at an update
  readout   e = (softmax(W_o h_n + b_o) - onehot(y_n)) / B;  dW_o = e^T h_n, db_o = sum e (exact)
            q = e W_o = dloss_n/dh_n through the readout at this step only (lanes, H)
  recurrent dWc = sum over lanes of q_lane^T M_lane
  update    w -= lr * dw for every tensor (recurrent and readout)

  rtrl   M (lanes, H, H, C) = dh_n/dWc exactly:  M_n = J_n M_{n-1} + I_n.
         J_n = D W_t differs per lane only by the row scaling, so the lanes' J_n are built
         (lanes, H, H) and J_n M_{n-1} is one batched matrix product (np.matmul over the lane
         axis, H x H times H x P per lane: H^2 P multiply-adds per lane, the dominant cost);
         I_n is added on the diagonal blocks M[lane, k, k, :] (a strided view, no loop);
         dWc = q (1 x lanes*H) times M (lanes*H x P), one product.
  snap1  M[k, j] ~ dh_k/dWc[k, j] (H x C per lane): the structural SnAp-1 pattern of one rnn
         layer (unit k and its own row, whatever the values):
         M_n[k, :] = D_n[k] (W_t[k, k] M_{n-1}[k, :] + a_n);  dWc[k, :] = sum_lanes q[k] M[k, :].
         Carried as M_n = D_n N_n (row k scaled by D_n[k]), N (unit, lane, C):
         N_n = (W_t[k, k] D_{n-1}[k]) N_{n-1} + a_n,  dWc[k, :] = sum_lanes (q D_n)[k] N_n[k, :]
         (two passes over N and one batched product per step, H products of 1 x lanes x C).
  rflo   the same storage (unit, lane, C):  M_n = lambda M_{n-1} + D_n a_n^T  (lambda =
         rflo_decay; 0.5 when the workload does not give it);  dWc[k, :] = sum_lanes q[k] M[k, :].
  uoro   one rank-one pair per lane, M ~ a~ theta~^T, a~ (lanes, H), theta~ (lanes, H, C):
         Ja = D (W_t a~),  nu~ = (nu D) (x) a_n (the immediate influence seen by nu),
         rho0 = sqrt(|theta~| / |Ja|)   (1 when either norm is 0),
         rho1 = sqrt(|nu~| / |nu|)      (1 when |nu~| = 0; |nu| = sqrt(H), |nu~| = |nu D| |a_n|,
                                         the norm of an outer product),
         a~ <- rho0 Ja + rho1 nu,  theta~ <- theta~ / rho0 + nu~ / rho1,
         dWc = sum_lanes (q . a~) theta~ (one product). Norms: sums of squares in float64 (theta~
         copied to float64 once per step); rho = (squared norm ratio)^(1/4), then float32.
         nu in {-1, +1}^H is a pure function of (seed, epoch, batch, lane, step), see
         uoro_noise(); it is computed for the whole stream in __init__ (not timed).
  kf-rtrl  (SPEC 3.5, rnn-exp's OnlineGradient+KFRTRL.swift) one Kronecker pair per lane,
         M[k; i, j] ~ A[k, i] u[j]: u (lanes, C), A stored (unit k, lane, row i) so that
         W_t A_{n-1} for all lanes is ONE product W_t (H x H) times (H x lanes*H):
           G = W_t A_{n-1},  H_n A_{n-1} = D_n G (row k scaled by D_n[k]),
           p1 = (|H_n A_{n-1}|_F^2 / |u_{n-1}|^2)^(1/4),  p2 = (|D_n|^2 / |a_n|^2)^(1/4)
                (1 where a norm is 0; |H_n A|_F^2 = sum_k D_n[k]^2 |G[k]|^2),
           u_n = c1 p1 u_{n-1} + c2 p2 a_n,   A_n = (c1 / p1) D_n G + (c2 / p2) diag(D_n)
                (one pass over G with the (unit, lane) factor c1 D / p1, then the diagonal,
                a strided view),
           dWc = sum_lanes (A_n^T q) u_n^T = v^T u (v (lanes, H) = A_n^T q per lane, one batched
                matmul on the lane-major view of A; then one product).
         The squared norms are summed in the working precision and their ratios taken in
         float64 (rnn-exp sums them in float64: the losses agree to float32 rounding all the
         same). c1, c2 = entries 0 and 1 of rnn-exp's signs for (seed 0, epoch 0, batch 0, lane,
         step): uoro_noise(steps, B, 2) (the engine draws 2R signs per lane and step, R = 1
         recurrent layer; the same generator as UORO's nu), computed in __init__ (not timed).

Memory per lane: rtrl H P scalars (H = 32, I = 16: 50 k, 200 kB float32), the others P or 2P,
kf-rtrl C + H^2.

Single-threaded through numpy's BLAS (OPENBLAS_NUM_THREADS=1, set by peer.py before numpy is
imported). Timed (common.time_training, a window = K online steps = K updates): every step's
forward, influence update, gradients and update. The reported loss is the mean of the per-step
losses over the last K steps of the call (each step stores its lanes' softmax sum and target
logit; the logs are taken once per call). Check: check_numpy_online.py (float64 mode against
Tests/Reference/online_reference.py).
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

from common import LR

ALGORITHMS = ("rtrl", "snap1", "uoro", "rflo", "kf-rtrl")
LAYERS = ("rnn",)
DEFAULT_RFLO_DECAY = 0.5

# ---- UORO noise: nu for (seed, epoch, batch, lane, step), bit-identical to rnn-exp's ------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STREAM_MUL = np.uint64(0xD1B54A32D192ED03)
UORO_STREAM = 0x554F524F


def _u(k):
    return np.uint64(k)


def _mix(x):
    """SplitMix64's finaliser of x + golden (elementwise, uint64 arrays, arithmetic mod 2^64)."""
    z = x + _GOLDEN
    z = (z ^ (z >> _u(30))) * _M1
    z = (z ^ (z >> _u(27))) * _M2
    return z ^ (z >> _u(31))


def _rotl(x, k):
    return (x << _u(k)) | (x >> _u(64 - k))


def uoro_noise(steps, B, H, seed=0, epoch=0, batch=0, first_step=1, dtype=np.float32):
    """(steps, B, H) of +-1: entry [t, lane] is nu of step first_step + t (1-based), that lane.

    key = mix(mix(mix(mix(mix(seed) ^ epoch) ^ batch) ^ lane) ^ step), mix(x) = SplitMix64's
    output for state x; xoshiro256** seeded with four SplitMix64 outputs from
    key + stream * 0xD1B54A32D192ED03 (stream = 0x554F524F); every 64-bit output gives 64 signs,
    least significant bit first (1 -> +1, 0 -> -1); the H entries use the first ceil(H/64) outputs.
    """
    with np.errstate(over="ignore"):
        key = _mix(np.array([seed], dtype=np.uint64))
        key = _mix(key ^ _u(epoch))
        key = _mix(key ^ _u(batch))
        key = _mix(key ^ np.arange(B, dtype=np.uint64))                      # (B,)
        step = np.arange(first_step, first_step + steps, dtype=np.uint64)
        key = _mix(key[None, :] ^ step[:, None])                              # (steps, B)
        x = key + _u(UORO_STREAM) * _STREAM_MUL
        s = []
        for _ in range(4):                                  # SplitMix64: x += golden, output
            s.append(_mix(x))                               # the finaliser of the new x
            x = x + _GOLDEN
        s0, s1, s2, s3 = s
        words = []
        for _ in range(-(-H // 64)):                                          # xoshiro256** next()
            words.append(_rotl(s1 * _u(5), 7) * _u(9))
            t = s1 << _u(17)
            s2 = s2 ^ s0
            s3 = s3 ^ s1
            s1 = s1 ^ s2
            s0 = s0 ^ s3
            s2 = s2 ^ t
            s3 = _rotl(s3, 45)
        w = np.stack(words, axis=-1)                                          # (steps, B, words)
        bits = (w[..., None] >> np.arange(64, dtype=np.uint64)) & _u(1)       # (steps, B, words, 64)
    bits = bits.reshape(steps, B, -1)[:, :, :H]
    return (bits.astype(dtype) * 2 - 1).astype(dtype)


# ---- the trainer ----------------------------------------------------------------------------------

class Trainer:
    version = f"numpy {np.__version__}"

    def __init__(self, weights, x, y, K, algorithm="rtrl", rflo_decay=None, dtype=np.float32,
                 noise=None, lr=LR):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown online algorithm {algorithm!r} (one of {', '.join(ALGORITHMS)})")
        dt = np.dtype(dtype)
        self.dtype, self.algorithm, self.K = dt, algorithm, K
        Ws, Wt, b = (np.asarray(weights[f"layers.0.{n}"], dtype=dt) for n in ("W_s", "W_t", "b"))
        Wo, bo = (np.asarray(weights[f"layers.1.{n}"], dtype=dt) for n in ("W_s", "b"))
        H, I = Ws.shape
        C = Wo.shape[0]
        steps, B = x.shape[0], x.shape[1]
        Cc, P = I + H + 1, H * (I + H + 1)
        self.I, self.H, self.C, self.B, self.Cc, self.P = I, H, C, B, Cc, P
        self.x = np.ascontiguousarray(x, dtype=dt)
        self.y = np.ascontiguousarray(y, dtype=np.intp)
        self.lr = dt.type(lr)
        self.decay = dt.type(DEFAULT_RFLO_DECAY if rflo_decay is None else rflo_decay)

        # Parameters, in one flat buffer so that SGD is one operation: Wc = [W_s | W_t | b]
        # (H x C) and the readout [W_o | b_o] (classes x H+1); the gradients likewise.
        self.params = np.empty(P + C * (H + 1), dtype=dt)
        self.grads = np.zeros_like(self.params)
        self.step_buf = np.empty_like(self.params)
        self.Wc, self.Wo = self.params[:P].reshape(H, Cc), self.params[P:].reshape(C, H + 1)
        self.gWc, self.gWo = self.grads[:P].reshape(H, Cc), self.grads[P:].reshape(C, H + 1)
        self.Wc[...] = np.concatenate([Ws, Wt, b[:, None]], axis=1)
        self.Wo[...] = np.concatenate([Wo, bo[:, None]], axis=1)
        self.Wt = self.Wc[:, I:I + H]                      # views: they follow the SGD updates
        self.Wt_diag = np.diagonal(self.Wc, offset=I)      # W_t[k, k] = Wc[k, I + k]
        self.WoH = self.Wo[:, :H]
        self.WcT, self.WoT, self.WtT = self.Wc.T, self.Wo.T, self.Wt.T

        # a_n = [x_n; h_{n-1}; 1] in two alternating buffers: step n writes h_n into the other
        # one, where it is a_{n+1}'s middle block; [h_n; 1] is that buffer's last H + 1 columns.
        self.abuf = np.zeros((2, B, Cc), dtype=dt)
        self.abuf[:, :, -1] = 1
        self.z = np.empty((B, H), dtype=dt)
        self.D = np.empty((B, H), dtype=dt)
        self.logits = np.empty((B, C), dtype=dt)
        self.p = np.empty((B, C), dtype=dt)
        self.q = np.empty((B, H), dtype=dt)
        self.p_flat = self.p.reshape(-1)
        self.target = np.arange(B) * C + self.y             # flat index of (lane, y) in p, per step
        self.B_ = dt.type(B)
        self.invB = dt.type(1.0 / B)
        # per step and lane: sum of exp(logits - max) and the target's logit - max; the losses
        # -log p[y] = log(sum) - (logit_y - max) are formed once per train() call (vectorised)
        self.total = np.zeros((steps, B), dtype=dt)
        self.picked = np.zeros((steps, B), dtype=dt)

        if algorithm == "rtrl":
            self.M = np.zeros((2, B, H, H, Cc), dtype=dt)   # [buffer, lane, unit k, row i, column j]
            e = dt.itemsize
            # M[buffer, lane, k, k, :] for all lanes and units, as one strided view per buffer
            self.Mdiag = [as_strided(self.M[i], shape=(B, H, Cc), strides=(H * P * e, (P + Cc) * e, e),
                                     writeable=True) for i in range(2)]
            self.J = np.empty((B, H, H), dtype=dt)
            self.imm = np.empty((B, H, Cc), dtype=dt)
            self.cur = 0
            self.influence = self._rtrl
        elif algorithm == "snap1":
            # M_n = D_n (.) N_n row-wise: N (unit k, lane, column j) is carried, and
            # N_n = (W_t[k, k] D_{n-1}[k]) N_{n-1} + a_n (D_0 = 0, N_0 = 0).
            self.N = np.zeros((H, B, Cc), dtype=dt)
            self.Dprev = np.zeros((B, H), dtype=dt)
            self.c = np.empty((B, H), dtype=dt)
            self.influence = self._snap1
        elif algorithm == "rflo":
            self.M = np.zeros((H, B, Cc), dtype=dt)          # (unit k, lane, column j)
            self.imm = np.empty((H, B, Cc), dtype=dt)
            self.influence = self._rflo
        elif algorithm == "kf-rtrl":
            e = dt.itemsize
            self.u = np.zeros((B, Cc), dtype=dt)                 # u per lane
            self.A = np.zeros((H, B, H), dtype=dt)               # A[lane][k, i] at [k, lane, i]
            self.A2 = self.A.reshape(H, B * H)
            self.G = np.empty((H, B, H), dtype=dt)               # W_t A_{n-1}
            self.G2 = self.G.reshape(H, B * H)
            self.Adiag = as_strided(self.A, shape=(B, H), strides=(H * e, (B * H + 1) * e), writeable=True)
            self.rowsq = np.empty((H, B), dtype=dt)              # |G[k, lane, :]|^2
            self.D2 = np.empty((B, H), dtype=dt)
            self.S = np.empty((H, B), dtype=dt)                  # (c1 / p1) D_n, unit-major
            self.v = np.empty((B, H), dtype=dt)                  # A_n^T q per lane
            self.v3, self.A_lanes = self.v[:, None, :], self.A.transpose(1, 0, 2)
            self.sq = np.empty((4, B), dtype=dt)                 # |H A|^2, |u|^2, |D|^2, |a|^2
            self.sq64 = np.empty((4, B), dtype=np.float64)
            self.ratio = np.empty((2, B), dtype=np.float64)      # p1, p2
            self.fac64 = np.empty((4, B), dtype=np.float64)      # c1 p1, c2 p2, c1 / p1, c2 / p2
            self.fac = np.empty((4, B), dtype=dt)
            self.kf_noise = (uoro_noise(steps, B, 2, dtype=np.float64) if noise is None
                             else np.ascontiguousarray(noise, dtype=np.float64).reshape(steps, B, 2))
            self.kf_signs = np.ascontiguousarray(self.kf_noise.transpose(0, 2, 1))   # (steps, 2, B)
            self.influence = self._kfrtrl
        else:
            self.at = np.zeros((B, H), dtype=dt)              # a~
            self.th = np.zeros((B, H, Cc), dtype=dt)          # theta~
            self.th64 = np.empty((B, P), dtype=np.float64)     # theta~ in float64, for its norm
            # float64 on purpose (norms): th64, sq, num, den, rho; everything else is self.dtype
            self.JN = np.empty((2, B, H), dtype=dt)            # [J a~, nu D]
            self.imm = np.empty((B, H, Cc), dtype=dt)
            self.s = np.empty(B, dtype=dt)
            self.sq = np.empty((2, B), dtype=np.float64)
            self.num = np.empty((2, B), dtype=np.float64)
            self.den = np.empty((2, B), dtype=np.float64)
            self.den[1] = H                                    # |nu|^2
            self.rho = np.empty((2, B), dtype=np.float64)
            self.noise = (uoro_noise(steps, B, H, dtype=dt) if noise is None
                          else np.ascontiguousarray(noise, dtype=dt))
            self.influence = self._uoro

    # -- influence updates: M_{n-1} -> M_n, then this step's recurrent gradient into gWc --------

    def _rtrl(self, t, a, D, q):
        B, H, P = self.B, self.H, self.P
        new = 1 - self.cur
        Mp, Mn = self.M[self.cur], self.M[new]
        np.multiply(D[:, :, None], self.Wt, out=self.J)                     # J = D W_t per lane
        np.matmul(self.J, Mp.reshape(B, H, P), out=Mn.reshape(B, H, P))     # J M_{n-1}
        np.einsum("bk,bj->bkj", D, a, out=self.imm)                         # I_n's non-zeros
        self.Mdiag[new] += self.imm
        self.cur = new
        np.matmul(q.reshape(1, B * H), Mn.reshape(B * H, P), out=self.gWc.reshape(1, P))

    def _snap1(self, t, a, D, q):
        N, c = self.N, self.c
        np.multiply(self.Dprev, self.Wt_diag, out=c)
        np.multiply(N, c.T[:, :, None], out=N)
        np.add(N, a, out=N)                                                 # N_n
        np.copyto(self.Dprev, D)
        np.multiply(q, D, out=c)                                            # q D: dWc = sum q M
        np.matmul(c.T[:, None, :], N, out=self.gWc[:, None, :])

    def _rflo(self, t, a, D, q):
        M = self.M
        np.multiply(D.T[:, :, None], a, out=self.imm)                       # D a^T per lane
        np.multiply(M, self.decay, out=M)
        np.add(M, self.imm, out=M)
        np.matmul(q.T[:, None, :], M, out=self.gWc[:, None, :])

    def _uoro(self, t, a, D, q):
        B, P = self.B, self.P
        at, th2, JN, num, den, rho = self.at, self.th.reshape(B, P), self.JN, self.num, self.den, self.rho
        nu = self.noise[t]
        np.matmul(at, self.WtT, out=JN[0])
        np.multiply(JN[0], D, out=JN[0])                                    # J a~
        np.multiply(nu, D, out=JN[1])                                       # nu~ = (nu D) (x) a
        # norms, sums of squares in float64: |theta~|, |J a~|, |nu~| = |nu D| |a|
        # (squared: num = [|theta~|^2, |nu~|^2], den = [|J a~|^2, |nu|^2 = H]; rho = (num/den)^(1/4))
        np.copyto(self.th64, th2)
        np.matmul(self.th64[:, None, :], self.th64[:, :, None], out=num[0, :, None, None])
        np.einsum("sbh,sbh->sb", JN, JN, dtype=np.float64, out=self.sq)
        den[0] = self.sq[0]
        np.multiply(self.sq[1], np.einsum("bc,bc->b", a, a, dtype=np.float64), out=num[1])
        rho.fill(1.0)                                   # rho0, rho1: 1 where a norm is 0
        np.divide(num, den, out=rho, where=(num > 0) & (den > 0))
        np.sqrt(rho, out=rho)
        np.sqrt(rho, out=rho)
        r0, r1 = rho.astype(self.dtype)
        np.multiply(JN[0], r0[:, None], out=at)
        at += r1[:, None] * nu                                              # a~_n
        np.divide(th2, r0[:, None], out=th2)
        np.divide(JN[1], r1[:, None], out=JN[1])
        np.einsum("bk,bj->bkj", JN[1], a, out=self.imm)
        th2 += self.imm.reshape(B, P)                                       # theta~_n
        np.einsum("bh,bh->b", q, at, out=self.s)
        np.matmul(self.s[None, :], th2, out=self.gWc.reshape(1, P))

    def _kfrtrl(self, t, a, D, q):
        A, G, u, sq, sq64, ratio, fac64, fac = self.A, self.G, self.u, self.sq, self.sq64, self.ratio, self.fac64, self.fac
        np.matmul(self.Wt, self.A2, out=self.G2)                            # W_t A_{n-1}, all lanes
        np.einsum("kbi,kbi->kb", G, G, out=self.rowsq)
        np.multiply(D, D, out=self.D2)
        np.einsum("bk,kb->b", self.D2, self.rowsq, out=sq[0])               # |H_n A_{n-1}|_F^2
        np.einsum("bj,bj->b", u, u, out=sq[1])
        np.sum(self.D2, axis=1, out=sq[2])
        np.einsum("bj,bj->b", a, a, out=sq[3])
        np.copyto(sq64, sq)
        num, den = sq64[0::2], sq64[1::2]
        ratio.fill(1.0)                                                     # 1 where a norm is 0
        np.divide(num, den, out=ratio, where=(num > 0) & (den > 0))
        np.sqrt(ratio, out=ratio)
        np.sqrt(ratio, out=ratio)                                           # p1, p2
        c = self.kf_signs[t]                                                # c1, c2 (2, lanes)
        np.multiply(c, ratio, out=fac64[:2])
        np.divide(c, ratio, out=fac64[2:])
        np.copyto(fac, fac64)
        u *= fac[0][:, None]
        u += fac[1][:, None] * a                                            # u_n
        np.multiply(D.T, fac[2], out=self.S)
        np.multiply(G, self.S[:, :, None], out=A)                           # (c1 / p1) H_n A_{n-1}
        self.Adiag += fac[3][:, None] * D                                   # + (c2 / p2) D_n
        np.matmul(q[:, None, :], self.A_lanes, out=self.v3)                 # A_n^T q per lane
        np.matmul(self.v.T, u, out=self.gWc)

    # -- one online step --------------------------------------------------------------------------

    def step(self, t):
        """Step n = t + 1 of the stream: forward, influence, gradients (left in gWc, gWo), SGD."""
        I, H = self.I, self.H
        a, an = self.abuf[t & 1], self.abuf[(t + 1) & 1]
        a[:, :I] = self.x[t]
        h = an[:, I:I + H]
        np.matmul(a, self.WcT, out=self.z)
        np.tanh(self.z, out=h)                                              # h_n, into a_{n+1}
        D = self.D
        np.multiply(h, h, out=D)
        np.subtract(1, D, out=D)
        hh = an[:, I:]                                                      # [h_n; 1]
        # readout: softmax cross-entropy, its exact gradient, and q = dloss/dh_n
        lg, p, target = self.logits, self.p, self.target[t]
        np.matmul(hh, self.WoT, out=lg)
        lg -= lg.max(axis=1, keepdims=True)
        np.take(lg, target, out=self.picked[t])
        np.exp(lg, out=p)
        total = np.sum(p, axis=1, out=self.total[t])
        p /= (total * self.B_)[:, None]                                     # softmax / B
        self.p_flat[target] -= self.invB                                    # e = (p - onehot) / B
        np.matmul(p.T, hh, out=self.gWo)
        np.matmul(p, self.WoH, out=self.q)
        self.influence(t, a, D, self.q)
        # SGD on every tensor at once
        np.multiply(self.grads, self.lr, out=self.step_buf)
        self.params -= self.step_buf

    def train(self, first, count):
        K = self.K
        step = self.step
        for t in range(first * K, (first + count) * K):
            step(t)
        end = (first + count) * K
        return self.losses(end - K, end).mean()

    def losses(self, start, end):
        """The per-step losses (mean over the lanes of -log p[y]) of steps start+1 .. end, float64."""
        return (np.log(self.total[start:end].astype(np.float64)) - self.picked[start:end]).mean(axis=1)

    def gradients(self):
        """This step's gradient by tensor name (the recurrent layer's split out of dWc)."""
        I, H = self.I, self.H
        g, o = self.gWc, self.gWo
        return {"layers.0.W_s": g[:, :I], "layers.0.W_t": g[:, I:I + H], "layers.0.b": g[:, -1],
                "layers.1.W_s": o[:, :H], "layers.1.b": o[:, -1]}

    def sync(self):
        pass

    def loss_value(self, loss):
        return float(loss)
