"""PyTorch peer, Elman layer: nn.RNN + nn.Linear + nn.CrossEntropyLoss, autograd, optim.SGD; eager.

Model (see common.py): h_t = tanh(W_s x_t + W_t h_{t-1} + b), p_t = softmax(W_o h_t + b_o),
loss = nn.CrossEntropyLoss(reduction='mean') over the window's (lane, step) pairs.
nn.RNN(tanh) holds W_s, W_t as weight_ih_l0, weight_hh_l0 and b as bias_ih_l0; its second bias
bias_hh_l0 is set to 0 and frozen (requires_grad False), so that the model has rnn-exp's single
bias b (two trained copies would move b twice as fast under SGD).

One window: nn.RNN runs the K steps from the carried state (PyTorch itself hoists the input
projection into one product), autograd backpropagates through those K steps, optim.SGD(lr=0.01)
updates. The final state is .detach()ed before it is carried into the next window: truncation
at the window's first step, BPTT(K, K).

One thread: torch.set_num_threads(1) and torch.set_num_interop_threads(1) (peer.py also sets
OMP_NUM_THREADS=1 before torch is imported). Timed: the windows' forward, backward and update
(common.time_training).
"""

import torch
from torch import nn

from common import LR

torch.set_num_threads(1)
if torch.get_num_interop_threads() != 1:  # may be set once per process only
    torch.set_num_interop_threads(1)


class Trainer:
    version = f"torch {torch.__version__}"

    def __init__(self, weights, x, y, K):
        W = {k: torch.from_numpy(v) for k, v in weights.items()}
        H, I = W["layers.0.W_s"].shape
        C = W["layers.1.W_s"].shape[0]
        self.rnn = nn.RNN(I, H, num_layers=1, nonlinearity="tanh", bias=True)
        self.out = nn.Linear(H, C)
        self.loss = nn.CrossEntropyLoss()
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(W["layers.0.W_s"])
            self.rnn.weight_hh_l0.copy_(W["layers.0.W_t"])
            self.rnn.bias_ih_l0.copy_(W["layers.0.b"])
            self.rnn.bias_hh_l0.zero_()
            self.out.weight.copy_(W["layers.1.W_s"])
            self.out.bias.copy_(W["layers.1.b"])
        self.rnn.bias_hh_l0.requires_grad_(False)
        trained = [self.rnn.weight_ih_l0, self.rnn.weight_hh_l0, self.rnn.bias_ih_l0,
                   self.out.weight, self.out.bias]
        self.opt = torch.optim.SGD(trained, lr=LR)
        self.x, self.y, self.K, self.C = torch.from_numpy(x), torch.from_numpy(y), K, C
        self.h = torch.zeros(1, x.shape[1], H)

    def train(self, first, count):
        K, C, h, loss = self.K, self.C, self.h, None
        for w in range(first, first + count):
            hs, h_last = self.rnn(self.x[w * K:(w + 1) * K], h)
            loss = self.loss(self.out(hs).reshape(-1, C), self.y[w * K:(w + 1) * K].reshape(-1))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            h = h_last.detach()
        self.h = h
        return loss

    def sync(self):
        pass

    def loss_value(self, loss):
        return float(loss.item())
