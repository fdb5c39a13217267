#!/usr/bin/env python3
"""Independent numpy reference for rnn-exp's BPTT(tau_b, tau_max) and ARTBP gradients.

Reads a JSON case (layers, loss, weights, lanes, truncation), runs the network forward over all
lanes at once (numpy, float64), and at every update computes the loss of the injected steps
(n_prev, n] and its gradient by backpropagation through the window [a, n],
a = max(1, n - tau_max + 1) (ARTBP: a = n_prev + 1, see below), treating every layer's state at
a-1 (h_{a-1}, and c_{a-1} for an LSTM) as a constant. Learning rate is 0, so every update sees
the same weights. Writes JSON: [{"n", "loss", "elements", "grad"}] with grad in the engine's
parameter layout.

Layers (x = the layer's input at step n, the input vector or the output of the layer below;
h_0 = c_0 = 0; every layer passes h_n up; sigma = logistic; ⊙ = elementwise):
  dense:  h_n = act(W_s x + b)
  rnn:    h_n = act(W_s x + b + W_t h_{n-1})
  indrnn: h_n = act(W_s x + b + w_t ⊙ h_{n-1})      (Li et al. 2018, element-wise: W_t = diag w_t)
          backward, delta_m = dC/dz_m = act'(z_m) ⊙ (S_delta from above + w_t ⊙ delta_{m+1}):
          dW_s = sum_m delta_m x_m^T,  dw_t = sum_m delta_m ⊙ h_{m-1},  db = sum_m delta_m
  lstm:   (PyTorch nn.LSTM, gate blocks i, f, g, o; G = 4; "activation" ignored)
          pre = W_s x + b_s + W_t h_{n-1} + b_t                      (4U)
          i, f, g, o = split(pre)
          c_n = sigma(f) ⊙ c_{n-1} + sigma(i) ⊙ tanh(g);   h_n = sigma(o) ⊙ tanh(c_n)
  gru:    (PyTorch nn.GRU, gate blocks r, z, n; G = 3; "activation" ignored)
          r = sigma(W_sr x + b_sr + W_tr h_{n-1} + b_tr)
          z = sigma(W_sz x + b_sz + W_tz h_{n-1} + b_tz)
          n = tanh(W_sn x + b_sn + r ⊙ (W_tn h_{n-1} + b_tn))
          h_n = (1 - z) ⊙ n + z ⊙ h_{n-1}
  lru:    (linear recurrent unit, Orvieto et al. 2023; SPEC 2; S = "state", default U; complex
          state s_n (S), s_0 = 0; "activation" absent or "identity", anything else ValueError)
          lambda = exp(-exp(nu_log) + i exp(theta_log)),  gamma = exp(gamma_log)         (S)
          s_n = lambda ⊙ s_{n-1} + gamma ⊙ ((B_re + i B_im) x_n)
          h_n = Re((C_re + i C_im) s_n) + D ⊙ x_n            (the D term only when U == I)
          backward (lru_step_back): a real C of a complex v is differentiated as the pair
          G_v = dC/dRe v + i dC/dIm v. With g = dC/dh_n:
            G_n = C_re^T g - i C_im^T g + conj(lambda) ⊙ G_{n+1}     (complete dC/ds_n)
            dC_re += g (Re s_n)^T,  dC_im -= g (Im s_n)^T,  dD += g ⊙ x_n
            G_w = conj(lambda) ⊙ sum_n G_n ⊙ conj(s_{n-1})
                  (w = log lambda = -exp(nu_log) + i exp(theta_log), holomorphic chain rule)
            dnu_log = -exp(nu_log) ⊙ Re G_w,  dtheta_log = exp(theta_log) ⊙ Im G_w
            dgamma_log = gamma ⊙ sum_n Re(G_n ⊙ conj(B x_n)),  with G^u_n = gamma ⊙ G_n:
            dB_re += Re(G^u_n) x_n^T,  dB_im += Im(G^u_n) x_n^T
            dC/dx_n = B_re^T Re G^u_n + B_im^T Im G^u_n + D ⊙ g
Flat parameter layout, layer after layer (U = units, I = inputs, matrices row-major):
  dense: W_s (U x I), b (U)        rnn: W_s (U x I), W_t (U x U), b (U)
  indrnn: W_s (U x I), w_t (U), b (U)
  lru: nu_log (S), theta_log (S), gamma_log (S), B_re (S x I), B_im (S x I), C_re (U x S),
       C_im (U x S), D (U) (D only when U == I)
  lstm/gru: W_s (G·U x I), W_t (G·U x U), b_s (G·U), b_t (G·U), rows in gate-block order
            (= PyTorch's weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0).

Truncation: updates at every multiple of tau_b and at the last step T. The update at n injects
errors at the steps (n_prev, n] whose mask is set; its loss is the sum of those errors divided
by the number of elements (masked steps, times the output width except for cross-entropy); its
gradient is that of the loss with every layer's h_{a-1} and c_{a-1} held constant (an indrnn,
like an rnn, carries nothing below a: w_t ⊙ delta_a is dropped; an lru's complex state s_{a-1}
is a constant in the same way: conj(lambda) ⊙ G_a is dropped, while lambda's gradient still
gets G_a ⊙ conj(s_{a-1})). An update with no masked step
is skipped. tau_max = 0 means full (T); tau_b = 0 means tau_max (or T).
Losses: mse on h of the top layer; binary-cross-entropy (logs clamped at -100) and
cross-entropy fold a sigmoid / softmax top layer (dense, rnn or indrnn), so a gated or lru top
layer only supports mse (other losses raise ValueError).

Case JSON: {"layers": [{"kind": "dense"|"rnn"|"indrnn"|"lstm"|"gru"|"lru", "inputs": I,
"units": U, "activation": name, "state": S (lru only, optional, default U)}] ("activation" is
required for dense/rnn/indrnn, ignored and may be omitted for lstm/gru, absent or "identity"
for lru), "loss":
"mse"|"binary-cross-entropy"|"cross-entropy", "weights": flat list (layout above),
"inputs": (T, B, I) time-major, "mask": (T, B) booleans, "targets": (T, B, O) numbers or (T, B)
class indices for cross-entropy, "tau_b": int, "tau_max": int, "credit_lags": int (optional),
"artbp": {"continue": c, "points": [n1, ..., T]} (optional, see below; then "tau_b" and "tau_max"
are ignored and may be omitted)}.

Random truncation (ARTBP, SPEC 3.4; Tallec & Ollivier 2017), when the case has "artbp": the caller
gives the update points (the steps where a truncation was drawn, then the batch's last step T;
strictly increasing, last = T) and c = "continue" in (0, 1]; nothing is drawn here. The update at
n after the previous point p (0 for the first) injects the masked steps of (p, n] and propagates
back through (p, n] only: every layer's state at p (h_p, and c_p for lstm) is a constant. Every
backward crossing from step m+1 to step m inside the window (p < m), through any recurrent path
(rnn's W_t, indrnn's w_t, lstm's W_t and its cell c, gru's W_t and its direct z path, lru's
complex state s: the carry conj(lambda) ⊙ G_{m+1} is multiplied), multiplies
the propagated error by 1/c, so a term dC_s/dθ through step m gets c^-(s-m). The summed error of
the update is divided by the fixed E = (N_b / T_b) · min(1/(1-c), T_b) (E = N_b at c = 1),
N_b = the batch's target elements (masked steps, times the output width except for
cross-entropy: (lane, step) pairs), T_b = T. "loss" stays the mean over the update's own elements,
"elements" its own count; "grad" is the ARTBP gradient. An update with no masked step is skipped,
as above; "credit_lags" > 0 with "artbp" raises ValueError.

Gradient diagnostics (SPEC 3.1): with the same tau_b and tau_max set to the reference horizon
(0 = full), every update's "grad" is g_ref of that update. With "credit_lags": K > 0, each update
also gets "t" (its latest step with a target) and "credit": per layer, |dC_t/dh^l_{t-k}| for
k = 0..K (null below the window start a), see credit_profile(). On an lru layer the measured
state is its complex state s, as the 2S reals [Re s; Im s]:
|dC_t/ds_{t-k}| = sqrt(sum |dC/dRe s|^2 + |dC/dIm s|^2) (the complete derivative, every path).

Checks: --self-check compares every update's gradient, for random lstm/gru/rnn/indrnn/dense
stacks with truncated windows and ragged masks, with central differences of that update's loss
(a separate forward from the detached states at a-1); exits 1 above a relative error of 1e-7.
It also checks every credit profile value against central differences of C_t with respect to
each element of h^l_{t-k} (bumped_step_loss; limit 1e-6).
lru (own generators, so the other cases draw as before): the same FD check of every update on
one-layer lru stacks (U != I without D, U == I with D, S > U), lru -> dense, rnn -> lru -> dense
(ce), lru -> lru -> dense (bce), lstm -> lru (tau_max = 1), indrnn -> lru -> gru, with truncated
windows, tau_b > 1, ragged masks (limit 1e-7; "vs undetached" shows the truncation bites);
credit_lru_self_check: the lru credit (bumping Re s and Im s of every lane and entry) against
central differences (limit 1e-6); ARTBP (1)-(3) below on lru -> dense, rnn -> lru -> dense,
lru -> dense and indrnn -> lru (the forward of (2) writes the lru in real pairs,
[Re s; Im s], so that complex-step differentiation applies).
ARTBP (artbp_self_check, on every layer kind and loss): (1) c = 1, points = [T] against full BPTT
(tau_max = 0; limit 1e-14, bit-identical in practice), and c = 1 with points every k against
BPTT(k, k) rescaled from each window's count to N_b; (2) at c < 1 every window's gradient against
artbp_brute: the sum over injected steps s and m in (p, s] of c^-(s-m) · dC_s/dθ_m, θ_m the copy of
the weights used at step m alone (every path from C_s to θ_m crosses s - m steps), each dC_s/dθ_m
by complex-step differentiation of a separate complex-valued forward (limit 1e-10); (3) the
expected value: for tiny networks with T <= 6, all 2^(T-1) truncation patterns of the steps
1..T-1 (each truncating with probability 1 - c), weighted by their probabilities, against full
BPTT's gradient of the summed loss divided by E (limit 1e-12).
check_against_torch.py (manual, needs torch, not part of `make test`) compares the lstm/gru
forward with nn.LSTM/nn.GRU and every update's gradient with torch autograd.

Usage: make_golden.py CASE.json OUT.json
       make_golden.py --self-check
"""
import json
import sys

