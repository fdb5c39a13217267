"""JAX peer, IndRNN layer (element-wise recurrence): the window's loss with lax.scan, value_and_grad, one jit.

Model (see common.py): h_t = tanh(W_s x_t + w_t * h_{t-1} + b) (Li et al. 2018; rnn-exp's
`indrnn`), p_t = softmax(W_o h_t + b_o), loss = mean over the window's (lane, step) pairs of
-log p_t[y_t] (jax.nn.log_softmax). Written as jax_rnn.py, with the recurrence's product
h @ W_t^T replaced by the element-wise w_t * h.

One window is one call of a jax.jit-compiled step (parameters and state donated): the window's
inputs and targets cut from the device-resident stream with lax.dynamic_slice (window index
traced, one compilation for every window); the input projection of the K steps one einsum;
lax.scan over the recurrence; jax.value_and_grad through exactly those K steps (the carried state
is not differentiated, the returned one passes through lax.stop_gradient: BPTT(K, K)); plain SGD.

One thread: peer.py sets JAX_PLATFORMS=cpu and XLA_FLAGS before jax is imported, and
run_bench.py pins every implementation to one CPU. The warm-up windows include the compilation.
Timed: the windows' forward, backward and update, ended by jax.block_until_ready.
"""

import jax
import jax.numpy as jnp
import numpy as np

from common import LR


def window_loss(p, h0, xw, yw):
    A = jnp.einsum("kbi,hi->kbh", xw, p["Ws"]) + p["b"]

    def step(h, a):
        h = jnp.tanh(a + p["wt"] * h)
        return h, h

    h_last, hs = jax.lax.scan(step, h0, A)
    logits = jnp.einsum("kbh,ch->kbc", hs, p["Wo"]) + p["bo"]
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, yw[..., None], axis=-1).mean(), h_last


class Trainer:
    version = f"jax {jax.__version__}"

    def __init__(self, weights, x, y, K):
        names = {"Ws": "layers.0.W_s", "wt": "layers.0.w_t", "b": "layers.0.b",
                 "Wo": "layers.1.W_s", "bo": "layers.1.b"}
        self.p = {k: jnp.asarray(weights[v]) for k, v in names.items()}
        self.x, self.y = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
        self.h = jnp.zeros((x.shape[1], weights["layers.0.w_t"].shape[0]), dtype=jnp.float32)
        grad = jax.value_and_grad(window_loss, has_aux=True)

        def step(p, h, xs, ys, w):
            xw = jax.lax.dynamic_slice_in_dim(xs, w * K, K, axis=0)
            yw = jax.lax.dynamic_slice_in_dim(ys, w * K, K, axis=0)
            (loss, h_last), g = grad(p, h, xw, yw)
            return {k: p[k] - LR * g[k] for k in p}, jax.lax.stop_gradient(h_last), loss

        self.step = jax.jit(step, donate_argnums=(0, 1))

    def train(self, first, count):
        p, h, loss = self.p, self.h, None
        for w in range(first, first + count):
            p, h, loss = self.step(p, h, self.x, self.y, np.int32(w))
        self.p, self.h = p, h
        return loss

    def sync(self):
        jax.block_until_ready((self.p, self.h))

    def loss_value(self, loss):
        return float(loss)
