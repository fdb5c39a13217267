"""PyTorch peer, online learning of an Elman layer: RTRL, SnAp-1, UORO, RFLO and KF-RTRL by hand, float32, eager.

The PyTorch twin of numpy_online.py: same model, same five algorithms with the same equations and
the same storage layouts, same data, same UORO noise and KF-RTRL signs (numpy_online.uoro_noise,
computed for the whole stream in __init__, not timed), same interface. See numpy_online.py for the equations; in
short, with Wc = [W_s | W_t | b] (H x C, C = I + H + 1) acting on a_n = [x_n; h_{n-1}; 1] and
D_n = 1 - h_n^2, at every step n (tau_b = 1, plain SGD, lr = common.LR):
  forward   z = a_n Wc^T, h_n = tanh(z), D = 1 - h_n^2           (one mm, all lanes)
  readout   log p = log_softmax(W_o h_n + b_o);  e = (p - onehot(y_n)) / B;
            dW_o = e^T [h_n; 1] (exact);  q = e W_o              (dloss_n/dh_n through the readout)
  influence M_{n-1} -> M_n with this step's W_t, then dWc = sum over lanes of q_lane^T M_lane
  update    w -= lr dw, every tensor at once (one flat parameter buffer, one add_)

  rtrl   M (lanes, H, H, C): J = D W_t per lane, M_n = J M_{n-1} (torch.bmm over the lane axis,
         H x H times H x P per lane: the dominant cost) + I_n on the diagonal blocks
         M[lane, k, k, :] (one as_strided view per buffer, one addcmul_); dWc = one mm.
  snap1  N (unit, lane, C), M_n = D_n N_n row-wise: N_n = (W_t[k, k] D_{n-1}[k]) N_{n-1} + a_n
         (one addcmul), dWc[k, :] = (q D_n)[:, k]^T N_n[k] (one bmm over the unit axis).
  rflo   M (unit, lane, C): M_n = lambda M_{n-1} + D_n a_n^T (mul_, addcmul_), dWc by one bmm.
  uoro   a~ (lanes, H), theta~ (lanes, H, C), rank-one per lane; norms as sums of squares in
         float64 (theta~ copied to float64 once per step), rho = (squared norm ratio)^(1/4) (1 where
         a norm is 0); dWc = (q . a~) theta~ summed over the lanes (one mm).
  kf-rtrl  u (lanes, C), A (unit k, lane, row i): G = W_t A_{n-1} for all lanes in one mm
         (H x H times H x lanes*H); squared norms by linalg.vecdot in float32 (|H A|^2 =
         sum_k D[k]^2 |G[k]|^2), p1 = (|H A|^2 / |u|^2)^(1/4), p2 = (|D|^2 / |a|^2)^(1/4) in
         float64 (1 where a norm is 0); u_n = c1 p1 u + c2 p2 a_n (mul_, addcmul_);
         A_n = (c1 / p1) D G (one mul over A) + (c2 / p2) D on the diagonal (an as_strided view);
         v = A_n^T q per lane (one bmm on the lane-major view of A), dWc = v^T u (one mm).

The loss: each step stores its lanes' log p[y] (gathered from log_softmax); the reported loss is
the mean over the last K steps of the call of the per-step losses (mean over the lanes of
-log p[y]), taken once per call in float64. The numpy peer forms the same quantity as
log(sum exp) - (logit_y - max); the two agree to float32 rounding (check_torch_online.py).

Every tensor is made once in __init__ (and every per-step view of it: the alternating buffers,
the rows of x, y and the noise), so that a step is only kernels, most with out= or in place.
Autograd is off (torch.inference_mode around __init__'s buffers and train()). One thread:
torch.set_num_threads(1), torch.set_num_interop_threads(1) (peer.py sets OMP_NUM_THREADS=1 before
torch is imported). Timed (common.time_training, a window = K online steps = K updates): every
step's forward, influence update, gradients and update.
Check: check_torch_online.py (final losses against numpy_online.py through peer.py).
"""