import numpy as np

GATES = {"lstm": 4, "gru": 3}
RECURRENT = ("rnn", "indrnn")    # ungated recurrent kinds: act(z), z with a W_t / w_t term


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


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lru_state(L):
    """An lru layer's complex state size S ("state", default units)."""
    return int(L.get("state") or L["units"])


def lru_has_d(L):
    """D (the skip term D ⊙ x) exists only when units == inputs."""
    return L["units"] == L["inputs"]


LRU_KEYS = ("nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im", "D")


def lru_shapes(L):
    """(name, shape) of an lru layer's tensors in the flat layout's order."""
    u, i, S = L["units"], L["inputs"], lru_state(L)
    out = [("nu_log", (S,)), ("theta_log", (S,)), ("gamma_log", (S,)), ("B_re", (S, i)),
           ("B_im", (S, i)), ("C_re", (u, S)), ("C_im", (u, S))]
    return out + ([("D", (u,))] if lru_has_d(L) else [])


def unpack(layers, flat):
    params, off = [], 0
    for L in layers:
        u, i = L["units"], L["inputs"]
        if L["kind"] == "lru":
            p = {}
            for name, shape in lru_shapes(L):
                size = int(np.prod(shape))
                p[name] = flat[off:off + size].reshape(shape)
                off += size
            params.append(p)
            continue
        if L["kind"] in GATES:
            gu = GATES[L["kind"]] * u
            p = {"W_s": flat[off:off + gu * i].reshape(gu, i)}
            off += gu * i
            p["W_t"] = flat[off:off + gu * u].reshape(gu, u)
            off += gu * u
            p["b_s"] = flat[off:off + gu]
            off += gu
            p["b_t"] = flat[off:off + gu]
            off += gu
            params.append(p)
            continue
        p = {"W_s": flat[off:off + u * i].reshape(u, i)}
        off += u * i
        if L["kind"] == "rnn":
            p["W_t"] = flat[off:off + u * u].reshape(u, u)
            off += u * u
        if L["kind"] == "indrnn":                    # the diagonal of W_t only
            p["w_t"] = flat[off:off + u]
            off += u
        p["b"] = flat[off:off + u]
        off += u
        params.append(p)
    return params


def pack(layers, grads):
    out = []
    for L, g in zip(layers, grads):
        if L["kind"] == "lru":
            out += [g[name].ravel() for name, _ in lru_shapes(L)]
            continue
        if L["kind"] in GATES:
            out += [g["W_s"].ravel(), g["W_t"].ravel(), g["b_s"], g["b_t"]]
            continue
        out.append(g["W_s"].ravel())
        if L["kind"] == "rnn":
            out.append(g["W_t"].ravel())
        if L["kind"] == "indrnn":
            out.append(g["w_t"])
        out.append(g["b"])
    return np.concatenate(out)


# ---- gated layers: one step forward, one step backward ---------------------------------------

def lstm_step(p, x, h_prev, c_prev):
    """Returns h_n, c_n and the gate activations (i, f, g, o) for the backward step."""
    U = h_prev.shape[-1]
    pre = x @ p["W_s"].T + p["b_s"] + h_prev @ p["W_t"].T + p["b_t"]
    i = sigmoid(pre[..., 0 * U:1 * U])
    f = sigmoid(pre[..., 1 * U:2 * U])
    g = np.tanh(pre[..., 2 * U:3 * U])
    o = sigmoid(pre[..., 3 * U:4 * U])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (i, f, g, o)


def lstm_step_back(p, cache, x, h_prev, c_prev, c, dh, dc_next, grad):
    """dh = dC/dh_n (from above and from step n+1), dc_next = dC/dc_n through c_{n+1}.
    Adds to grad; returns dC/dx, dC/dh_{n-1}, dC/dc_{n-1}."""
    i, f, g, o = cache
    tc = np.tanh(c)
    do = dh * tc
    dc = dc_next + dh * o * (1.0 - tc * tc)
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dpre = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f),
                           dg * (1.0 - g * g), do * o * (1.0 - o)], axis=-1)
    grad["W_s"] += dpre.T @ x
    grad["W_t"] += dpre.T @ h_prev
    grad["b_s"] += dpre.sum(0)
    grad["b_t"] += dpre.sum(0)
    return dpre @ p["W_s"], dpre @ p["W_t"], dc * f


def gru_step(p, x, h_prev):
    """Returns h_n and (r, z, n, W_tn h_{n-1} + b_tn) for the backward step."""
    U = h_prev.shape[-1]
    a_s = x @ p["W_s"].T + p["b_s"]
    a_t = h_prev @ p["W_t"].T + p["b_t"]
    r = sigmoid(a_s[..., 0 * U:1 * U] + a_t[..., 0 * U:1 * U])
    z = sigmoid(a_s[..., 1 * U:2 * U] + a_t[..., 1 * U:2 * U])
    hn = a_t[..., 2 * U:3 * U]
    n = np.tanh(a_s[..., 2 * U:3 * U] + r * hn)
    h = (1.0 - z) * n + z * h_prev
    return h, (r, z, n, hn)


# ---- lru: the linear recurrent unit (Orvieto et al. 2023), complex state --------------------

def lru_coeffs(p):
    """lambda = exp(-exp(nu_log) + i exp(theta_log)) and gamma = exp(gamma_log), both (S,)."""
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    return lam, np.exp(p["gamma_log"])


def lru_step(p, x, s_prev):
    """s_n = lambda ⊙ s_{n-1} + gamma ⊙ ((B_re + i B_im) x_n);
    h_n = Re((C_re + i C_im) s_n) + D ⊙ x_n (D only when units == inputs). Returns h_n, s_n."""
    lam, gam = lru_coeffs(p)
    s = lam * s_prev + gam * (x @ (p["B_re"] + 1j * p["B_im"]).T)
    h = (s @ (p["C_re"] + 1j * p["C_im"]).T).real
    if "D" in p:
        h = h + p["D"] * x
    return h, s


def lru_step_back(p, x, s_prev, s, dh, G_next, grad):
    """Backward through one lru step. A real loss C of a complex vector v is differentiated as the
    pair (dC/dRe v, dC/dIm v), written as one complex number G_v = dC/dRe v + i dC/dIm v; then for
    v' = a ⊙ v (a complex, constant) G_v = conj(a) ⊙ G_v', for v' = w ⊙ v G_w = G_v' ⊙ conj(v),
    for v = (W_re + i W_im) x with x real dC/dx = W_re^T Re G_v + W_im^T Im G_v,
    dC/dW_re = Re G_v x^T, dC/dW_im = Im G_v x^T, and for a holomorphic lambda = f(w)
    G_w = G_lambda ⊙ conj(f'(w)).
    dh = dC/dh_n (B, U); G_next = dC/ds_n through s_{n+1} (complex, B x S, already multiplied by
    conj(lambda)). Adds to grad; returns dC/dx_n, conj(lambda) ⊙ G_n (the carry to step n-1)
    and G_n = dC/ds_n (complete)."""
    lam, gam = lru_coeffs(p)
    # h = C_re Re s - C_im Im s (+ D x): dC/dRe s = C_re^T dh, dC/dIm s = -C_im^T dh
    G = dh @ p["C_re"] - 1j * (dh @ p["C_im"]) + G_next
    grad["C_re"] += dh.T @ s.real
    grad["C_im"] -= dh.T @ s.imag
    dx = np.zeros_like(x)
    if "D" in p:
        grad["D"] += (dh * x).sum(0)
        dx = dx + dh * p["D"]
    # lambda (pair) gradient G ⊙ conj(s_{n-1}); lambda = exp(w), w = -exp(nu_log) + i exp(theta_log)
    Gw = (G * np.conj(s_prev)).sum(0) * np.conj(lam)
    grad["nu_log"] += Gw.real * (-np.exp(p["nu_log"]))
    grad["theta_log"] += Gw.imag * np.exp(p["theta_log"])
    # gamma (real) multiplies u = B x: dC/dgamma = Re(G ⊙ conj(u)); gamma = exp(gamma_log)
    u = x @ (p["B_re"] + 1j * p["B_im"]).T
    grad["gamma_log"] += (G * np.conj(u)).real.sum(0) * gam
    Gu = gam * G                                     # dC/du, u = B_re x + i B_im x
    grad["B_re"] += Gu.real.T @ x
    grad["B_im"] += Gu.imag.T @ x
    dx = dx + Gu.real @ p["B_re"] + Gu.imag @ p["B_im"]
    return dx, np.conj(lam) * G, G


