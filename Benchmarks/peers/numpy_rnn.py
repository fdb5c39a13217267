"""numpy peer, Elman layer: forward and backpropagation through time written out by hand, float32.

Model (see common.py): h_t = tanh(W_s x_t + W_t h_{t-1} + b), p_t = softmax(W_o h_t + b_o),
loss = mean over the window's (lane, step) pairs of -log p_t[y_t].

One window of K steps, from the carried state h_0:
  forward    A = X W_s^T + b for all K steps in one product (X: K*B x I); then step by step
             h_t = tanh(A_t + h_{t-1} W_t^T); logits = Hs W_o^T + b_o in one product.
  output     e = dloss/dlogits = (softmax(logits) - onehot(y)) / (K B);
             dW_o = e^T Hs, db_o = sum e, and the error reaching each h_t from above,
             S_t = e_t W_o (one product for the window).
  in time    delta_t = (S_t + T_{t+1}) * (1 - h_t^2), with T_{K+1} = 0 and T_t = delta_t W_t;
             T_1 is never formed: truncation stops at the window's first step, and the carried
             h_0 receives no gradient (BPTT(K, K)).
  gradients  dW_s = D^T X, dW_t = D^T [h_0 .. h_{K-1}], db = sum D (D: all deltas, K*B x H),
             one product each.
  update     w -= 0.01 * dw for every tensor; h_K is carried to the next window.

Single-threaded through numpy's BLAS (OPENBLAS_NUM_THREADS=1, set by peer.py before numpy is
imported). Timed: the windows' forward, backward and update (common.time_training).
"""

import numpy as np

from common import LR


class Trainer:
    version = f"numpy {np.__version__}"

    def __init__(self, weights, x, y, K):
        self.Ws = weights["layers.0.W_s"].copy()
        self.Wt = weights["layers.0.W_t"].copy()
        self.b = weights["layers.0.b"].copy()
        self.Wo = weights["layers.1.W_s"].copy()
        self.bo = weights["layers.1.b"].copy()
        self.x, self.y, self.K = x, y, K
        B, H = x.shape[1], self.Wt.shape[0]
        self.h0 = np.zeros((B, H), dtype=np.float32)
        self.hs = np.empty((K + 1, B, H), dtype=np.float32)  # h_0 .. h_K of the current window
        self.deltas = np.empty((K, B, H), dtype=np.float32)
        self.lr = np.float32(LR)

    def window(self, xw, yw):
        K, B, I = xw.shape
        H, n = self.Wt.shape[0], K * B
        hs, deltas = self.hs, self.deltas
        X = xw.reshape(n, I)
        hs[0] = self.h0
        A = (X @ self.Ws.T).reshape(K, B, H)
        A += self.b
        WtT = self.Wt.T
        for t in range(K):
            np.tanh(A[t] + hs[t] @ WtT, out=hs[t + 1])
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
        T = None
        for t in range(K - 1, -1, -1):
            d = S[t] if T is None else S[t] + T
            h = hs[t + 1]
            d *= 1 - h * h
            deltas[t] = d
            if t:
                T = d @ self.Wt
        D = deltas.reshape(n, H)
        dWs, dWt, db = D.T @ X, D.T @ hs[:-1].reshape(n, H), D.sum(axis=0)
        lr = self.lr
        self.Ws -= lr * dWs
        self.Wt -= lr * dWt
        self.b -= lr * db
        self.Wo -= lr * dWo
        self.bo -= lr * dbo
        self.h0 = hs[K].copy()
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
