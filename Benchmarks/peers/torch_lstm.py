"""PyTorch peer, LSTM layer: nn.LSTM + nn.Linear + nn.CrossEntropyLoss, autograd, optim.SGD; eager.

Model (see common.py): nn.LSTM's own equations, gates in the order i, f, g, o:
    i, f, g, o = split(W_s x_t + b_s + W_t h_{t-1} + b_t)
    c_t = sig(f) * c_{t-1} + sig(i) * tanh(g),   h_t = sig(o) * tanh(c_t)
with W_s, W_t, b_s, b_t loaded unchanged as weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0
(all four trained, as in rnn-exp's lstm layer); p_t = softmax(W_o h_t + b_o) through nn.Linear;
loss = nn.CrossEntropyLoss(reduction='mean') over the window's (lane, step) pairs.

One window: nn.LSTM runs the K steps from the carried (h, c) — on CPU, float32, PyTorch sends
this to oneDNN's LSTM primitive (forward and backward) when oneDNN (mkldnn) is available and
enabled; `version` says whether it is — autograd backpropagates through those K steps and
optim.SGD(lr=0.01) updates. Both h and c are .detach()ed before they are carried into the next
window: truncation cuts both recurrent paths at the window's first step, BPTT(K, K).

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
    onednn = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    version = f"torch {torch.__version__} ({'oneDNN' if onednn else 'native'} LSTM)"

    def __init__(self, weights, x, y, K):
        W = {k: torch.from_numpy(v) for k, v in weights.items()}
        G, I = W["layers.0.W_s"].shape
        H, C = G // 4, W["layers.1.W_s"].shape[0]
        self.lstm = nn.LSTM(I, H, num_layers=1, bias=True)
        self.out = nn.Linear(H, C)
        self.loss = nn.CrossEntropyLoss()
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(W["layers.0.W_s"])
            self.lstm.weight_hh_l0.copy_(W["layers.0.W_t"])
            self.lstm.bias_ih_l0.copy_(W["layers.0.b_s"])
            self.lstm.bias_hh_l0.copy_(W["layers.0.b_t"])
            self.out.weight.copy_(W["layers.1.W_s"])
            self.out.bias.copy_(W["layers.1.b"])
        self.opt = torch.optim.SGD(list(self.lstm.parameters()) + list(self.out.parameters()), lr=LR)
        self.x, self.y, self.K, self.C = torch.from_numpy(x), torch.from_numpy(y), K, C
        self.state = (torch.zeros(1, x.shape[1], H), torch.zeros(1, x.shape[1], H))

    def train(self, first, count):
        K, C, state, loss = self.K, self.C, self.state, None
        for w in range(first, first + count):
            hs, (h, c) = self.lstm(self.x[w * K:(w + 1) * K], state)
            loss = self.loss(self.out(hs).reshape(-1, C), self.y[w * K:(w + 1) * K].reshape(-1))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            state = (h.detach(), c.detach())
        self.state = state
        return loss

    def sync(self):
        pass

    def loss_value(self, loss):
        return float(loss.item())