def zero_state(L, B):
    """The zero state of layer L for B lanes: {"h", "c"} (and the complex "s" of an lru)."""
    st = {"h": np.zeros((B, L["units"])), "c": np.zeros((B, L["units"]))}
    if L["kind"] == "lru":
        st["s"] = np.zeros((B, lru_state(L)), dtype=complex)
    return st


def layer_step(p, L, below, s, s_bump=None):
    """One step of layer L from its state s ({"h", "c"}, and the complex "s" of an lru), updated
    in place. Returns the pre-activation z of an rnn, indrnn or dense layer (None for lstm, gru
    and lru). s_bump (lru only): added to the new complex state before h is computed from it."""
    if L["kind"] == "lru":
        lam, gam = lru_coeffs(p)
        s["s"] = lam * s["s"] + gam * (below @ (p["B_re"] + 1j * p["B_im"]).T)
        if s_bump is not None:
            s["s"] = s["s"] + s_bump
        s["h"] = (s["s"] @ (p["C_re"] + 1j * p["C_im"]).T).real
        if "D" in p:
            s["h"] = s["h"] + p["D"] * below
        return None
    if L["kind"] == "lstm":
        s["h"], s["c"], _ = lstm_step(p, below, s["h"], s["c"])
        return None
    if L["kind"] == "gru":
        s["h"], _ = gru_step(p, below, s["h"])
        return None
    z = below @ p["W_s"].T + p["b"]
    if L["kind"] == "rnn":
        z = z + s["h"] @ p["W_t"].T
    if L["kind"] == "indrnn":
        z = z + p["w_t"] * s["h"]                   # w_t ⊙ h_{n-1}
    s["h"] = act(L["activation"], z)
    return z


def gru_step_back(p, cache, x, h_prev, dh, grad):
    """dh = dC/dh_n (from above and from step n+1). Adds to grad; returns dC/dx, dC/dh_{n-1}."""
    r, z, n, hn = cache
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    dn_pre = dn * (1.0 - n * n)
    dr = dn_pre * hn
    dr_pre = dr * r * (1.0 - r)
    dz_pre = dz * z * (1.0 - z)
    da_s = np.concatenate([dr_pre, dz_pre, dn_pre], axis=-1)
    da_t = np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=-1)
    grad["W_s"] += da_s.T @ x
    grad["W_t"] += da_t.T @ h_prev
    grad["b_s"] += da_s.sum(0)
    grad["b_t"] += da_t.sum(0)
    return da_s @ p["W_s"], dh * z + da_t @ p["W_t"]


# ---- the reference ----------------------------------------------------------------------------

def compute(case):
    """The list of updates [{"n", "loss", "elements", "grad"}] for one case (a parsed JSON)."""
    layers, loss = case["layers"], case["loss"]
    for L in layers:
        if L["kind"] == "lru" and L.get("activation", "identity") != "identity":
            raise ValueError("an lru layer is linear: activation %r" % L["activation"])
    if (layers[-1]["kind"] in GATES or layers[-1]["kind"] == "lru") and loss != "mse":
        raise ValueError("%s needs a sigmoid/softmax dense, rnn or indrnn top layer, not %s"
                         % (loss, layers[-1]["kind"]))
    P = unpack(layers, np.array(case["weights"], dtype=np.float64))
    X = np.array(case["inputs"], dtype=np.float64)        # (T, B, I)
    mask = np.array(case["mask"], dtype=bool)            # (T, B)
    T, B = mask.shape
    if loss == "cross-entropy":
        Y = np.array(case["targets"], dtype=np.int64)    # (T, B)
    else:
        Y = np.array(case["targets"], dtype=np.float64)  # (T, B, O)
    credit_lags = case.get("credit_lags", 0)
    artbp = case.get("artbp")
    if artbp is None:
        tau_max = case["tau_max"] or T
        tau_b = case["tau_b"] or (case["tau_max"] or T)
        ends = list(range(tau_b, T + 1, tau_b))
        if not ends or ends[-1] != T:
            ends.append(T)
        inv_c = None                                     # no factor on a crossing
    else:
        ends, cont, E = artbp_plan(artbp, loss, mask, layers[-1]["units"])
        if credit_lags > 0:
            raise ValueError("credit_lags is not defined with artbp")
        inv_c = 1.0 / cont                               # per backward crossing of a step

    # Forward over the whole stream (weights never change with lr = 0).
    H = [np.zeros((T + 1, B, L["units"])) for L in layers]  # H[l][n] = h^l_n, H[l][0] = 0
    C = [np.zeros((T + 1, B, L["units"])) if L["kind"] == "lstm" else None for L in layers]
    #   lru: C[l][n] = the complex state s^l_n (T + 1, B, S), C[l][0] = 0
    for l, L in enumerate(layers):
        if L["kind"] == "lru":
            C[l] = np.zeros((T + 1, B, lru_state(L)), dtype=complex)
    cache = [[None] * (T + 1) for _ in layers]               # gate activations of gated layers
    Z_top = np.zeros((T + 1, B, layers[-1]["units"]))
    for n in range(1, T + 1):
        below = X[n - 1]
        for l, L in enumerate(layers):
            if L["kind"] == "lru":
                H[l][n], C[l][n] = lru_step(P[l], below, C[l][n - 1])
                below = H[l][n]
                continue
            if L["kind"] == "lstm":
                H[l][n], C[l][n], cache[l][n] = lstm_step(P[l], below, H[l][n - 1], C[l][n - 1])
                below = H[l][n]
                continue
            if L["kind"] == "gru":
                H[l][n], cache[l][n] = gru_step(P[l], below, H[l][n - 1])
                below = H[l][n]
                continue
            z = below @ P[l]["W_s"].T + P[l]["b"]
            if L["kind"] == "rnn":
                z = z + H[l][n - 1] @ P[l]["W_t"].T
            if L["kind"] == "indrnn":
                z = z + P[l]["w_t"] * H[l][n - 1]               # w_t ⊙ h_{n-1}
            if l == len(layers) - 1:
                Z_top[n] = z
            H[l][n] = act(L["activation"], z)
            below = H[l][n]

    results = []
    p = 0
    O = layers[-1]["units"]
    for n in ends:
        # ARTBP: the window is (p, n], every state at p constant (the truncation happened there)
        a = max(1, n - tau_max + 1) if artbp is None else p + 1
        steps = np.arange(p + 1, n + 1)
        m = mask[steps - 1]                                  # (S, B)
        count = int(m.sum()) * (1 if loss == "cross-entropy" else O)
        if count == 0:
            p = n
            continue
        y = H[-1][steps]
        norm = count if artbp is None else E                 # what the summed error is divided by
        inj = np.zeros_like(y)
        if loss == "mse":
            t = Y[steps - 1]
            val = (((y - t) ** 2) * m[..., None]).sum()
            inj = 2.0 * (y - t) * m[..., None] / norm       # dC/dy
        elif loss == "binary-cross-entropy":
            t = Y[steps - 1]
            ll = t * np.maximum(np.log(y), -100) + (1 - t) * np.maximum(np.log(1 - y), -100)
            val = -(ll * m[..., None]).sum()
            inj = (y - t) * m[..., None] / norm             # dC/dz
        else:
            z = Z_top[steps]
            lse = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
            c = Y[steps - 1]
            picked = np.take_along_axis(z, c[..., None], -1)[..., 0]
            val = ((lse - picked) * m).sum()
            onehot = np.eye(O)[c]
            inj = (y - onehot) * m[..., None] / norm        # dC/dz

        grads = [{k: np.zeros_like(v) for k, v in p_.items()} for p_ in P]
        # dC/dh (or dC/dz for the folded output) per layer and step, walking back from n to a.
        carry = [np.zeros((B, L["units"])) for L in layers]  # W_t^T delta^l_{m+1} (rnn),
        #   w_t ⊙ delta^l_{m+1} (indrnn); dC/dh_m through step m+1 (gated)
        carry_c = [np.zeros((B, L["units"])) for L in layers]  # dC/dc_m through c_{m+1} (lstm)
        for l, L in enumerate(layers):                       # lru: conj(lambda) ⊙ dC/ds_{m+1}
            if L["kind"] == "lru":
                carry[l] = np.zeros((B, lru_state(L)), dtype=complex)
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
                h_in = X[step - 1] if l == 0 else H[l - 1][step]
                if L["kind"] == "lru":
                    # carry[l] after step a is dropped: s_{a-1} is a constant.
                    from_above, carry[l], _ = lru_step_back(
                        P[l], h_in, C[l][step - 1], C[l][step], g, carry[l], grads[l])
                    if inv_c is not None:                   # ARTBP: the complex state crosses
                        carry[l] = carry[l] * inv_c
                    continue
                if L["kind"] == "lstm":
                    # carry[l], carry_c[l] after step a are dropped: h_{a-1}, c_{a-1} constant.
                    g = g + carry[l]
                    from_above, carry[l], carry_c[l] = lstm_step_back(
                        P[l], cache[l][step], h_in, H[l][step - 1], C[l][step - 1], C[l][step],
                        g, carry_c[l], grads[l])
                    if inv_c is not None:                   # ARTBP: h and c both cross
                        carry[l] = carry[l] * inv_c
                        carry_c[l] = carry_c[l] * inv_c
                    continue
                if L["kind"] == "gru":
                    g = g + carry[l]
                    from_above, carry[l] = gru_step_back(
                        P[l], cache[l][step], h_in, H[l][step - 1], g, grads[l])
                    if inv_c is not None:                   # ARTBP: W_t and the z path
                        carry[l] = carry[l] * inv_c
                    continue
                if L["kind"] in RECURRENT:
                    g = g + carry[l]
                delta = act_vjp(L["activation"], H[l][step], g)
                if l == len(layers) - 1 and p < step and loss != "mse":
                    delta = delta + inj[step - p - 1]
                grads[l]["W_s"] += delta.T @ h_in
                grads[l]["b"] += delta.sum(0)
                if L["kind"] == "rnn":
                    grads[l]["W_t"] += delta.T @ H[l][step - 1]
                    carry[l] = delta @ P[l]["W_t"]
                if L["kind"] == "indrnn":
                    # dz_m/dw_t = h_{m-1} and dz_m/dh_{m-1} = w_t, both element-wise
                    grads[l]["w_t"] += (delta * H[l][step - 1]).sum(0)
                    carry[l] = delta * P[l]["w_t"]
                if inv_c is not None and L["kind"] in RECURRENT:
                    carry[l] = carry[l] * inv_c             # ARTBP: crossing to step - 1
                from_above = delta @ P[l]["W_s"]
        result = {"n": n, "loss": float(val / count), "elements": count,
                  "grad": pack(layers, grads).tolist()}
        if credit_lags > 0:
            t = int(max(s for s in steps if mask[s - 1].any()))
            result["t"] = t
            result["credit"] = credit_profile(layers, loss, P, X, Y, mask, H, C, cache, t, a,
                                              credit_lags)
        results.append(result)
        p = n
    return results