import numpy as np
import torch

from common import LR
from numpy_online import ALGORITHMS, DEFAULT_RFLO_DECAY, LAYERS, uoro_noise

torch.set_num_threads(1)
if torch.get_num_interop_threads() != 1:  # may be set once per process only
    torch.set_num_interop_threads(1)

__all__ = ["ALGORITHMS", "LAYERS", "DEFAULT_RFLO_DECAY", "Trainer"]


class Trainer:
    version = f"torch {torch.__version__}"

    @torch.inference_mode()
    def __init__(self, weights, x, y, K, algorithm="rtrl", rflo_decay=None):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown online algorithm {algorithm!r} (one of {', '.join(ALGORITHMS)})")
        f32 = torch.float32
        self.algorithm, self.K = algorithm, K
        W = {k: torch.as_tensor(np.asarray(v), dtype=f32) for k, v in weights.items()}
        Ws, Wt, b = W["layers.0.W_s"], W["layers.0.W_t"], W["layers.0.b"]
        Wo, bo = W["layers.1.W_s"], W["layers.1.b"]
        H, I = Ws.shape
        C = Wo.shape[0]
        steps, B = x.shape[0], x.shape[1]
        Cc, P = I + H + 1, H * (I + H + 1)
        self.I, self.H, self.C, self.B, self.Cc, self.P = I, H, C, B, Cc, P
        self.lr = LR
        self.decay = float(DEFAULT_RFLO_DECAY if rflo_decay is None else rflo_decay)
        self.invB = 1.0 / B

        # One flat parameter buffer (SGD is one add_): Wc = [W_s | W_t | b] and [W_o | b_o].
        self.params = torch.empty(P + C * (H + 1), dtype=f32)
        self.grads = torch.zeros_like(self.params)
        self.Wc, self.Wo = self.params[:P].view(H, Cc), self.params[P:].view(C, H + 1)
        self.gWc, self.gWo = self.grads[:P].view(H, Cc), self.grads[P:].view(C, H + 1)
        self.Wc.copy_(torch.cat([Ws, Wt, b[:, None]], dim=1))
        self.Wo.copy_(torch.cat([Wo, bo[:, None]], dim=1))
        # views: they follow the SGD updates
        self.WcT, self.WoT, self.WoH = self.Wc.t(), self.Wo.t(), self.Wo[:, :H]
        self.Wt, self.WtT = self.Wc[:, I:I + H], self.Wc[:, I:I + H].t()
        self.Wt_diag = torch.diagonal(self.Wc, offset=I)          # W_t[k, k] = Wc[k, I + k]
        self.gWc_row, self.gWc_k = self.gWc.view(1, P), self.gWc.unsqueeze(1)

        # the stream, one view per step (x_n, the targets as (B, 1) indices for gather / scatter)
        self.xs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).unbind(0)
        self.ys = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)).unsqueeze(2).unbind(0)
        # per step and lane, log p[y]; the losses are formed once per train() call
        self.logp_y = torch.zeros(steps, B, dtype=f32)
        self.logp_y_rows = self.logp_y.unsqueeze(2).unbind(0)
        self.minus_one = torch.full((B, 1), -1.0, dtype=f32)

        # a_n = [x_n; h_{n-1}; 1] in two alternating buffers (step n writes h_n into the other
        # one, its a_{n+1}); D_n likewise alternates (snap1 reads D_{n-1}); D_0 = 0.
        self.abuf = torch.zeros(2, B, Cc, dtype=f32)
        self.abuf[:, :, -1] = 1
        self.Dbuf = torch.zeros(2, B, H, dtype=f32)
        self.z = torch.empty(B, H, dtype=f32)
        self.ones = torch.ones(B, H, dtype=f32)
        self.logits = torch.empty(B, C, dtype=f32)
        self.logp = torch.empty(B, C, dtype=f32)
        self.p = torch.empty(B, C, dtype=f32)
        self.q = torch.empty(B, H, dtype=f32)
        # per parity of t: (a_n, x-block of a_n, h_n's place, [h_n; 1], D_n, D_{n-1})
        self.par = []
        for s in range(2):
            a, an = self.abuf[s], self.abuf[1 - s]
            self.par.append((a, a[:, :I], an[:, I:I + H], an[:, I:], self.Dbuf[s], self.Dbuf[1 - s]))

        if algorithm == "rtrl":
            self.M = torch.zeros(2, B, H, H, Cc, dtype=f32)      # [buffer, lane, unit k, row i, column j]
            # per buffer: M as (lanes, H, P) and M[lane, k, k, :] as one strided view
            self.Mflat = [self.M[i].view(B, H, P) for i in range(2)]
            self.Mrows = [self.M[i].view(B * H, P) for i in range(2)]
            self.Mdiag = [self.M[i].as_strided((B, H, Cc), (H * P, P + Cc, 1)) for i in range(2)]
            self.J = torch.empty(B, H, H, dtype=f32)
            self.q_row = self.q.view(1, B * H)
            self.cur = 0
            self.influence = self._rtrl
        elif algorithm == "snap1":
            self.N = torch.zeros(H, B, Cc, dtype=f32)          # (unit k, lane, column j)
            self.cT = torch.empty(H, B, dtype=f32)             # per unit and lane, stored unit-major
            self.cT_col, self.cT_row = self.cT.unsqueeze(2), self.cT.unsqueeze(1)
            self.influence = self._snap1
        elif algorithm == "rflo":
            self.M = torch.zeros(H, B, Cc, dtype=f32)          # (unit k, lane, column j)
            self.qT = torch.empty(H, B, dtype=f32)
            self.qT_row = self.qT.unsqueeze(1)
            self.influence = self._rflo
        elif algorithm == "kf-rtrl":
            f64 = torch.float64
            self.u = torch.zeros(B, Cc, dtype=f32)
            self.A = torch.zeros(H, B, H, dtype=f32)              # A[lane][k, i] at [k, lane, i]
            self.A2, self.A_lanes = self.A.view(H, B * H), self.A.permute(1, 0, 2)
            self.G = torch.empty(H, B, H, dtype=f32)              # W_t A_{n-1}
            self.G2 = self.G.view(H, B * H)
            self.Adiag = self.A.as_strided((B, H), (H, B * H + 1))
            self.rowsq = torch.empty(H, B, dtype=f32)
            self.D2 = torch.empty(B, H, dtype=f32)
            self.S = torch.empty(H, B, dtype=f32)                 # (c1 / p1) D, unit-major
            self.v = torch.empty(B, 1, H, dtype=f32)              # A_n^T q per lane
            self.q_lanes = self.q.unsqueeze(1)
            self.sq = torch.empty(4, B, dtype=f32)                # |H A|^2, |u|^2, |D|^2, |a|^2
            self.sq64 = torch.empty(4, B, dtype=f64)
            self.ratio = torch.empty(2, B, dtype=f64)             # p1, p2
            self.fac64 = torch.empty(4, B, dtype=f64)             # c1 p1, c2 p2, c1 / p1, c2 / p2
            self.fac = torch.empty(4, B, dtype=f32)
            self.fac_col = [self.fac[i].unsqueeze(1) for i in range(4)]
            self.one64 = torch.ones((), dtype=f64)
            signs = uoro_noise(steps, B, 2, dtype=np.float64).transpose(0, 2, 1)     # (steps, 2, lanes)
            self.kf_signs = torch.from_numpy(np.ascontiguousarray(signs)).unbind(0)
            self.influence = self._kfrtrl
        else:
            f64 = torch.float64
            self.at = torch.zeros(B, H, dtype=f32)               # a~
            self.th = torch.zeros(B, H, Cc, dtype=f32)           # theta~
            self.th2 = self.th.view(B, P)
            self.th64 = torch.empty(B, P, dtype=f64)             # theta~ in float64, for its norm
            self.JN = torch.empty(2, B, H, dtype=f32)            # [J a~, nu D]
            self.JN64 = torch.empty(2, B, H, dtype=f64)
            self.a64 = torch.empty(B, Cc, dtype=f64)
            self.s = torch.empty(B, dtype=f32)
            self.num = torch.empty(2, B, dtype=f64)              # [|theta~|^2, |nu~|^2]
            self.den = torch.empty(2, B, dtype=f64)              # [|J a~|^2, |nu|^2 = H]
            self.den[1] = H
            self.sq = torch.empty(2, B, dtype=f64)
            self.aa = torch.empty(B, dtype=f64)
            self.rho = torch.empty(2, B, dtype=f64)
            self.rho32 = torch.empty(2, B, 1, dtype=f32)         # [rho0, rho1] per lane, float32
            self.one64 = torch.ones((), dtype=f64)
            self.noise = torch.from_numpy(uoro_noise(steps, B, H, dtype=np.float32)).unbind(0)
            self.influence = self._uoro

    # -- influence updates: M_{n-1} -> M_n, then this step's recurrent gradient into gWc --------

    def _rtrl(self, t, a, D, Dprev, q):
        new = 1 - self.cur
        torch.mul(D.unsqueeze(2), self.Wt, out=self.J)                      # J = D W_t per lane
        torch.bmm(self.J, self.Mflat[self.cur], out=self.Mflat[new])        # J M_{n-1}
        self.Mdiag[new].addcmul_(D.unsqueeze(2), a.unsqueeze(1))            # + I_n on the diagonal
        self.cur = new
        torch.mm(self.q_row, self.Mrows[new], out=self.gWc_row)             # sum_lanes q M

    def _snap1(self, t, a, D, Dprev, q):
        N, cT = self.N, self.cT
        torch.mul(Dprev.t(), self.Wt_diag.unsqueeze(1), out=cT)             # W_t[k, k] D_{n-1}[k]
        torch.addcmul(a, N, self.cT_col, out=N)                             # N_n
        torch.mul(q.t(), D.t(), out=cT)                                     # q D: dWc = sum q M
        torch.bmm(self.cT_row, N, out=self.gWc_k)

    def _rflo(self, t, a, D, Dprev, q):
        M = self.M
        M.mul_(self.decay).addcmul_(D.t().unsqueeze(2), a)                 # lambda M + D a^T
        self.qT.copy_(q.t())
        torch.bmm(self.qT_row, M, out=self.gWc_k)

    def _uoro(self, t, a, D, Dprev, q):
        at, th, th2, JN, num, den, rho, r = self.at, self.th, self.th2, self.JN, self.num, self.den, self.rho, self.rho32
        nu = self.noise[t]
        torch.mm(at, self.WtT, out=JN[0])
        JN[0].mul_(D)                                                       # J a~
        torch.mul(nu, D, out=JN[1])                                         # nu~ = (nu D) (x) a
        # squared norms in float64: num = [|theta~|^2, |nu D|^2 |a|^2], den = [|J a~|^2, H]
        self.th64.copy_(th2)
        torch.bmm(self.th64.unsqueeze(1), self.th64.unsqueeze(2), out=num[0].view(-1, 1, 1))
        self.JN64.copy_(JN)
        torch.sum(self.JN64.square_(), dim=2, out=self.sq)
        den[0].copy_(self.sq[0])
        self.a64.copy_(a)
        torch.sum(self.a64.square_(), dim=1, out=self.aa)
        torch.mul(self.sq[1], self.aa, out=num[1])
        torch.where((num > 0) & (den > 0), num / den, self.one64, out=rho)  # 1 where a norm is 0
        rho.sqrt_().sqrt_()
        r.copy_(rho.unsqueeze(2))                                           # rho0, rho1 in float32
        r0, r1 = r[0], r[1]
        torch.mul(JN[0], r0, out=at)
        at.addcmul_(r1, nu)                                                 # a~_n
        th2.div_(r0)
        JN[1].div_(r1)
        th.addcmul_(JN[1].unsqueeze(2), a.unsqueeze(1))                     # theta~_n
        torch.sum(q * at, dim=1, out=self.s)
        torch.mm(self.s.unsqueeze(0), th2, out=self.gWc_row)

    def _kfrtrl(self, t, a, D, Dprev, q):
        u, A, G, sq, sq64, ratio, fac64, fac, fc = (self.u, self.A, self.G, self.sq, self.sq64, self.ratio,
                                                    self.fac64, self.fac, self.fac_col)
        torch.mm(self.Wt, self.A2, out=self.G2)                             # W_t A_{n-1}, all lanes
        torch.linalg.vecdot(G, G, dim=2, out=self.rowsq)
        torch.mul(D, D, out=self.D2)
        torch.linalg.vecdot(self.D2, self.rowsq.t(), dim=1, out=sq[0])      # |H_n A_{n-1}|_F^2
        torch.linalg.vecdot(u, u, dim=1, out=sq[1])
        torch.sum(self.D2, dim=1, out=sq[2])
        torch.linalg.vecdot(a, a, dim=1, out=sq[3])
        sq64.copy_(sq)
        num, den = sq64[0::2], sq64[1::2]
        torch.where((num > 0) & (den > 0), num / den, self.one64, out=ratio)   # 1 where a norm is 0
        ratio.sqrt_().sqrt_()                                               # p1, p2
        c = self.kf_signs[t]                                                # c1, c2 (2, lanes)
        torch.mul(c, ratio, out=fac64[:2])
        torch.div(c, ratio, out=fac64[2:])
        fac.copy_(fac64)
        u.mul_(fc[0]).addcmul_(fc[1], a)                                    # u_n
        torch.mul(D.t(), fac[2], out=self.S)
        torch.mul(G, self.S.unsqueeze(2), out=A)                            # (c1 / p1) H_n A_{n-1}
        self.Adiag.addcmul_(fc[3], D)                                       # + (c2 / p2) D_n
        torch.bmm(self.q_lanes, self.A_lanes, out=self.v)                   # A_n^T q per lane
        torch.mm(self.v.view(self.B, self.H).t(), u, out=self.gWc)

    # -- one online step --------------------------------------------------------------------------

    def step(self, t):
        """Step n = t + 1 of the stream: forward, influence, gradients (left in gWc, gWo), SGD."""
        a, a_x, h, hh, D, Dprev = self.par[t & 1]
        a_x.copy_(self.xs[t])
        torch.mm(a, self.WcT, out=self.z)
        torch.tanh(self.z, out=h)                                           # h_n, into a_{n+1}
        torch.addcmul(self.ones, h, h, value=-1.0, out=D)                   # D = 1 - h^2
        # readout: log-softmax cross-entropy, its exact gradient, and q = dloss/dh_n
        y, p = self.ys[t], self.p
        torch.mm(hh, self.WoT, out=self.logits)
        torch.log_softmax(self.logits, dim=1, out=self.logp)
        torch.gather(self.logp, 1, y, out=self.logp_y_rows[t])
        torch.exp(self.logp, out=p)
        p.scatter_add_(1, y, self.minus_one).mul_(self.invB)                # e = (p - onehot) / B
        torch.mm(p.t(), hh, out=self.gWo)
        torch.mm(p, self.WoH, out=self.q)
        self.influence(t, a, D, Dprev, self.q)
        self.params.add_(self.grads, alpha=-self.lr)                        # SGD on every tensor

    @torch.inference_mode()
    def train(self, first, count):
        K = self.K
        step = self.step
        for t in range(first * K, (first + count) * K):
            step(t)
        end = (first + count) * K
        return self.losses(end - K, end).mean()

    def losses(self, start, end):
        """The per-step losses (mean over the lanes of -log p[y]) of steps start+1 .. end, float64."""
        return -self.logp_y[start:end].to(torch.float64).mean(dim=1)

    def sync(self):
        pass

    def loss_value(self, loss):
        return float(loss.item())
