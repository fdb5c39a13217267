"""PyTorch peer, IndRNN layer (element-wise recurrence): autograd through a per-step loop, optim.SGD.

Model (see common.py): h_t = tanh(W_s x_t + w_t * h_{t-1} + b) (Li et al. 2018; rnn-exp's
`indrnn`, TW = diag(w_t)), p_t = softmax(W_o h_t + b_o), loss = nn.CrossEntropyLoss(reduction=
'mean') over the window's (lane, step) pairs. PyTorch has no IndRNN module, so the layer is
written as its users write it: nn.Linear(I, H) holds W_s and b, w_t is an nn.Parameter (H), and
the step is tanh(linear(x)_t + w_t * h) (docs/model.md gives the same recipe).

One window: the input projection of the K steps is one nn.Linear call (one product), then the
K steps of the recurrence, autograd backpropagates through them, optim.SGD(lr=0.01) updates; the
final state is .detach()ed before it is carried into the next window (BPTT(K, K)).

The recurrence, two ways (the same ops, so the same loss to the bit):
  "loop"     a Python loop of K steps, each one torch.addcmul (x_t + w_t * h) and one torch.tanh;
  "script"   the same loop in a torch.jit.script function (no Python per step; autograd still
             records the same ops).
"script" is the default: the faster on the indrnn small workload (one thread, torch 2.13, pinned,
3 interleaved runs of 100 windows each on the shared 2-CPU machine, best, sample-steps/s): script
276,673 wall / 341,502 CPU time, loop 178,923 / 321,827. TORCH_INDRNN_MODE=loop|script picks.

One thread: torch.set_num_threads(1) and torch.set_num_interop_threads(1) (peer.py also sets
OMP_NUM_THREADS=1 before torch is imported). Timed: the windows' forward, backward and update
(common.time_training).
"""

import os

import torch
from torch import nn

from common import LR

torch.set_num_threads(1)
if torch.get_num_interop_threads() != 1:  # may be set once per process only
    torch.set_num_interop_threads(1)

MODES = ("loop", "script")
FASTEST = "script"


def recurrence_loop(xp, wt, h):
    """xp (K, B, H): the window's W_s x_t + b; returns the K states (K, B, H)."""
    hs = []
    for t in range(xp.shape[0]):
        h = torch.tanh(torch.addcmul(xp[t], wt, h))
        hs.append(h)
    return torch.stack(hs)


@torch.jit.script
def recurrence_script(xp, wt, h):
    hs = []
    for t in range(xp.shape[0]):
        h = torch.tanh(torch.addcmul(xp[t], wt, h))
        hs.append(h)
    return torch.stack(hs)


class Trainer:
    version = f"torch {torch.__version__}"

    def __init__(self, weights, x, y, K, mode=None):
        mode = mode or os.environ.get("TORCH_INDRNN_MODE") or FASTEST
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        self.recurrence = recurrence_loop if mode == "loop" else recurrence_script
        self.version = f"torch {torch.__version__} ({mode})"
        W = {k: torch.from_numpy(v) for k, v in weights.items()}
        H, I = W["layers.0.W_s"].shape
        C = W["layers.1.W_s"].shape[0]
        self.inp = nn.Linear(I, H)
        self.wt = nn.Parameter(W["layers.0.w_t"].clone())
        self.out = nn.Linear(H, C)
        self.loss = nn.CrossEntropyLoss()
        with torch.no_grad():
            self.inp.weight.copy_(W["layers.0.W_s"])
            self.inp.bias.copy_(W["layers.0.b"])
            self.out.weight.copy_(W["layers.1.W_s"])
            self.out.bias.copy_(W["layers.1.b"])
        trained = [self.inp.weight, self.wt, self.inp.bias, self.out.weight, self.out.bias]
        self.opt = torch.optim.SGD(trained, lr=LR)
        self.x, self.y, self.K, self.C = torch.from_numpy(x), torch.from_numpy(y), K, C
        self.h = torch.zeros(x.shape[1], H)

    def train(self, first, count):
        K, C, h, loss = self.K, self.C, self.h, None
        for w in range(first, first + count):
            hs = self.recurrence(self.inp(self.x[w * K:(w + 1) * K]), self.wt, h)
            loss = self.loss(self.out(hs).reshape(-1, C), self.y[w * K:(w + 1) * K].reshape(-1))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            h = hs[-1].detach()
        self.h = h
        return loss

    def sync(self):
        pass

    def loss_value(self, loss):
        return float(loss.item())