def artbp_plan(artbp, loss, mask, O):
    """The update points, c and the fixed normaliser E of an "artbp" case key (SPEC 3.4, random
    truncation): E = (N_b / T_b) * min(1 / (1 - c), T_b), N_b the batch's target elements, T_b
    the number of steps; E = N_b at c = 1."""
    T = mask.shape[0]
    cont = float(artbp["continue"])
    points = [int(x) for x in artbp["points"]]
    if not 0.0 < cont <= 1.0:
        raise ValueError("artbp continue must be in (0, 1], not %r" % cont)
    if (not points or points[-1] != T or points[0] < 1
            or any(b <= a for a, b in zip(points, points[1:]))):
        raise ValueError("artbp points must increase strictly from >= 1 to T = %d: %r"
                         % (T, points))
    N_b = int(mask.sum()) * (1 if loss == "cross-entropy" else O)
    E = float(N_b) if cont == 1.0 else (N_b / T) * min(1.0 / (1.0 - cont), float(T))
    return points, cont, E


def credit_profile(layers, loss, P, X, Y, mask, H, C, cache, t, a, K):
    """Credit profile of step t (SPEC 3.1): |dC_t/dh^l_{t-k}| for every layer l and k = 0..K,
    None where t - k < a. C_t is the loss of step t alone, averaged over its own target elements
    (lanes with a target at t, times O except for cross-entropy). Back from t to a with errors
    injected at t only; the derivative w.r.t. h^l_m is the total one (every path from m to t).
    For the output layer at k = 0 it is dC_t/dy_t, also for the folded losses: cross-entropy
    -1/y_c at the target class, binary cross-entropy -t/y + (1 - t)/(1 - y) (a term is 0 where
    its log is clamped at -100)."""
    B = mask.shape[1]
    O = layers[-1]["units"]
    top = len(layers) - 1
    m = mask[t - 1].astype(np.float64)[:, None]             # (B, 1)
    count = int(mask[t - 1].sum()) * (1 if loss == "cross-entropy" else O)
    y = H[-1][t]
    if loss == "mse":
        inj = 2.0 * (y - Y[t - 1]) * m / count                 # dC_t/dy_t
        dy = inj
    elif loss == "binary-cross-entropy":
        tt = Y[t - 1]
        inj = (y - tt) * m / count                             # dC_t/dz_t
        with np.errstate(divide="ignore", invalid="ignore"):
            d1 = np.where((tt != 0) & (np.log(y) > -100), -tt / y, 0.0)
            d2 = np.where((tt != 1) & (np.log(1 - y) > -100), (1 - tt) / (1 - y), 0.0)
        dy = (d1 + d2) * m / count
    else:
        onehot = np.eye(O)[Y[t - 1]]
        inj = (y - onehot) * m / count                         # dC_t/dz_t
        dy = np.zeros_like(y)
        for b in range(B):
            if mask[t - 1, b]:
                c = Y[t - 1, b]
                dy[b, c] = -1.0 / y[b, c] / count

    out = [[None] * (K + 1) for _ in layers]
    dummy = [{k: np.zeros_like(v) for k, v in p_.items()} for p_ in P]
    carry = [np.zeros((B, L["units"])) for L in layers]
    carry_c = [np.zeros((B, L["units"])) for L in layers]
    for l, L in enumerate(layers):
        if L["kind"] == "lru":
            carry[l] = np.zeros((B, lru_state(L)), dtype=complex)
    for step in range(t, a - 1, -1):
        k = t - step
        from_above = None
        for l in range(top, -1, -1):
            L = layers[l]
            g = np.zeros((B, L["units"]))
            if l == top:
                if step == t and loss == "mse":
                    g = g + inj
            else:
                g = g + from_above
            h_in = X[step - 1] if l == 0 else H[l - 1][step]
            if L["kind"] == "lru":
                # the credit of an lru is on its complex state: |dC_t/ds_step| over the 2S reals
                from_above, carry[l], G = lru_step_back(
                    P[l], h_in, C[l][step - 1], C[l][step], g, carry[l], dummy[l])
                if k <= K:
                    out[l][k] = float(np.sqrt((np.abs(G) ** 2).sum()))
                continue
            if L["kind"] in GATES or L["kind"] in RECURRENT:
                g = g + carry[l]                               # dC_t/dh^l_step, complete
            if k <= K:
                out[l][k] = float(np.sqrt((g * g).sum()))
            if L["kind"] == "lstm":
                from_above, carry[l], carry_c[l] = lstm_step_back(
                    P[l], cache[l][step], h_in, H[l][step - 1], C[l][step - 1], C[l][step],
                    g, carry_c[l], dummy[l])
                continue
            if L["kind"] == "gru":
                from_above, carry[l] = gru_step_back(
                    P[l], cache[l][step], h_in, H[l][step - 1], g, dummy[l])
                continue
            delta = act_vjp(L["activation"], H[l][step], g)
            if l == top and step == t and loss != "mse":
                delta = delta + inj
            if L["kind"] == "rnn":
                carry[l] = delta @ P[l]["W_t"]
            if L["kind"] == "indrnn":
                carry[l] = delta * P[l]["w_t"]                 # dz_{m}/dh_{m-1} = diag(w_t)
            from_above = delta @ P[l]["W_s"]
    if loss != "mse":
        out[top][0] = float(np.sqrt((dy * dy).sum()))
    return out


def main(case_path, out_path):
    case = json.load(open(case_path))
    json.dump(compute(case), open(out_path, "w"))


# ---- self-check: every update's gradient against central finite differences -------------------

def forward_window(layers, P, X, a, n, start):
    """Top-layer outputs (h, and z for a dense/rnn/indrnn top) at steps a..n, starting from the
    given per-layer states at a-1 (constants). Written separately from compute()'s caching
    forward."""
    state = [dict(s) for s in start]
    hs, zs = [], []
    for step in range(a, n + 1):
        below = X[step - 1]
        z = None
        for l, L in enumerate(layers):
            zl = layer_step(P[l], L, below, state[l])
            if zl is not None:
                z = zl
            below = state[l]["h"]
        hs.append(below)
        zs.append(z)
    return hs, zs


def window_loss(case, flat, n, p, a, start):
    """Loss of the update at n as a function of the weights, with the states at a-1 fixed."""
    layers, loss = case["layers"], case["loss"]
    P = unpack(layers, flat)
    X = np.array(case["inputs"], dtype=np.float64)
    mask = np.array(case["mask"], dtype=bool)
    hs, zs = forward_window(layers, P, X, a, n, start)
    total, count = 0.0, 0
    for step in range(p + 1, n + 1):
        y, z, t = hs[step - a], zs[step - a], case["targets"][step - 1]
        for b in range(mask.shape[1]):
            if not mask[step - 1, b]:
                continue
            if loss == "mse":
                total += float(((y[b] - np.array(t[b])) ** 2).sum())
                count += y.shape[1]
            elif loss == "binary-cross-entropy":
                tb = np.array(t[b])
                total -= float((tb * np.log(y[b]) + (1 - tb) * np.log(1 - y[b])).sum())
                count += y.shape[1]
            else:
                zb = z[b]
                total += float(np.log(np.exp(zb - zb.max()).sum()) + zb.max() - zb[t[b]])
                count += 1
    return total / count, count


