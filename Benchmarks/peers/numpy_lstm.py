"""numpy peer, LSTM layer: forward and backpropagation through time written out by hand, float32.

Model (see common.py; PyTorch's nn.LSTM, gates in the order i, f, g, o):
    a_t = W_s x_t + b_s + W_t h_{t-1} + b_t           (4H: the blocks a^i, a^f, a^g, a^o)
    i = sig(a^i), f = sig(a^f), g = tanh(a^g), o = sig(a^o)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    p_t = softmax(W_o h_t + b_o),  loss = mean over the window's (lane, step) pairs of -log p_t[y_t]

One window of K steps, from the carried state (h_0, c_0):
  forward    A = X W_s^T + (b_s + b_t) for all K steps in one product; then step by step
             a_t = A_t + h_{t-1} W_t^T and the gate equations above (gates and tanh(c_t) are kept
             for the backward pass); logits = Hs W_o^T + b_o in one product.
  output     e = (softmax(logits) - onehot(y)) / (K B); dW_o = e^T Hs, db_o = sum e, and the error
             reaching each h_t from above, S_t = e_t W_o.
  in time    with dh_{K+1} = dc_{K+1} = 0, from t = K down to 1:
                 dh   = S_t + dh_{t+1}          (dh_{t+1}: error from step t+1 through W_t)
                 do   = dh * tanh(c_t)
                 dc   = dh * o * (1 - tanh(c_t)^2) + dc_{t+1}
                 di   = dc * g,  dg = dc * i,  df = dc * c_{t-1}
                 da_t = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)]
                 dh_t = da_t W_t,  dc_t = dc * f          (not formed at t = 1)
             Truncation cuts both recurrent paths at the window's first step: the carried h_0 and
             c_0 receive no gradient (BPTT(K, K)).
  gradients  dW_s = dA^T X, dW_t = dA^T [h_0 .. h_{K-1}], db_s = db_t = sum dA (one product each).
  update     w -= 0.01 * dw for every tensor (b_s and b_t are separate tensors, as in PyTorch);
             (h_K, c_K) is carried to the next window.

sig(a) is computed as (1 + tanh(a/2)) / 2, which equals 1/(1 + e^-a) and cannot overflow.
Single-threaded through numpy's BLAS (OPENBLAS_NUM_THREADS=1, set by peer.py before numpy is
imported). Timed: the windows' forward, backward and update (common.time_training).
"""

import numpy as np

from common import LR


def _sigmoid_inplace(a):
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5


class Trainer:
    version = f"numpy {np.__version__}"

    def __init__(self, weights, x, y, K):
        self.Ws = weights["layers.0.W_s"].copy()
        self.Wt = weights["layers.0.W_t"].copy()
        self.bs = weights["layers.0.b_s"].copy()
        self.bt = weights["layers.0.b_t"].copy()
        self.Wo = weights["layers.1.W_s"].copy()
        self.bo = weights["layers.1.b"].copy()
        self.x, self.y, self.K = x, y, K
        B, H = x.shape[1], self.Wt.shape[1]
        self.h0 = np.zeros((B, H), dtype=np.float32)
        self.c0 = np.zeros((B, H), dtype=np.float32)
        self.hs = np.empty((K + 1, B, H), dtype=np.float32)     # h_0 .. h_K
        self.cs = np.empty((K + 1, B, H), dtype=np.float32)     # c_0 .. c_K
        self.tcs = np.empty((K, B, H), dtype=np.float32)        # tanh(c_1) .. tanh(c_K)
        self.gates = np.empty((K, B, 4 * H), dtype=np.float32)  # i, f, g, o after activation
        self.dA = np.empty((K, B, 4 * H), dtype=np.float32)
        self.lr = np.float32(LR)

    def window(self, xw, yw):
        K, B, I = xw.shape
        H, n = self.Wt.shape[1], K * B
        hs, cs, tcs, gates, dA = self.hs, self.cs, self.tcs, self.gates, self.dA
        X = xw.reshape(n, I)
        hs[0], cs[0] = self.h0, self.c0
        A = (X @ self.Ws.T).reshape(K, B, 4 * H)
        A += self.bs + self.bt
        WtT = self.Wt.T
        for t in range(K):
            a = gates[t]
            np.add(A[t], hs[t] @ WtT, out=a)
            _sigmoid_inplace(a[:, :2 * H])
            np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            _sigmoid_inplace(a[:, 3 * H:])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            c += i * g
            np.tanh(c, out=tcs[t])
            np.multiply(o, tcs[t], out=hs[t + 1])
        Hs = hs[1:].reshape(n, H)
        logits = Hs @ self.Wo.T
        logits += self.bo
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        total = p.sum(axis=1, keepdims=True)
        rows, target = np.arange(n), yw.reshape(n)
        loss = float(np.log(total).mean() - logits[rows, target].mean())
        p /= total
        p[rows, target] -= 1
        p *= np.float32(1.0 / n)
        dWo, dbo = p.T @ Hs, p.sum(axis=0)
        S = (p @ self.Wo).reshape(K, B, H)
        dh_next = dc_next = None
        for t in range(K - 1, -1, -1):
            a, tc = gates[t], tcs[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = S[t] if dh_next is None else S[t] + dh_next
            d = dA[t]
            d_i, d_f, d_g, d_o = d[:, :H], d[:, H:2 * H], d[:, 2 * H:3 * H], d[:, 3 * H:]
            np.multiply(dh, tc, out=d_o)
            d_o *= o * (1 - o)
            dc = dh * o
            dc *= 1 - tc * tc
            if dc_next is not None:
                dc += dc_next
            np.multiply(dc, g, out=d_i)
            d_i *= i * (1 - i)
            np.multiply(dc, cs[t], out=d_f)
            d_f *= f * (1 - f)
            np.multiply(dc, i, out=d_g)
            d_g *= 1 - g * g
            if t:
                dh_next = d @ self.Wt
                dc_next = dc * f
        D = dA.reshape(n, 4 * H)
        dWs, dWt, db = D.T @ X, D.T @ hs[:-1].reshape(n, H), D.sum(axis=0)
        lr = self.lr
        self.Ws -= lr * dWs
        self.Wt -= lr * dWt
        self.bs -= lr * db
        self.bt -= lr * db
        self.Wo -= lr * dWo
        self.bo -= lr * dbo
        self.h0, self.c0 = hs[K].copy(), cs[K].copy()
        return loss

    def train(self, first, count):
        K, loss = self.K, None
        for w in range(first, first + count):
            loss = self.window(self.x[w * K:(w + 1) * K], self.y[w * K:(w + 1) * K])
        return loss

    def sync(self):
        pass

    def loss_value(self, loss):
        return float(loss)
