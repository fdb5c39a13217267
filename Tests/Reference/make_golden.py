#!/usr/bin/env python3
"""Independent numpy reference for rnn-exp's BPTT(tau_b, tau_max) gradients.

Reads a JSON case (layers, loss, weights, lanes, truncation), runs the network forward over all
lanes at once (numpy, float64), and at every update computes the loss of the injected steps
(n_prev, n] and its gradient by backpropagation through the window [a, n],
a = max(1, n - tau_max + 1), treating h_{a-1} as a constant. Learning rate is 0, so every update
sees the same weights. Writes JSON: [{"n", "loss", "elements", "grad"}] with grad in the engine's
parameter layout (per layer: W_s row-major, W_t, b).

Usage: make_golden.py CASE.json OUT.json
"""
import json
import sys

import numpy as np


def act(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "identity":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def act_vjp(name, h, g):
    """g * sigma'(z), expressed through h = sigma(z)."""
    if name == "tanh":
        return g * (1.0 - h * h)
    if name == "sigmoid":
        return g * h * (1.0 - h)
    if name == "relu":
        return g * (h > 0)
    if name == "identity":
        return g
    if name == "softmax":
        return h * (g - (h * g).sum(axis=-1, keepdims=True))
    raise ValueError(name)


def unpack(layers, flat):
    params, off = [], 0
    for L in layers:
        u, i = L["units"], L["inputs"]
        p = {"W_s": flat[off:off + u * i].reshape(u, i)}
        off += u * i
        if L["kind"] == "rnn":
            p["W_t"] = flat[off:off + u * u].reshape(u, u)
            off += u * u
        p["b"] = flat[off:off + u]
        off += u
        params.append(p)
    return params


def pack(layers, grads):
    out = []
    for L, g in zip(layers, grads):
        out.append(g["W_s"].ravel())
        if L["kind"] == "rnn":
            out.append(g["W_t"].ravel())
        out.append(g["b"])
    return np.concatenate(out)


def main(case_path, out_path):
    case = json.load(open(case_path))
    layers, loss = case["layers"], case["loss"]
    P = unpack(layers, np.array(case["weights"], dtype=np.float64))
    X = np.array(case["inputs"], dtype=np.float64)        # (T, B, I)
    mask = np.array(case["mask"], dtype=bool)            # (T, B)
    T, B = mask.shape
    if loss == "cross-entropy":
        Y = np.array(case["targets"], dtype=np.int64)    # (T, B)
    else:
        Y = np.array(case["targets"], dtype=np.float64)  # (T, B, O)
    tau_max = case["tau_max"] or T
    tau_b = case["tau_b"] or (case["tau_max"] or T)

    # Forward over the whole stream (weights never change with lr = 0).
    H = [np.zeros((T + 1, B, L["units"])) for L in layers]  # H[l][n] = h^l_n, H[l][0] = 0
    Z_top = np.zeros((T + 1, B, layers[-1]["units"]))
    for n in range(1, T + 1):
        below = X[n - 1]
        for l, L in enumerate(layers):
            z = below @ P[l]["W_s"].T + P[l]["b"]
            if L["kind"] == "rnn":
                z = z + H[l][n - 1] @ P[l]["W_t"].T
            if l == len(layers) - 1:
                Z_top[n] = z
            H[l][n] = act(L["activation"], z)
            below = H[l][n]

    results = []
    ends = list(range(tau_b, T + 1, tau_b))
    if not ends or ends[-1] != T:
        ends.append(T)
    p = 0
    O = layers[-1]["units"]
    for n in ends:
        a = max(1, n - tau_max + 1)
        steps = np.arange(p + 1, n + 1)
        m = mask[steps - 1]                                  # (S, B)
        count = int(m.sum()) * (1 if loss == "cross-entropy" else O)
        if count == 0:
            p = n
            continue
        y = H[-1][steps]
        inj = np.zeros_like(y)
        if loss == "mse":
            t = Y[steps - 1]
            val = (((y - t) ** 2) * m[..., None]).sum()
            inj = 2.0 * (y - t) * m[..., None] / count      # dC/dy
        elif loss == "binary-cross-entropy":
            t = Y[steps - 1]
            ll = t * np.maximum(np.log(y), -100) + (1 - t) * np.maximum(np.log(1 - y), -100)
            val = -(ll * m[..., None]).sum()
            inj = (y - t) * m[..., None] / count            # dC/dz
        else:
            z = Z_top[steps]
            lse = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
            c = Y[steps - 1]
            picked = np.take_along_axis(z, c[..., None], -1)[..., 0]
            val = ((lse - picked) * m).sum()
            onehot = np.eye(O)[c]
            inj = (y - onehot) * m[..., None] / count       # dC/dz

        grads = [{k: np.zeros_like(v) for k, v in p_.items()} for p_ in P]
        # dC/dh (or dC/dz for the folded output) per layer and step, walking back from n to a.
        carry = [np.zeros((B, L["units"])) for L in layers]  # W_t^T delta^l_{m+1}
        for step in range(n, a - 1, -1):
            from_above = None
            for l in range(len(layers) - 1, -1, -1):
                L = layers[l]
                g = np.zeros((B, L["units"]))
                if l == len(layers) - 1:
                    if p < step and loss == "mse":
                        g = g + inj[step - p - 1]
                else:
                    g = g + from_above
                if L["kind"] == "rnn":
                    g = g + carry[l]
                delta = act_vjp(L["activation"], H[l][step], g)
                if l == len(layers) - 1 and p < step and loss != "mse":
                    delta = delta + inj[step - p - 1]
                h_in = X[step - 1] if l == 0 else H[l - 1][step]
                grads[l]["W_s"] += delta.T @ h_in
                grads[l]["b"] += delta.sum(0)
                if L["kind"] == "rnn":
                    grads[l]["W_t"] += delta.T @ H[l][step - 1]
                    carry[l] = delta @ P[l]["W_t"]
                from_above = delta @ P[l]["W_s"]
        results.append({"n": n, "loss": float(val / count), "elements": count,
                        "grad": pack(layers, grads).tolist()})
        p = n
    json.dump(results, open(out_path, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