def states_at(case, flat, s):
    """Every layer's state after step s of the untruncated forward (s = 0: zeros)."""
    layers = case["layers"]
    B = len(case["mask"][0])
    start = [zero_state(L, B) for L in layers]
    if s == 0:
        return start
    P = unpack(layers, flat)
    X = np.array(case["inputs"], dtype=np.float64)
    state = start
    for step in range(1, s + 1):
        below = X[step - 1]
        for l, L in enumerate(layers):
            layer_step(P[l], L, below, state[l])
            below = state[l]["h"]
    return state


def n_params(layers):
    total = 0
    for L in layers:
        u, i = L["units"], L["inputs"]
        if L["kind"] == "indrnn":
            total += u * i + u + u                  # W_s, w_t, b
            continue
        if L["kind"] == "lru":
            total += sum(int(np.prod(shape)) for _, shape in lru_shapes(L))
            continue
        G = GATES.get(L["kind"], 1)
        total += G * u * i + G * u + (G * u * u if L["kind"] != "dense" else 0)
        total += G * u if L["kind"] in GATES else 0
    return total


def random_case(rng, stack, loss, T, B, tau_b, tau_max, I, holes=False):
    """stack: (kind, units, activation) per layer; an lru entry may add its state size,
    ("lru", units, None, state)."""
    layers, inputs = [], I
    for kind, units, activation, *rest in stack:
        L = {"kind": kind, "inputs": inputs, "units": units}
        if activation is not None:                  # gated layers may omit it (ignored)
            L["activation"] = activation
        if rest:
            L["state"] = rest[0]
        layers.append(L)
        inputs = units
    O = inputs
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    mask = np.arange(T)[:, None] < lengths[None, :]
    if holes:                                   # sparse targets as well as ragged ends
        mask &= rng.random((T, B)) < 0.6
        mask[T - 1, 0] = True
    if loss == "cross-entropy":
        targets = rng.integers(0, O, size=(T, B)).tolist()
    elif loss == "binary-cross-entropy":
        targets = rng.random((T, B, O)).round(3).tolist()
    else:
        targets = rng.normal(size=(T, B, O)).tolist()
    weights = 0.7 * rng.normal(size=n_params(layers))
    inputs_ = rng.normal(size=(T, B, I))
    # indrnn: |w_t| in [0.5, 1), as IndRNN is used (Li et al. keep |w_t| <= 1 and start it near
    # 1); with a small w_t the credit through h_m = act(... + w_t ⊙ h_{m-1}) falls below what
    # central differences resolve within a few lags. Drawn last: other kinds draw as before.
    off = 0
    for L in layers:
        u, i = L["units"], L["inputs"]
        if L["kind"] == "indrnn":
            weights[off + u * i:off + u * i + u] = (rng.choice([-1.0, 1.0], size=u)
                                                    * rng.uniform(0.5, 1.0, size=u))
        if L["kind"] == "lru":
            # |lambda| uniform in [0.6, 0.95], phase uniform in [0.2, 3]
            # (nu_log = log(-log|lambda|), theta_log = log(phase)),
            # gamma_log = log(sqrt(1 - |lambda|^2)) as the paper.
            S = lru_state(L)
            r = rng.uniform(0.6, 0.95, size=S)
            weights[off:off + S] = np.log(-np.log(r))
            weights[off + S:off + 2 * S] = np.log(rng.uniform(0.2, 3.0, size=S))
            weights[off + 2 * S:off + 3 * S] = np.log(np.sqrt(1 - r * r))
        off += n_params([L])
    return {"layers": layers, "loss": loss, "weights": weights.tolist(),
            "inputs": inputs_.tolist(), "mask": mask.tolist(),
            "targets": targets, "tau_b": tau_b, "tau_max": tau_max}


def fd_grad(objective, flat, eps=1e-5):
    """Central differences of objective(weights) at flat."""
    fd = np.zeros_like(flat)
    for j in range(flat.size):
        w = flat.copy()
        w[j] += eps
        lp = objective(w)
        w[j] -= 2 * eps
        lm = objective(w)
        fd[j] = (lp - lm) / (2 * eps)
    return fd


def self_check():
    """Builds random cases, runs them through the CLI path (JSON in, JSON out) and compares every
    update's gradient with central differences of that update's loss, computed by a separate
    forward from the detached states at a-1. Also reports, for truncated windows, how far the
    gradient is from the undetached one (and, with an LSTM, from detaching h but not c), to show
    that the cases do exercise the truncation rule."""
    import os
    import tempfile
    rng = np.random.default_rng(20261129)
    cases = [
        # name, stack (kind, units, activation), loss, T, B, tau_b, tau_max, I, holes in mask
        ("lstm alone, mse", [("lstm", 4, None)], "mse", 9, 3, 2, 4, 3, False),
        ("gru alone, mse", [("gru", 4, None)], "mse", 10, 3, 3, 5, 3, False),
        ("gru->lstm->dense softmax, ce", [("gru", 4, "tanh"), ("lstm", 3, "tanh"),
                                          ("dense", 3, "softmax")], "cross-entropy",
         9, 4, 2, 3, 2, False),
        ("rnn->lstm->dense sigmoid, bce", [("rnn", 3, "tanh"), ("lstm", 4, "tanh"),
                                           ("dense", 2, "sigmoid")], "binary-cross-entropy",
         10, 3, 1, 4, 2, True),
        ("lstm->gru->rnn identity, mse, full", [("lstm", 3, "tanh"), ("gru", 3, "tanh"),
                                                ("rnn", 2, "identity")], "mse",
         8, 3, 3, 0, 2, True),
        ("dense->gru->lstm, mse", [("dense", 3, "relu"), ("gru", 3, None),
                                   ("lstm", 2, None)], "mse", 9, 3, 2, 2, 3, True),
        ("lstm->rnn softmax, ce, tau_b=tau_max", [("lstm", 3, "tanh"), ("rnn", 3, "softmax")],
         "cross-entropy", 9, 3, 3, 3, 2, False),
        ("lstm->lstm, mse, tau_max=1", [("lstm", 3, "tanh"), ("lstm", 2, "tanh")], "mse",
         6, 2, 1, 1, 2, True),
        ("rnn->dense (existing path), mse", [("rnn", 3, "tanh"), ("dense", 2, "identity")],
         "mse", 8, 2, 2, 3, 2, False),
    ]
    # indrnn (element-wise recurrence), drawn from a second generator so that the cases above
    # (and the credit cases) see the same random numbers as before indrnn existed.
    rng_ind = np.random.default_rng(20261130)
    indrnn_cases = [
        ("indrnn alone, mse", [("indrnn", 4, "tanh")], "mse", 10, 3, 3, 5, 3, False),
        ("indrnn->dense softmax, ce", [("indrnn", 4, "tanh"), ("dense", 3, "softmax")],
         "cross-entropy", 9, 4, 2, 3, 2, True),
        ("rnn->indrnn->gru, mse", [("rnn", 3, "tanh"), ("indrnn", 4, "tanh"),
                                   ("gru", 3, None)], "mse", 9, 3, 2, 4, 2, True),
        ("gru->indrnn relu->rnn identity, mse", [("gru", 3, None), ("indrnn", 3, "relu"),
                                                 ("rnn", 2, "identity")], "mse",
         8, 3, 1, 3, 2, True),
        ("lstm->indrnn sigmoid, bce", [("lstm", 3, None), ("indrnn", 2, "sigmoid")],
         "binary-cross-entropy", 9, 3, 3, 3, 2, True),
        ("dense->indrnn softmax, ce, full", [("dense", 3, "tanh"), ("indrnn", 3, "softmax")],
         "cross-entropy", 8, 3, 3, 0, 2, False),
        ("indrnn->indrnn identity mse, tau_max=1", [("indrnn", 3, "tanh"),
                                                     ("indrnn", 2, "identity")], "mse",
         7, 2, 1, 1, 2, True),
    ]
    # lru (complex element-wise recurrence, SPEC 2), from a third generator for the same reason.
    # ("lru", units, None, state); D exists when units == inputs.
    rng_lru = np.random.default_rng(20261202)
    lru_cases = [
        ("lru alone (U != I, no D), mse", [("lru", 3, None, 4)], "mse", 10, 3, 2, 4, 2, True),
        ("lru alone (U == I, D), mse, full", [("lru", 3, None, 2)], "mse", 8, 3, 3, 0, 3, True),
        ("lru(D)->dense tanh, mse", [("lru", 3, None, 4), ("dense", 2, "tanh")], "mse",
         9, 3, 2, 3, 3, False),
        ("lru->dense tanh, mse, S > U", [("lru", 2, None, 5), ("dense", 2, "tanh")], "mse",
         9, 3, 3, 5, 3, True),
        ("rnn->lru(D)->dense softmax, ce", [("rnn", 3, "tanh"), ("lru", 3, None, 2),
                                            ("dense", 3, "softmax")], "cross-entropy",
         9, 4, 2, 5, 2, True),
        ("lru->lru(D)->dense sigmoid, bce", [("lru", 3, None, 3), ("lru", 3, None, 2),
                                             ("dense", 2, "sigmoid")], "binary-cross-entropy",
         8, 3, 1, 3, 2, True),
        ("lstm->lru, mse, tau_max=1", [("lstm", 3, None), ("lru", 2, None, 3)], "mse",
         7, 2, 1, 1, 2, True),
        ("indrnn->lru->gru, mse", [("indrnn", 3, "tanh"), ("lru", 2, None, 3), ("gru", 2, None)],
         "mse", 8, 3, 2, 4, 2, True),
    ]
    worst, ok = 0.0, True
    tmp = tempfile.mkdtemp()
    for gen, (name, stack, loss, T, B, tau_b, tau_max, I, holes) in (
            [(rng, c) for c in cases] + [(rng_ind, c) for c in indrnn_cases]
            + [(rng_lru, c) for c in lru_cases]):
        tm = tau_max or T
        assert (tau_b or tm) <= tm
        case = random_case(gen, stack, loss, T, B, tau_b, tau_max, I, holes)
        flat = np.array(case["weights"])
        case_path, out_path = os.path.join(tmp, "case.json"), os.path.join(tmp, "out.json")
        json.dump(case, open(case_path, "w"))
        main(case_path, out_path)
        out = json.load(open(out_path))
        all_ends = list(range(tau_b or tm, T + 1, tau_b or tm))
        if not all_ends or all_ends[-1] != T:
            all_ends.append(T)
        prev = {e: (all_ends[k - 1] if k else 0) for k, e in enumerate(all_ends)}
        case_worst, undetached, c_only = 0.0, 0.0, 0.0
        has_lstm = any(L["kind"] == "lstm" for L in case["layers"])
        for u in out:
            n, p = u["n"], prev[u["n"]]
            a = max(1, n - tm + 1)
            start = states_at(case, flat, a - 1)
            val, count = window_loss(case, flat, n, p, a, start)
            loss_err = abs(val - u["loss"]) / abs(val)
            fd = fd_grad(lambda w: window_loss(case, w, n, p, a, start)[0], flat)
            grad = np.array(u["grad"])
            rel = np.abs(grad - fd).max() / np.abs(fd).max()
            case_worst = max(case_worst, rel)
            if rel >= 1e-7 or loss_err >= 1e-12 or count != u["elements"]:
                ok = False
                print("  FAIL n=%d rel=%.2e loss_err=%.2e count %d vs %d"
                      % (n, rel, loss_err, count, u["elements"]))
            if a > 1:   # what a wrong truncation rule would give instead
                full = fd_grad(lambda w: window_loss(case, w, n, p, 1,
                                                     states_at(case, w, 0))[0], flat)
                undetached = max(undetached, np.abs(grad - full).max() / np.abs(full).max())
                if has_lstm:
                    def h_only(w):
                        moved = states_at(case, w, a - 1)
                        mixed = [dict(s0, c=s1["c"]) for s0, s1 in zip(start, moved)]
                        return window_loss(case, w, n, p, a, mixed)[0]
                    hf = fd_grad(h_only, flat)
                    c_only = max(c_only, np.abs(grad - hf).max() / np.abs(hf).max())
        skipped = len(all_ends) - len(out)
        print("%-38s T=%2d B=%d tau_b=%d tau_max=%d params=%3d updates=%2d (skipped %d): "
              "max rel err %.1e%s%s" % (
                  name, T, B, tau_b, tau_max, flat.size, len(out), skipped, case_worst,
                  "; vs undetached %.1e" % undetached if undetached else "",
                  "; vs c not detached %.1e" % c_only if c_only else ""))
        worst = max(worst, case_worst)
    print("self-check %s: worst relative error %.2e (max|grad - fd| / max|fd| per update, "
          "limit 1e-7)" % ("passed" if ok else "FAILED", worst))
    credit_ok = credit_self_check(rng, rng_ind, tmp)
    credit_lru_ok = credit_lru_self_check(tmp)
    artbp_ok = artbp_self_check(tmp)
    return 0 if ok and credit_ok and credit_lru_ok and artbp_ok else 1


