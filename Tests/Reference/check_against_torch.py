#!/usr/bin/env python3
"""Manual check of make_golden.py's gated layers against PyTorch (needs torch; not run by
`make test`, which has no torch).

1. Forward: the reference's lstm_step / gru_step against nn.LSTM(I, U) / nn.GRU(I, U) in float64
   with weight_ih_l0 = W_s, weight_hh_l0 = W_t, bias_ih_l0 = b_s, bias_hh_l0 = b_t: h at every
   step (and c at every step, by feeding nn.LSTM one step at a time).
2. Gradients: every update of make_golden.compute() against torch autograd of the same update
   loss, with every layer's (h, c) at a-1 computed under no_grad (detached): full BPTT cases
   (tau_max >= length) and truncated stacks.

Usage: python3 Tests/Reference/check_against_torch.py      (exit status 1 on a mismatch)
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402

torch.set_default_dtype(torch.float64)


def torch_layer(L, p):
    """An nn.LSTM / nn.GRU holding the reference's weights, or None for rnn/dense."""
    if L["kind"] not in mg.GATES:
        return None
    cls = torch.nn.LSTM if L["kind"] == "lstm" else torch.nn.GRU
    mod = cls(L["inputs"], L["units"])
    with torch.no_grad():
        mod.weight_ih_l0.copy_(torch.from_numpy(p["W_s"]))
        mod.weight_hh_l0.copy_(torch.from_numpy(p["W_t"]))
        mod.bias_ih_l0.copy_(torch.from_numpy(p["b_s"]))
        mod.bias_hh_l0.copy_(torch.from_numpy(p["b_t"]))
    return mod


def torch_grads(L, p, mod):
    if mod is not None:
        return [mod.weight_ih_l0.grad, mod.weight_hh_l0.grad, mod.bias_ih_l0.grad,
                mod.bias_hh_l0.grad]
    return [p[k].grad for k in (["W_s", "W_t", "b"] if L["kind"] == "rnn" else ["W_s", "b"])]


def check_forward(rng, kind, I, U, T, B):
    L = {"kind": kind, "inputs": I, "units": U}
    flat = 0.7 * rng.normal(size=mg.n_params([L]))
    p = mg.unpack([L], flat)[0]
    X = rng.normal(size=(T, B, I))
    mod = torch_layer(L, p)
    with torch.no_grad():
        out, _ = mod(torch.from_numpy(X))                    # h at every step, zero initial state
        h_t = torch.zeros(1, B, U)
        c_t = torch.zeros(1, B, U)
        cs = []
        for n in range(T):                                     # one step at a time, for c
            if kind == "lstm":
                _, (h_t, c_t) = mod(torch.from_numpy(X[n:n + 1]), (h_t, c_t))
                cs.append(c_t[0].numpy().copy())
            else:
                _, h_t = mod(torch.from_numpy(X[n:n + 1]), h_t)
    h, c = np.zeros((B, U)), np.zeros((B, U))
    err_h = err_c = 0.0
    for n in range(T):
        if kind == "lstm":
            h, c, _ = mg.lstm_step(p, X[n], h, c)
            err_c = max(err_c, np.abs(c - cs[n]).max())
        else:
            h, _ = mg.gru_step(p, X[n], h)
        err_h = max(err_h, np.abs(h - out[n].numpy()).max())
    print("forward %-4s I=%d U=%d T=%d B=%d: max |h - torch| %.1e%s"
          % (kind, I, U, T, B, err_h, ", max |c - torch| %.1e" % err_c if kind == "lstm" else ""))
    return max(err_h, err_c) < 1e-12


def torch_update_loss(case, n, p_prev, a, mods, tparams):
    """The update loss at n in torch: states at a-1 under no_grad, autograd over [a, n]."""
    layers, loss = case["layers"], case["loss"]
    X = torch.tensor(case["inputs"])
    mask = torch.tensor(case["mask"], dtype=torch.bool)
    B = mask.shape[1]

    def run(seq, states):
        """seq: (S, B, I) input; states: per layer (h, c) or h. Returns top (h, z), new states."""
        below, new, z = seq, [], None
        for l, L in enumerate(layers):
            if L["kind"] == "lstm":
                h0, c0 = states[l]
                below, (hN, cN) = mods[l](below, (h0[None], c0[None]))
                new.append((hN[0], cN[0]))
            elif L["kind"] == "gru":
                below, hN = mods[l](below, states[l][None])
                new.append(hN[0])
            else:
                P, h, hs, zs = tparams[l], states[l], [], []
                for s in range(below.shape[0]):
                    zz = below[s] @ P["W_s"].T + P["b"]
                    if L["kind"] == "rnn":
                        zz = zz + h @ P["W_t"].T
                    h = torch_act(L["activation"], zz)
                    hs.append(h)
                    zs.append(zz)
                below, z = torch.stack(hs), torch.stack(zs)
                new.append(h)
        return below, z, new

    zero = [(torch.zeros(B, L["units"]), torch.zeros(B, L["units"])) if L["kind"] == "lstm"
            else torch.zeros(B, L["units"]) for L in layers]
    with torch.no_grad():
        start = run(X[:a - 1], zero)[2] if a > 1 else zero
    y, z, _ = run(X[a - 1:n], start)
    sel = slice(p_prev - a + 1, n - a + 1)                       # steps (p_prev, n]
    y, m = y[sel], mask[p_prev:n]
    if loss == "mse":
        t = torch.tensor(case["targets"])[p_prev:n]
        per = ((y - t) ** 2).sum(-1)
        count = int(m.sum()) * y.shape[-1]
    elif loss == "binary-cross-entropy":
        t = torch.tensor(case["targets"])[p_prev:n]
        per = -(t * torch.log(y) + (1 - t) * torch.log(1 - y)).sum(-1)
        count = int(m.sum()) * y.shape[-1]
    else:
        z = z[sel]
        c = torch.tensor(case["targets"])[p_prev:n]
        per = torch.logsumexp(z, -1) - torch.gather(z, -1, c[..., None])[..., 0]
        count = int(m.sum())
    return (per * m).sum() / count, count