def bumped_step_loss(case, flat, t, bump_layer, bump_step, bump):
    """C_t (the loss of step t alone, mean over its target elements) of the untruncated forward
    from step 1, with `bump` added to h^{bump_layer}_{bump_step} as soon as it is computed (the
    layer above and later steps see the bumped value; an LSTM's cell does not). On an lru layer
    `bump` is complex (B, S) and goes on its state s_{bump_step}, before h is computed from it.
    The loss is written as a function of the output y (cross-entropy -log y_c), so a bump on the
    output layer differentiates with respect to y."""
    layers, loss = case["layers"], case["loss"]
    P = unpack(layers, flat)
    X = np.array(case["inputs"], dtype=np.float64)
    mask = np.array(case["mask"], dtype=bool)
    B = mask.shape[1]
    state = [zero_state(L, B) for L in layers]
    below = None
    for step in range(1, t + 1):
        below = X[step - 1]
        for l, L in enumerate(layers):
            if l == bump_layer and step == bump_step and L["kind"] == "lru":
                layer_step(P[l], L, below, state[l], s_bump=bump)   # on s, before h
            else:
                layer_step(P[l], L, below, state[l])
                if l == bump_layer and step == bump_step:
                    state[l]["h"] = state[l]["h"] + bump
            below = state[l]["h"]
    total, count = 0.0, 0
    for b in range(B):
        if not mask[t - 1, b]:
            continue
        y, target = below[b], case["targets"][t - 1][b]
        if loss == "mse":
            total += float(((y - np.array(target)) ** 2).sum())
            count += y.size
        elif loss == "binary-cross-entropy":
            tb = np.array(target)
            total -= float((tb * np.maximum(np.log(y), -100)
                            + (1 - tb) * np.maximum(np.log(1 - y), -100)).sum())
            count += y.size
        else:
            total -= float(np.log(y[target]))
            count += 1
    return total / count


def credit_self_check(rng, rng_ind, tmp):
    """The credit profile (|dC_t/dh^l_{t-k}|, untruncated) of every update against central
    differences of C_t with respect to each element of h^l_{t-k} (bumped_step_loss). The indrnn
    cases draw from rng_ind."""
    import os
    cases = [
        ("rnn->rnn softmax, ce", [("rnn", 3, "tanh"), ("rnn", 3, "softmax")], "cross-entropy",
         8, 3, 2, 3, 2, True),
        ("lstm->dense, mse", [("lstm", 3, None), ("dense", 2, "identity")], "mse", 8, 2, 2, 2, 2, True),
        ("gru->lstm->dense sigmoid, bce", [("gru", 3, None), ("lstm", 2, None),
                                           ("dense", 2, "sigmoid")], "binary-cross-entropy",
         7, 2, 3, 3, 2, False),
        ("dense->gru, mse", [("dense", 3, "tanh"), ("gru", 2, None)], "mse", 7, 2, 1, 2, 2, True),
    ]
    indrnn_cases = [
        ("indrnn->dense softmax, ce", [("indrnn", 3, "tanh"), ("dense", 3, "softmax")],
         "cross-entropy", 8, 3, 2, 3, 2, True),
        ("rnn->indrnn->gru, mse", [("rnn", 3, "tanh"), ("indrnn", 3, "relu"), ("gru", 2, None)],
         "mse", 7, 2, 3, 3, 2, True),
        ("gru->indrnn sigmoid, bce", [("gru", 3, None), ("indrnn", 2, "sigmoid")],
         "binary-cross-entropy", 7, 2, 2, 2, 2, False),
        ("lstm->indrnn softmax, ce", [("lstm", 2, None), ("indrnn", 3, "softmax")],
         "cross-entropy", 7, 2, 1, 1, 2, True),
    ]
    ok, worst = True, 0.0
    for gen, (name, stack, loss, T, B, tau_b, tau_max, I, holes) in (
            [(rng, c) for c in cases] + [(rng_ind, c) for c in indrnn_cases]):
        case = random_case(gen, stack, loss, T, B, tau_b, 0, I, holes)   # reference: full
        case["credit_lags"] = T
        flat = np.array(case["weights"])
        case_path, out_path = os.path.join(tmp, "credit.json"), os.path.join(tmp, "credit-out.json")
        json.dump(case, open(case_path, "w"))
        main(case_path, out_path)
        case_worst, checked = 0.0, 0
        for u in json.load(open(out_path)):
            t = u["t"]
            for l, L in enumerate(case["layers"]):
                for k, value in enumerate(u["credit"][l]):
                    if t - k < 1:
                        ok = ok and value is None
                        continue
                    grad = np.zeros((B, L["units"]))
                    for b in range(B):
                        for j in range(L["units"]):
                            bump = np.zeros((B, L["units"]))
                            bump[b, j] = 1e-6
                            grad[b, j] = (bumped_step_loss(case, flat, t, l, t - k, bump)
                                          - bumped_step_loss(case, flat, t, l, t - k, -bump)) / 2e-6
                    fd = float(np.sqrt((grad * grad).sum()))
                    rel = abs(fd - value) / max(abs(fd), abs(value), 1e-8)
                    case_worst = max(case_worst, rel)
                    checked += 1
        print("credit %-32s T=%d B=%d tau_b=%d: %3d (update, layer, lag) values, max rel err %.1e"
              % (name, T, B, tau_b, checked, case_worst))
        worst = max(worst, case_worst)
    ok = ok and worst < 1e-6
    print("credit self-check %s: worst relative error %.2e (limit 1e-6)"
          % ("passed" if ok else "FAILED", worst))
    return ok


def credit_lru_self_check(tmp):
    """The credit profile of stacks with lru layers against central differences: on an lru layer
    the measured state is s, so every (lane, entry) of s^l_{t-k} is bumped along its real and its
    imaginary axis (bumped_step_loss with a complex bump) and the norm is taken over the 2S reals;
    other layers as credit_self_check."""
    import os
    rng = np.random.default_rng(20261204)
    cases = [
        ("lru->dense softmax, ce", [("lru", 3, None, 3), ("dense", 3, "softmax")],
         "cross-entropy", 7, 3, 2, 2, True),
        ("rnn->lru(D)->dense, mse", [("rnn", 3, "tanh"), ("lru", 3, None, 2),
                                     ("dense", 2, "identity")], "mse", 7, 2, 3, 2, True),
        ("lru(D) alone, mse", [("lru", 2, None, 3)], "mse", 6, 2, 2, 2, False),
    ]
    ok, worst = True, 0.0
    for name, stack, loss, T, B, tau_b, I, holes in cases:
        case = random_case(rng, stack, loss, T, B, tau_b, 0, I, holes)
        case["credit_lags"] = T
        flat = np.array(case["weights"])
        case_path, out_path = os.path.join(tmp, "credit.json"), os.path.join(tmp, "credit-out.json")
        json.dump(case, open(case_path, "w"))
        main(case_path, out_path)
        case_worst, checked = 0.0, 0
        for u in json.load(open(out_path)):
            t = u["t"]
            for l, L in enumerate(case["layers"]):
                lru = L["kind"] == "lru"
                width = lru_state(L) if lru else L["units"]
                axes = (1.0, 1j) if lru else (1.0,)
                for k, value in enumerate(u["credit"][l]):
                    if t - k < 1:
                        ok = ok and value is None
                        continue
                    sq = 0.0
                    for b in range(B):
                        for j in range(width):
                            for ax in axes:
                                bump = np.zeros((B, width), dtype=complex if lru else float)
                                bump[b, j] = 1e-6 * ax
                                d = (bumped_step_loss(case, flat, t, l, t - k, bump)
                                     - bumped_step_loss(case, flat, t, l, t - k, -bump)) / 2e-6
                                sq += d * d
                    fd = float(np.sqrt(sq))
                    rel = abs(fd - value) / max(abs(fd), abs(value), 1e-8)
                    case_worst = max(case_worst, rel)
                    checked += 1
        print("credit %-32s T=%d B=%d tau_b=%d: %3d (update, layer, lag) values, max rel err %.1e"
              % (name, T, B, tau_b, checked, case_worst))
        worst = max(worst, case_worst)
    ok = ok and worst < 1e-6
    print("credit lru self-check %s: worst relative error %.2e (limit 1e-6)"
          % ("passed" if ok else "FAILED", worst))
    return ok


# ---- self-check of ARTBP (random truncation, SPEC 3.4) ----------------------------------------

def run_cli(case, tmp, tag):
    """compute() through the CLI path: case JSON in, updates JSON out."""
    import os
    case_path, out_path = os.path.join(tmp, tag + ".json"), os.path.join(tmp, tag + "-out.json")
    json.dump(case, open(case_path, "w"))
    main(case_path, out_path)
    return json.load(open(out_path))


def n_target_elements(case):
    """N_b: the batch's masked steps, times the output width except for cross-entropy."""
    masked = int(np.array(case["mask"], dtype=bool).sum())
    return masked * (1 if case["loss"] == "cross-entropy" else case["layers"][-1]["units"])


def normaliser(case, cont):
    """E = (N_b / T_b) * min(1 / (1 - c), T_b), E = N_b at c = 1, written again from SPEC 3.4."""
    N_b, T_b = n_target_elements(case), len(case["mask"])
    return float(N_b) if cont == 1 else N_b / T_b * min(1 / (1 - cont), T_b)