def torch_act(name, z):
    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
            "identity": lambda v: v, "softmax": lambda v: torch.softmax(v, -1)}[name](z)


def check_grads(rng, name, stack, loss, T, B, tau_b, tau_max, I, holes):
    case = mg.random_case(rng, stack, loss, T, B, tau_b, tau_max, I, holes)
    layers = case["layers"]
    P = mg.unpack(layers, np.array(case["weights"]))
    out = mg.compute(case)
    tm = tau_max or T
    ends = list(range(tau_b or tm, T + 1, tau_b or tm))
    if not ends or ends[-1] != T:
        ends.append(T)
    prev = {e: (ends[k - 1] if k else 0) for k, e in enumerate(ends)}
    worst = loss_worst = 0.0
    for u in out:
        n = u["n"]
        a = max(1, n - tm + 1)
        mods = [torch_layer(L, p) for L, p in zip(layers, P)]
        tparams = [None if mods[l] is not None else
                   {k: torch.tensor(v, requires_grad=True) for k, v in P[l].items()}
                   for l in range(len(layers))]
        val, count = torch_update_loss(case, n, prev[n], a, mods, tparams)
        val.backward()
        g = torch.cat([t.reshape(-1) for l, L in enumerate(layers)
                       for t in torch_grads(L, tparams[l], mods[l])]).numpy()
        rel = np.abs(np.array(u["grad"]) - g).max() / np.abs(g).max()
        worst = max(worst, rel)
        loss_worst = max(loss_worst, abs(val.item() - u["loss"]) / abs(val.item()))
        assert count == u["elements"]
    print("grads   %-38s T=%d tau_b=%d tau_max=%d updates=%d: max rel |grad - torch| %.1e, "
          "loss %.1e" % (name, T, tau_b, tau_max, len(out), worst, loss_worst))
    return worst < 1e-12 and loss_worst < 1e-12


def main():
    rng = np.random.default_rng(11)
    ok = True
    for kind in ("lstm", "gru"):
        ok &= check_forward(rng, kind, 3, 5, 12, 4)
        ok &= check_forward(rng, kind, 1, 1, 30, 1)
    ok &= check_grads(rng, "lstm full BPTT, mse", [("lstm", 4, "tanh")], "mse",
                      10, 3, 0, 0, 3, True)
    ok &= check_grads(rng, "gru full BPTT, mse", [("gru", 4, "tanh")], "mse",
                      10, 3, 10, 12, 3, True)
    ok &= check_grads(rng, "gru->lstm->dense softmax, ce, full", [
        ("gru", 4, "tanh"), ("lstm", 3, "tanh"), ("dense", 3, "softmax")], "cross-entropy",
        9, 3, 0, 0, 2, False)
    ok &= check_grads(rng, "lstm alone, mse, truncated", [("lstm", 4, "tanh")], "mse",
                      11, 3, 2, 4, 3, True)
    ok &= check_grads(rng, "gru->lstm->dense softmax, ce", [
        ("gru", 4, "tanh"), ("lstm", 3, "tanh"), ("dense", 3, "softmax")], "cross-entropy",
        11, 4, 2, 3, 2, False)
    ok &= check_grads(rng, "rnn->lstm->dense sigmoid, bce", [
        ("rnn", 3, "tanh"), ("lstm", 4, "tanh"), ("dense", 2, "sigmoid")],
        "binary-cross-entropy", 10, 3, 1, 4, 2, True)
    ok &= check_grads(rng, "lstm->gru->rnn identity, mse", [
        ("lstm", 3, "tanh"), ("gru", 3, "tanh"), ("rnn", 2, "identity")], "mse",
        12, 3, 3, 5, 2, True)
    print("torch check %s" % ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