def cs_act(name, z):
    """Activations on complex arguments (complex-step differentiation): analytic formulas, and
    the branches (relu, the softmax shift) decided on the real part."""
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.where(z.real > 0, z, 0.0)
    if name == "identity":
        return z
    if name == "softmax":
        e = np.exp(z - z.real.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def cs_params(layers, F):
    """Parameters of J weight vectors at once (F: (J, n_params), complex): matrices (J, out, in),
    vectors (J, 1, out), so that x @ W^T + b broadcasts over (J, B, ·)."""
    per = [unpack(layers, F[j]) for j in range(F.shape[0])]
    out = []
    for l in range(len(layers)):
        d = {}
        for k in per[0][l]:
            v = np.stack([per[j][l][k] for j in range(F.shape[0])])
            d[k] = v if v.ndim == 3 else v[:, None, :]
        out.append(d)
    return out


def cs_layer(L, p, x, h, c):
    """One step of layer L from the equations (a separate complex-safe forward, not compute()'s):
    returns h_n, c_n (lstm, else None) and the pre-activation (dense/rnn/indrnn, else None)."""
    tr = lambda W: np.swapaxes(W, -1, -2)
    sg = lambda v: 1.0 / (1.0 + np.exp(-v))
    U = L["units"]
    if L["kind"] == "lru":
        # real-pair form (analytic in every parameter, so complex-step works): c = [Re s; Im s],
        # lambda = r (cos phi + i sin phi), r = exp(-exp(nu_log)), phi = exp(theta_log)
        S = lru_state(L)
        r, phi, gam = np.exp(-np.exp(p["nu_log"])), np.exp(p["theta_log"]), np.exp(p["gamma_log"])
        lr, li = r * np.cos(phi), r * np.sin(phi)
        sr, si = c[..., :S], c[..., S:]
        ur, ui = x @ tr(p["B_re"]), x @ tr(p["B_im"])
        sr, si = lr * sr - li * si + gam * ur, li * sr + lr * si + gam * ui
        h = sr @ tr(p["C_re"]) - si @ tr(p["C_im"])
        if "D" in p:
            h = h + p["D"] * x
        return h, np.concatenate([sr, si], axis=-1), None
    if L["kind"] == "lstm":
        pre = x @ tr(p["W_s"]) + p["b_s"] + h @ tr(p["W_t"]) + p["b_t"]
        i, f, g, o = (pre[..., k * U:(k + 1) * U] for k in range(4))
        c = sg(f) * c + sg(i) * np.tanh(g)
        return sg(o) * np.tanh(c), c, None
    if L["kind"] == "gru":
        a_s = x @ tr(p["W_s"]) + p["b_s"]
        a_t = h @ tr(p["W_t"]) + p["b_t"]
        r = sg(a_s[..., :U] + a_t[..., :U])
        z = sg(a_s[..., U:2 * U] + a_t[..., U:2 * U])
        n = np.tanh(a_s[..., 2 * U:] + r * a_t[..., 2 * U:])
        return (1.0 - z) * n + z * h, None, None
    pre = x @ tr(p["W_s"]) + p["b"]
    if L["kind"] == "rnn":
        pre = pre + h @ tr(p["W_t"])
    if L["kind"] == "indrnn":
        pre = pre + p["w_t"] * h
    return cs_act(L["activation"], pre), None, pre


def cs_step_errors(case, P_real, P_probe, p, n, m, start):
    """Summed (not averaged) error C_s of every step s in (p, n], shape (n - p, J), from the
    states at p (constants), with the probe parameters P_probe (J weight vectors) used at step m
    only and the real ones at every other step."""
    layers, loss = case["layers"], case["loss"]
    X = np.array(case["inputs"], dtype=np.float64)
    mask = np.array(case["mask"], dtype=np.float64)
    state = [(s0["h"], np.concatenate([s0["s"].real, s0["s"].imag], axis=-1)
               if L["kind"] == "lru" else s0["c"]) for s0, L in zip(start, layers)]
    out = []
    for step in range(p + 1, n + 1):
        below, pre = X[step - 1], None
        for l, L in enumerate(layers):
            h, c, pre = cs_layer(L, (P_probe if step == m else P_real)[l], below, *state[l])
            state[l] = (h, c)
            below = h
        mk = mask[step - 1]                                    # (B,)
        t = case["targets"][step - 1]
        if loss == "mse":
            e = ((below - np.array(t)) ** 2).sum(-1)
        elif loss == "binary-cross-entropy":
            t = np.array(t)
            lg = lambda v: np.where(np.log(v).real > -100, np.log(v), -100.0)
            e = -(t * lg(below) + (1 - t) * lg(1 - below)).sum(-1)
        else:
            idx = np.broadcast_to(np.array(t)[:, None], pre.shape[:-1] + (1,))
            zc = np.take_along_axis(pre, idx, -1)[..., 0]
            shift = pre.real.max(-1, keepdims=True)
            e = np.log(np.exp(pre - shift).sum(-1)) + shift[..., 0] - zc
        J = next(iter(P_probe[0].values())).shape[0]          # the number of probes
        out.append(np.broadcast_to((e * mk).sum(-1), (J,)))   # (J,), also before step m
    return np.array(out)


def artbp_brute(case, cont, points):
    """Every window's ARTBP gradient without a backward pass: by the chain rule
    dC_s/dθ = Σ_m ∂C_s/∂θ_m, θ_m the copy of θ that step m uses; every path from C_s to θ_m
    crosses s - m steps back, so ARTBP weighs that term by c^-(s - m) (window (p, n], p < m <= s).
    ∂C_s/∂θ_m comes from complex-step differentiation (Im C_s(θ_m + i·η·e_j) / η, η = 1e-30: no
    truncation error, exact to rounding) of cs_step_errors's forward. Returns {n: gradient}."""
    flat = np.array(case["weights"], dtype=np.float64)
    E = normaliser(case, cont)
    eta = 1e-30
    P_real = cs_params(case["layers"], flat[None, :].astype(complex))
    P_probe = cs_params(case["layers"], flat[None, :] + 1j * eta * np.eye(flat.size))
    out, p = {}, 0
    for n in points:
        start = states_at(case, flat, p)
        g = np.zeros(flat.size)
        for m in range(p + 1, n + 1):
            d = cs_step_errors(case, P_real, P_probe, p, n, m, start).imag / eta   # (n - p, J)
            for s in range(m, n + 1):
                g += cont ** -(s - m) * d[s - p - 1]
        out[n] = g / E
        p = n
    return out


def artbp_self_check(tmp):
    """ARTBP ("artbp" case key) three ways: (1) c = 1 with one update at T is full BPTT (and c = 1
    with points every k is BPTT(k, k), rescaled from the window's count to N_b); (2) every window's
    gradient against artbp_brute (complex-step, per step and lag); (3) the expected value over
    all 2^(T-1) truncation patterns equals full BPTT's gradient of the summed loss over E."""
    import itertools
    import time
    t0 = time.time()
    rng = np.random.default_rng(20261201)    # its own generator: the checks above are unchanged
    ok = True
    all_kinds = [
        ("rnn->dense softmax, ce", [("rnn", 3, "tanh"), ("dense", 3, "softmax")],
         "cross-entropy", 8, 3, 2, True),
        ("gru->lstm->dense identity, mse", [("gru", 3, None), ("lstm", 3, None),
                                            ("dense", 2, "identity")], "mse", 8, 3, 2, True),
        ("indrnn->dense, mse", [("indrnn", 4, "tanh"), ("dense", 2, "identity")], "mse",
         9, 3, 2, False),
        ("lstm->indrnn relu->rnn sigmoid, bce", [("lstm", 3, None), ("indrnn", 3, "relu"),
                                                 ("rnn", 2, "sigmoid")], "binary-cross-entropy",
         6, 3, 2, True),
        ("dense->gru, mse", [("dense", 3, "tanh"), ("gru", 3, None)], "mse", 6, 2, 2, True),
    ]

    # lru stacks (the crossing factor 1/c on the complex state), drawn from their own generator
    # after the cases above, so those draw exactly as before lru existed.
    rng_lru = np.random.default_rng(20261203)
    lru_kinds = [
        ("lru->dense, mse", [("lru", 3, None, 3), ("dense", 2, "identity")], "mse", 8, 3, 2, True),
        ("rnn->lru(D)->dense softmax, ce", [("rnn", 3, "tanh"), ("lru", 3, None, 2),
                                            ("dense", 3, "softmax")], "cross-entropy",
         6, 3, 2, True),
    ]
    kinds = [(rng, k) for k in all_kinds] + [(rng_lru, k) for k in lru_kinds]

    # (1) c = 1: one update at T is full BPTT; points every k are BPTT(k, k) times count / N_b
    #     (k divides T, so that BPTT(k, k)'s windows are exactly (p, n]).
    worst1 = 0.0
    for gen, (name, stack, loss, T, B, I, holes) in kinds:
        case = random_case(gen, stack, loss, T, B, 0, 0, I, holes)
        full = run_cli(case, tmp, "artbp-full")
        a_case = dict(case, artbp={"continue": 1.0, "points": [T]})
        del a_case["tau_b"], a_case["tau_max"]             # not needed with artbp
        art = run_cli(a_case, tmp, "artbp-c1")
        (f,), (g,) = full, art
        ga, gf = np.array(g["grad"]), np.array(f["grad"])
        rel = np.abs(ga - gf).max() / np.abs(gf).max()
        same = (f == g)
        k = 2 if T % 2 == 0 else 3
        assert T % k == 0
        case_k = dict(case, tau_b=k, tau_max=k)
        a_case["artbp"] = {"continue": 1.0, "points": list(range(k, T + 1, k))}
        N_b = n_target_elements(case)
        rel_k = 0.0
        for uk, ua in zip(run_cli(case_k, tmp, "artbp-bk"), run_cli(a_case, tmp, "artbp-ck")):
            scaled = np.array(uk["grad"]) * uk["elements"] / N_b
            rel_k = max(rel_k, np.abs(np.array(ua["grad"]) - scaled).max() / np.abs(scaled).max())
            ok = ok and uk["n"] == ua["n"] and uk["elements"] == ua["elements"] \
                and uk["loss"] == ua["loss"]
        worst1 = max(worst1, rel, rel_k)
        ok = ok and rel <= 1e-14 and rel_k <= 1e-14 and f["loss"] == g["loss"] \
            and f["elements"] == g["elements"]
        print("artbp c=1 %-36s points=[T]: rel %.1e (%s); points every %d vs BPTT(%d,%d): rel %.1e"
              % (name, rel, "bit-identical" if same else "differs", k, k, k, rel_k))

    # (2) every window's gradient at c < 1 against the complex-step brute force.
    worst2 = 0.0
    for (gen, (name, stack, loss, T, B, I, holes)), cont in zip(
            kinds, (0.7, 0.6, 0.8, 0.5, 0.75, 0.7, 0.6)):
        case = random_case(gen, stack, loss, T, B, 0, 0, I, holes)
        cuts = sorted(int(x) for x in gen.choice(np.arange(1, T), size=2, replace=False))
        points = cuts + [T]
        case["artbp"] = {"continue": cont, "points": points}
        out = run_cli(case, tmp, "artbp-win")
        brute = artbp_brute(case, cont, points)
        c1 = run_cli(dict(case, artbp={"continue": 1.0, "points": points}), tmp, "artbp-w1")
        case_worst, vs_c1 = 0.0, 0.0
        for u, u1 in zip(out, c1):
            g, b = np.array(u["grad"]), brute[u["n"]]
            case_worst = max(case_worst, np.abs(g - b).max() / np.abs(b).max())
            # what the factors and E change: c = 1 in the same windows, rescaled to this E
            g1 = np.array(u1["grad"]) * n_target_elements(case) / normaliser(case, cont)
            vs_c1 = max(vs_c1, np.abs(g - g1).max() / np.abs(b).max())
        worst2 = max(worst2, case_worst)
        ok = ok and case_worst <= 1e-10 and len(out) == len(
            [n for n in points if np.any(brute[n])])
        print("artbp c=%.2f %-34s T=%d points=%-11s updates=%d: max rel err %.1e vs brute "
              "force (vs no 1/c factors %.1e)" % (cont, name, T, points, len(out), case_worst,
                                                   vs_c1))

    # (3) expected value over every truncation pattern = full BPTT's summed gradient / E.
    worst3 = 0.0
    tiny = [
        ("rnn->dense softmax, ce", [("rnn", 2, "tanh"), ("dense", 2, "softmax")],
         "cross-entropy", 6, 2, 2, True, 0.6),
        ("lstm->dense sigmoid, bce", [("lstm", 2, None), ("dense", 2, "sigmoid")],
         "binary-cross-entropy", 6, 2, 2, False, 0.8),
        ("gru->indrnn identity, mse", [("gru", 2, None), ("indrnn", 2, "identity")], "mse",
         5, 2, 2, True, 0.5),
        ("indrnn->rnn identity, mse", [("indrnn", 2, "tanh"), ("rnn", 1, "identity")], "mse",
         6, 2, 1, True, 0.9),
    ]
    tiny_lru = [
        ("lru->dense tanh, mse", [("lru", 2, None, 2), ("dense", 2, "tanh")], "mse",
         6, 2, 2, True, 0.6),
        ("indrnn->lru(D), mse", [("indrnn", 2, "tanh"), ("lru", 2, None, 3)], "mse",
         5, 2, 1, True, 0.8),
    ]
    for gen, (name, stack, loss, T, B, I, holes, cont) in (
            [(rng, k) for k in tiny] + [(rng_lru, k) for k in tiny_lru]):
        case = random_case(gen, stack, loss, T, B, 0, 0, I, holes)
        (f,) = run_cli(case, tmp, "artbp-ev-full")
        target = np.array(f["grad"]) * f["elements"] / normaliser(case, cont)
        expect, total_prob = np.zeros_like(target), 0.0
        for pattern in itertools.product((False, True), repeat=T - 1):
            prob = 1.0
            for cut in pattern:
                prob *= (1 - cont) if cut else cont
            points = [k + 1 for k, cut in enumerate(pattern) if cut] + [T]
            a_case = dict(case, artbp={"continue": cont, "points": points})
            for u in compute(a_case):
                expect += prob * np.array(u["grad"])
            total_prob += prob
        rel = np.abs(expect - target).max() / np.abs(target).max()
        worst3 = max(worst3, rel)
        ok = ok and rel <= 1e-12 and abs(total_prob - 1) < 1e-14
        print("artbp c=%.2f %-34s T=%d: E over %2d patterns vs full BPTT / E: rel %.1e"
              % (cont, name, T, 2 ** (T - 1), rel))
    print("artbp self-check %s: c=1 vs full %.1e (limit 1e-14), windows vs brute force %.1e "
          "(limit 1e-10), expectation vs full %.1e (limit 1e-12); %.1f s"
          % ("passed" if ok else "FAILED", worst1, worst2, worst3, time.time() - t0))
    return ok


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-check"]:
        sys.exit(self_check())
    main(sys.argv[1], sys.argv[2])
