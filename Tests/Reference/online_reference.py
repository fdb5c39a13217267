#!/usr/bin/env python3
"""Independent numpy reference (float64) for rnn-exp's online gradient algorithms (SPEC 3.3):
exact RTRL, SnAp-1, UORO, RFLO (symmetric or random feedback, SPEC 3.5) and KF-RTRL, plus two BPTT
oracles with SGD between updates; layers dense, rnn, lstm, gru, and the element-wise indrnn and
lru (SPEC 2, 3.5).

Written from the equations only (SPEC 2, 3, 3.3, 3.5). It reuses make_golden.py's forward pieces
(activations, lstm_step, gru_step, the flat parameter layout, and for the BPTT oracles its
one-step backward functions); every online algorithm is built here from hand-derived local
Jacobians.

Usage: online_reference.py CASE.json OUT.json [CARRY_OUT.json]
       online_reference.py --self-check

------------------------------------------------------------------------------------------------
Notation (SPEC 2-3.3). Layer l at step n has input x^l_n = h^{l-1}_n (h^0_n = the input) and
state s^l_n: rnn, indrnn, gru: s = h (U); lstm: s = [h; c] (2U, h first); lru: s = [Re s; Im s]
(2S reals, S = its "state", the complex state's real parts first); dense: no carried state
(its "state" below is just h, recomputed every step). theta^l = the layer's parameters in
make_golden's flat layout (dense [W_s, b]; rnn [W_s, W_t, b]; indrnn [W_s, w_t, b]; lstm/gru
[W_s, W_t, b_s, b_t]; lru [nu_log, theta_log, gamma_log, B_re, B_im, C_re, C_im, D (only when
U == I)], matrices row-major); theta = all of them, Ptot entries. Local derivatives of one
step, taken with the weights in force at that step:
    Jx^l_n = ds^l_n/dx^l_n,  J^l_n = ds^l_n/ds^l_{n-1} (recurrent layers),
    I^l_n  = ds^l_n/dtheta^l with x^l_n and s^l_{n-1} held fixed (the immediate influence).
  rnn/dense: z = SW x + TW h_{n-1} + b, h = sigma(z), D = dh/dz (diag(sigma'(z)); softmax: the
    full Jacobian diag(y) - y y^T): Jx = D SW, J = D TW, I[k; W_s[i,j]] = D[k,i] x_j,
    I[k; W_t[i,j]] = D[k,i] h_{n-1,j}, I[k; b_i] = D[k,i]  (SPEC: I = delta_ki sigma'(z_k) a^_j).
  lstm (pre = W_s x + b_s + W_t h + b_t; i, f, g, o; c = f c_prev + i g; h = o tanh c; ' =
    derivative of the gate nonlinearity): dc/dpre = [diag(g i'), diag(c_prev f'), diag(i g'), 0],
    dh/dpre = diag(o tanh'(c)) dc/dpre + [0, 0, 0, diag(tanh(c) o')];
    J = [[dh/dpre W_t, diag(o tanh'(c) f)], [dc/dpre W_t, diag(f)]], Jx = [dh/dpre; dc/dpre] W_s,
    I = [dh/dpre; dc/dpre] times the row structure of (W_s: x, W_t: h_prev, b_s: 1, b_t: 1).
    b_s and b_t have identical columns, so their influences and gradients are equal.
  indrnn: as rnn with TW = diag(w_t): J = D diag(w_t), I[k; w_t[i]] = D[k,i] h_{n-1,i}.
  lru (SPEC 2; lambda = exp(-exp(nu_log) + i exp(theta_log)), gamma = exp(gamma_log),
    s_n = lambda ⊙ s_{n-1} + gamma ⊙ (B x_n), B = B_re + i B_im; h_n = Re(C s_n) + D ⊙ x_n,
    C = C_re + i C_im), in the real form of s: J = [[diag Re lambda, -diag Im lambda],
    [diag Im lambda, diag Re lambda]], Jx = [gamma ⊙ B_re; gamma ⊙ B_im], I (state rows, with
    complex entries split into the Re and Im rows): ds_k/dnu_log_k = s_{n-1,k} lambda_k
    (-exp(nu_log_k)), ds_k/dtheta_log_k = s_{n-1,k} lambda_k i exp(theta_log_k),
    ds_k/dgamma_log_k = gamma_k (B x_n)_k, ds_k/dB_re[k,j] = gamma_k x_j, ds_k/dB_im[k,j] =
    i gamma_k x_j (C, D: 0). Its output h is not its state: h = Hs s + Hx x + Hp, Hs = [C_re,
    -C_im], Hx = diag(D) (absent without D), Hp = the immediate dh/dC_re[k,j] = Re s_j,
    dh/dC_im[k,j] = -Im s_j, dh/dD_k = x_k. Wherever the other kinds pass "h = the first U
    state rows" up or take an error on h as an error on the state, an lru goes through this
    output map (forward: dh/dtheta = Hs ds/dtheta + Hx dx/dtheta + Hp; backward: error on s =
    c_h Hs, exact immediate C/D gradient c_h Hp, error on x = c_s Jx + c_h Hx).
  gru (r, z, n = tanh(a_sn + r (W_tn h + b_tn)), h = (1 - z) n + z h_prev), with
    dn = (1 - z) n', dr = dn (W_tn h + b_tn) r', dz = (h_prev - n) z':
    dh/da_s = [diag(dr), diag(dz), diag(dn)],  dh/da_t = [diag(dr), diag(dz), diag(dn r)],
    J = diag(z) + dh/da_t W_t,  Jx = dh/da_s W_s,  I: W_s and b_s columns through dh/da_s,
    W_t and b_t columns through dh/da_t (so W_tn, b_tn carry the factor r, b_sn != b_tn).

Every algorithm runs the forward step by step. Per step n and lane: (1) forward with the current
weights; (2) advance the influence; (3) if the step has targets, accumulate the gradient of the
step's (unnormalised) loss C_n; (4) at every multiple of tau_b and at the last step T (of this
call, see "stream"), if the window had targets: grad = sum / elements (make_golden's
normalisation), emit it, then plain SGD  w <- w - lr * grad; zero the accumulators. The influence
is never reset at an update: it runs on with the new weights (SPEC 3.3). A window without
targets is skipped (no output, no SGD) and the influence still advances.
Errors at a target step m: e_m = dC_m/dz^top (folded cross-entropy: softmax - onehot, folded
binary-cross-entropy: y - t) or dC_m/dy_m (mse: 2 (y - t)); q^l_m = the error on h^l_m through
step m only (readout: ordinary same-step backprop through the dense layers above the top
recurrent layer L). The readout's gradient is always the exact same-step gradient.

rtrl (exact, whole stack). M^l_n = ds^l_n/dtheta (all Ptot columns; the columns of layers above
  l are 0; block j of M^l is SPEC's cross-layer block M^{l,j}):
      M^l_n = Jx^l_n M^{l-1}_n[h rows] + J^l_n M^l_{n-1} + I^l_n     (no J term for dense layers;
                                                                      I^l_n in layer l's columns)
  updated bottom-up each step (M^0 := 0 for the input; dense layers between recurrent layers get
  columns like everyone; an lru passes dh/dtheta = Hs M^l_n + Hx dh^{l-1}/dtheta + Hp up).
  indrnn and lru use the same dense influence (their own block is structurally sparse; the
  reference does not exploit that, SPEC 3.5's memory statement is for the engine).
  Gradient at a target step m:  dC_m/dy_m . dy_m/dtheta (M^top_m[h rows]; an lru top: its
  dh/dtheta above), or with a folded loss e_m . dz^top_m/dtheta
  (dz/dtheta = SW M^{top-1}_m + TW M^top_{m-1} + dz/dtheta^top immediate). This includes the
  readout's exact same-step gradient.

snap1 (per layer). For each recurrent layer, M-bar^l (U or 2U rows, theta^l columns only):
      M-bar^l_n = Pi^l (.) ( J^l_n M-bar^l_{n-1} + I^l_n )          ((.) = elementwise mask)
  Pi^l is the structural SnAp-1 pattern, fixed (never computed from values: a 0 input cannot
  wipe a carried entry): state row of unit k (h_k, and c_k for lstm) x every column of unit k's
  own weight rows (rnn: row k of W_s, W_t, b; lstm: rows k, U+k, 2U+k, 3U+k of W_s, W_t, b_s,
  b_t; gru: rows k, U+k, 2U+k). For rnn this is exactly SPEC 3.3's
      M-bar_n[k, j] = sigma'(z_{n,k}) (TW[k, k] M-bar_{n-1}[k, j] + a^_{n,j}).
  lstm: 2 x 4 rows x C entries per unit, carried with the per-unit 2x2 block of J. Note: the
  strict pattern of I_n would drop (c_k, o-gate row k) (o does not touch c at the same step);
  this reference keeps it (the per-unit block), which is what makes snap1 = rtrl exact when
  every W_t gate block is diagonal (checked). gru: 1 x 3 rows x C per unit.
  Error through the same step only:  Delta theta^l += q^l_m . M-bar^l_m  (q on h, 0 on c), and
  q^{l-1}_m = (Jx^l_m)^T q^l_m  (rnn: SW^T (sigma'(z) (.) q); gated: the same-step VJP; dense
  layers anywhere: Delta theta^d += q^d . I^d_m, q^{d-1} = (Jx^d)^T q^d, exact).
  A softmax recurrent layer uses the same masked form with its full D (not elementwise).
  indrnn: Pi = unit k's row x (W_s row k, w_t[k], b[k]) (SPEC 3.5: the layer's exact
  influence, M-bar_n[k, .] = sigma'(z_{n,k}) (w_t[k] M-bar_{n-1}[k, .] + I-row)).
  lru (SPEC 3.5; class LRUInfluence): complex per-lane influences, 0 at a reset,
      e^lambda_n = lambda ⊙ e^lambda_{n-1} + s_{n-1},   e^gamma_n = lambda ⊙ e^gamma_{n-1} + B x_n,
      E^B_n[k, j] = lambda_k E^B_{n-1}[k, j] + gamma_k x_{n,j};
  with the error on s as G = dC/dRe s + i dC/dIm s (the lru's c_h Hs), dC/dp = Re(conj(G) ds/dp):
      dnu_log = Re(conj(G) e^lambda (-lambda exp(nu_log))), dtheta_log = Re(conj(G) e^lambda
      (i lambda exp(theta_log))), dgamma_log = Re(conj(G) e^gamma) gamma, dB_re = Re(conj(G)
      E^B), dB_im = Re(conj(G) i E^B); C and D: the exact immediate c_h Hp.
  The case key "lru_chain" picks where dlambda/dnu_log, dlambda/dtheta_log and gamma enter:
  "target" (default, SPEC 3.5 as written) at the target step m as above; "step" at every step
  (carried e^nu = lambda e^nu + s_{n-1} dlambda_n/dnu_log, e^theta likewise, e^gl = lambda e^gl
  + gamma_n B x_n), which is rtrl's own block also under SGD. At fixed weights they are equal
  (snap1 = rtrl = full BPTT on a single lru layer); with lr > 0 and several updates per sequence
  "target" differs from rtrl by O(lr) after the first update (checked: 3e-2..3e-1 at lr 0.1).

rflo (rnn and indrnn layers; lstm/gru/lru raise ValueError; dense layers allowed anywhere). Per
layer (indrnn: rflo's rnn rule with W_t = diag(w_t); the w_t[k] trace is the rnn rule's (k, k)
W_t entry, sigma'(z_k) h_{n-1,k}):
      M~^l_n = lambda M~^l_{n-1} + I^l_n      (= SPEC's B_n = lambda B_{n-1} + sigma'(z_n) a^_n^T)
  with lambda = rflo_decay, and the same per-layer same-step error as snap1.
  Random feedback (SPEC 3.5, Murray 2019; case key "rflo_feedback"): the caller gives a fixed
  B_l (units x inputs, W_s's shape) for every readout layer l (each dense layer above the top
  recurrent layer L). In the same-step backward pass through the readout each such layer sends
  its error e_l (on its z) down as e_l B_l instead of e_l W_s^l, so
      q^L_m = e_top B_top (one readout layer), or through the chain of B's with each lower
      readout layer's sigma' in between;
  each readout layer's own gradient keeps its same-step form, its error times its input (the
  top readout layer's is therefore the exact one; a lower readout layer's error came through
  B). Everything below L (trace, decay, q^{l-1} = SW^{l T} (sigma'(z^l) (.) q^l) between
  recurrent layers, normalisation, schedule) is unchanged. B is never trained: with lr > 0 and
  B_l = the initial W_s only the first update equals symmetric rflo. The B_l path is computed
  exactly like the W_s path, so B_l = W_s gives the same bits.

uoro (one rank-one pair over the whole stack). State vector s = [s^{l1}; s^{l2}; ...] over the
  recurrent layers bottom-up (lstm: h then c), S entries; parameter vector theta (Ptot, the
  readout's columns stay 0). Per lane: a~ (S), theta~ (Ptot), both 0 at the start.
      nu = noise[n-1, lane]                    (+-1, S entries; from the case, see below)
      J a~ : one forward-mode step, tangent t^0 = 0, t^l = Jx^l t^{l-1}[h] + J^l a~^l (dense:
             Jx t), stacked over the recurrent layers  (= ds_n/ds_{n-1} a~_{n-1})
      nu~  = nu^T I_n : one same-step VJP, top-down from L: cotangent c^l = nu^l + [(Jx^{l+1})^T
             c^{l+1} on h; 0 on c], nu~[theta^l] = c^l . I^l_n (dense: no nu term)
      rho0 = sqrt(|theta~_{n-1}| / |J a~_{n-1}|)   (1 when either norm is 0)
      rho1 = sqrt(|nu~| / |nu|)                    (1 when |nu~| = 0); no other epsilon
      a~_n = rho0 J a~_{n-1} + rho1 nu,   theta~_n = theta~_{n-1} / rho0 + nu~ / rho1
  Gradient at a target step m (the new pair):  Delta theta += (q_m . a~_m) theta~_m, where q_m is
  0 except on the top recurrent layer's h (its same-step error; a lower state acts on C_m only
  through h^L_m, which M = ds/dtheta already includes). An lru top recurrent layer: q = c_h Hs on
  its s, its C and D get the exact immediate gradient c_h Hp, and with D the skip error c_h D goes
  on down through this step (dense layers exact) to the next recurrent layer's state (its h).
  The lru's J a~ passes Hs t + Hx t_below up, and its nu~ part is (nu^l + cot Hs) . I^l +
  cot Hp. Gated layers need nothing special: J a~ and nu^T I are the cell's JVP and VJP, the
  noise covers c as well, and the unbiasedness argument (E[nu nu^T] = Id; rho1 even in nu, so
  the cross terms are odd in nu and average out)
  holds for any J and I.

kf-rtrl (SPEC 3.5, Mujika, Meier & Steger 2018; class KFRTRL): rnn and indrnn layers (dense
  anywhere; lstm, gru, lru raise ValueError), per layer like rflo (the same same-step error
  q^{l-1} = SW^{l T} (sigma'(z^l) (.) q^l) into lower layers; the readout's exact same-step
  gradient). Per lane and recurrent layer: u (C = I + U + 1, the columns of Wc = [W_s | W_t | b]
  acting on a^_n = [x_n; h_{n-1}; 1]) and A (U x U), M[k; i, j] ~ A[k, i] u[j]; u_0 = 0, A_0 = 0
  (at a reset; carried on a stream). H_n = D_n TW (indrnn: TW = diag(w_t)), D_n = dh/dz
  (diag(sigma'(z_n)); softmax: its full Jacobian). With c1, c2 = kf_noise[n-1, lane, r] (r = the
  layer's index among the recurrent layers, bottom-up):
      p1 = sqrt(|H_n A_{n-1}|_F / |u_{n-1}|),  p2 = sqrt(|D_n|_F / |a^_n|)  (each 1 when a norm
      in it is 0; no other epsilon)
      u_n = c1 p1 u_{n-1} + c2 p2 a^_n,   A_n = c1 (1/p1) H_n A_{n-1} + c2 (1/p2) D_n
  Gradient at a target step m: Delta Wc += (A_m^T q_m) u_m^T (U x C), split into W_s (first I
  columns), W_t (next U; indrnn: w_t[k] = its (k, k) entry) and b (last). Normalisation, SGD,
  schedule, frozen lanes as the other algorithms. E[u_n (x) A_n] follows rtrl's own-block
  recursion (c1 c2 terms vanish; p1, p2 do not depend on this step's c's), so at fixed weights
  the estimate is unbiased for a single layer, and for the top recurrent layer of a stack.

bptt_stepweights (oracle): at each update n, BPTT of the window's loss (p, n] back to the start
  of the call over the stored activations, using at every step r the weights that step r was
  computed with (SPEC 3.3: what rtrl with tau_b < T and lr > 0 equals).
bptt (oracle): SPEC 3's BPTT(tau_b, tau_max) with SGD: the stored activations and the current
  weights, truncated at a = max(1, n - tau_max + 1) ("tau_max": 0 or absent = full). With lr = 0
  it is make_golden.py.

A recurrent (rnn) top layer with a folded loss: rtrl and the oracles use the folded error e on z;
snap1, uoro and rflo need dC/dy there and use the unclamped derivative (binary-cross-entropy:
(y - t) / (y (1 - y)); cross-entropy: -1/y_c at the target class).

------------------------------------------------------------------------------------------------
Case JSON: make_golden.py's fields {"layers", "loss", "weights", "inputs" (T, B, I), "mask"
(T, B), "targets", "tau_b"} plus
  "algorithm": "rtrl" | "snap1" | "uoro" | "rflo" | "kf-rtrl" | "bptt_stepweights" | "bptt"
           (default rtrl)
  "tau_b": int >= 1; 0 means T (one update per call)
  "tau_max": bptt only (0/absent = full); ignored otherwise
  "lr": float, default 0 (plain SGD after each update)
  "rflo_decay": float lambda, default 0
  "rflo_feedback": optional, rflo only (ignored by the other algorithms, like rflo_decay):
           {"layers": {"<l>": B_l, ...}} with one entry per readout layer, keyed by its layer
           index as a decimal string (exactly the layers top_rec+1 .. last; none missing, none
           extra), B_l nested lists of shape (units_l, inputs_l) = layer l's W_s. The script
           draws nothing. Absent: symmetric feedback (W_s), as before. A recurrent top layer
           has no readout: {"layers": {}} is then valid and changes nothing. Anything else is
           a ValueError. Not part of the carry: every stream piece passes it again.
  "noise": uoro only, required: (T, B, S) of +-1, S = sum over the recurrent layers, bottom-up,
           of their state sizes (rnn, indrnn, gru: U; lstm: 2U, ordered [h; c]; lru: 2S ordered
           [Re s; Im s]); noise[n-1][b] is the
           nu of step n (1-based within the call) and lane b. Ignored on a lane's frozen steps.
  "lengths": optional (B) ints: lane b runs steps 1..lengths[b] and is frozen after (state and
           influence unchanged, no targets: the mask is forced false there). Default T.
  "kf_noise": kf-rtrl only, required: (T, B, R, 2) of +-1, R = the number of recurrent (rnn,
           indrnn) layers, bottom-up; kf_noise[n-1][b][r] = [c1, c2] of step n, lane b, layer r.
           Ignored on a lane's frozen steps.
  "lru_chain": snap1 on lru only: "target" (default) | "step", see snap1 above.
  "initial_state": optional, per layer null (dense) or {"h": (B, U)} ({"h", "c"} for lstm;
           {"s": (B, 2S)} = [Re s; Im s] for lru): the
           state before step 1, influence 0 (a constant). Default zeros.
  "carry_in": optional, a CARRY_OUT.json written by a previous call (same algorithm, layers, B):
           state, influence, step count n and pending accumulators carry on; its "weights"
           replace the case's "weights" (they include the previous call's SGD steps). Not for
           the bptt oracles.
  "stream": optional bool, default false. True: this call is one piece of a longer run; its last
           step is an update only if it is a multiple of tau_b (global step count), and the
           pending window goes into the carry. The final piece has stream false.
Steps are numbered globally: n = carry_in's n + 1 ... + T; updates at multiples of tau_b and
at the last step of a non-stream call. Two pieces chained with carry_in equal one call
(checked), for every online algorithm.

Out JSON: [{"n": step, "loss": window loss / elements, "elements": count, "grad": flat gradient
in make_golden's layout (d loss / d theta, before the SGD step)}], one per non-skipped update.
CARRY_OUT.json (optional third argument): {"algorithm", "n", "weights" (after the last SGD
step), "state" (as initial_state), "influence" (rtrl: {"M": per layer (B, S_l, Ptot) or null};
snap1/rflo: {"M": per layer (B, S_l, P_l) or null; an lru layer under snap1: {"e_lambda" (B, S, 2),
"e_gamma" (B, S, 2), "E_B" (B, S, I, 2)} (lru_chain "step": "e_nu", "e_theta", "e_gamma_log",
"E_B"), complex numbers as a trailing [re, im] axis}; uoro: {"a": (B, S), "theta": (B, Ptot)};
kf-rtrl: {"u": per layer (B, C_l) or null, "A": per layer (B, U_l, U_l) or null}),
"pending": {"grad": unnormalised sum (Ptot), "loss": sum, "elements": int}}.

--self-check: random float64 cases (rnn stacks with dense layers between and on top, lstm,
gru, ragged lanes, masks with holes, mse / cross-entropy / binary-cross-entropy); prints one
line per check and exits 1 on any failure. Takes a few seconds. rflo random feedback (section
10): B_l = W_s equals symmetric rflo (whole run at lr 0; first update only at lr > 0, B being
fixed); random B_l changes every recurrent layer's gradient but not the top readout layer's
at the first update; on rnn->dense (mse/sigmoid, ce/softmax) and rnn->rnn->dense the first
update's recurrent gradients equal a hand computation, q = (dC/dz_readout) B with dC/dz by
complex-step differentiation and dWc = (q sigma'(z)) outer [x; h_0; 1] (lambda 0.8, nonzero
h_0) to 1e-12; the located errors; stream pieces chain.
Element-wise layers (elementwise_self_check, own generator): on a single indrnn or lru layer
(+ dense readout, or alone; mse / ce / bce; holes, ragged lanes) snap1 = rtrl = make_golden full
BPTT for one update per sequence and = BPTT(2, full) with tau_b = 2 (1e-12); at lr 0.1 rtrl =
bptt_stepweights, snap1 = rtrl (indrnn always; lru on the first update, and at every update with
lru_chain "step"); indrnn = an rnn with W_t = diag(w_t) for rtrl, snap1 and rflo (w_t gradient =
the W_t gradient's diagonal, 0 difference) and rflo(0) = bptt(1, 1) on indrnn under SGD; rflo on
lru is a ValueError; stacks (indrnn -> lru(D) -> dense, rnn -> indrnn -> dense ce, lru -> indrnn
bce, lru -> dense -> lru(D)): rtrl = full BPTT, = BPTT(2, full), = bptt_stepweights at lr 0.1, =
central differences, and per-layer snap1's top recurrent layer = rtrl's (lower layer differs);
uoro unbiased on lru / indrnn stacks (including the D skip into q); streams with carries
(initial states, lru [Re s; Im s]) for rtrl, snap1 (both chains), uoro, rflo.
kf-rtrl (kf_self_check, own generator): after step 1 (nonzero h_0, any noise) A u equals rtrl's
own block of every layer of rnn -> indrnn -> dense (1e-14), and a single layer's first update at
step 1 equals rtrl's; indrnn = rnn with W_t = diag(w_t) at lr 0 (0 difference); unbiased at
lr 0 on rnn -> dense (ce), indrnn -> dense (mse) and the top layer of rnn -> indrnn -> dense:
8192 draws as lanes, group means of k = 64/256/1024 draws have rms error within [0.6, 1.5] of
sqrt(tr Sigma / k) / |g| with a fitted log-log slope in (-0.65, -0.35), Hotelling T^2/d of the
whole mean within 5 sqrt(2/d) of 1; two stream pieces with carry_in = one call (lr 0.2);
frozen lanes ignore later inputs and noise; ValueError on lstm, lru, and a bad kf_noise.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402
from make_golden import GATES, act, act_vjp, unpack, pack, lru_state  # noqa: E402

ONLINE = ("rtrl", "snap1", "uoro", "rflo", "kf-rtrl")
ORACLES = ("bptt_stepweights", "bptt")
FOLDED = {"cross-entropy": "softmax", "binary-cross-entropy": "sigmoid"}


# ---- layout ---------------------------------------------------------------------------------

def param_count(L):
    u, i = L["units"], L["inputs"]
    if L["kind"] in GATES:
        G = GATES[L["kind"]]
        return G * u * i + G * u * u + 2 * G * u
    if L["kind"] in ("indrnn", "lru"):
        return mg.n_params([L])
    return u * i + u + (u * u if L["kind"] == "rnn" else 0)


def state_size(L):
    """rnn, indrnn, gru: U; lstm: 2U ([h; c]); lru: 2S ([Re s; Im s]); dense: U (h)."""
    if L["kind"] == "lstm":
        return 2 * L["units"]
    if L["kind"] == "lru":
        return 2 * lru_state(L)
    return L["units"]


class Layout:
    """Parameter offsets, state sizes and the recurrent layers of a stack."""

    def __init__(self, layers):
        self.layers = layers
        self.sizes = [param_count(L) for L in layers]
        self.offsets = list(np.cumsum([0] + self.sizes[:-1]))
        self.total = int(sum(self.sizes))
        self.rec = [l for l, L in enumerate(layers) if L["kind"] != "dense"]
        if not self.rec:
            raise ValueError("online algorithms need a recurrent layer (use make_golden.py)")
        self.top_rec = self.rec[-1]
        self.top = len(layers) - 1
        self.ssize = [state_size(L) for L in layers]
        self.soff, off = {}, 0
        for l in self.rec:
            self.soff[l] = off
            off += self.ssize[l]
        self.S = off

    def cols(self, l):
        return slice(self.offsets[l], self.offsets[l] + self.sizes[l])


# ---- one step of one layer with its local derivatives ---------------------------------------

def _diag(v):
    """(B, U) -> (B, U, U) diagonal matrices."""
    return v[:, :, None] * np.eye(v.shape[1])


def _rows(D, v):
    """d s / d W[r, j] = D[s, r] v[j] for a weight block W whose row r sees the vector v:
    D (B, S, R), v (B, K) -> (B, S, R*K), columns in W's row-major order."""
    B, S, R = D.shape
    return np.einsum("bsr,bk->bsrk", D, v).reshape(B, S, R * v.shape[1])


def act_jac(name, h):
    """dh/dz as (B, U, U), through h = sigma(z)."""
    if name == "softmax":
        return _diag(h) - h[:, :, None] * h[:, None, :]
    return _diag(act_vjp(name, h, np.ones_like(h)))


def local_step(L, p, x, s_prev, derivs=True):
    """One step of layer L for all lanes. s_prev: {"h", "c"} (None for dense).
    Returns {"h", "c" (lstm), "cache" (gated, for make_golden's step_back), "z" (dense/rnn)} and
    with derivs: "Jx" (B,S,I), "Js" (B,S,S) (recurrent), "Ip" (B,S,P) (see the docstring), and
    for dense/rnn "D" (B,U,U), "Zp" (B,U,P) = dz/dtheta^l immediate, "SW", "TW"."""
    B, U = x.shape[0], L["units"]
    kind = L["kind"]
    out = {}
    if kind == "lstm":
        hp, cp = s_prev["h"], s_prev["c"]
        h, c, cache = mg.lstm_step(p, x, hp, cp)
        out.update(h=h, c=c, cache=cache)
        if not derivs:
            return out
        i, f, g, o = cache
        tc = np.tanh(c)
        zero = np.zeros((B, U, U))
        dc = np.concatenate([_diag(g * i * (1 - i)), _diag(cp * f * (1 - f)),
                             _diag(i * (1 - g * g)), zero], axis=2)          # (B, U, 4U)
        dh_dc = o * (1 - tc * tc)
        dh = dh_dc[:, :, None] * dc + np.concatenate(
            [zero, zero, zero, _diag(tc * o * (1 - o))], axis=2)
        Dpre = np.concatenate([dh, dc], axis=1)                              # (B, 2U, 4U)
        out["Jx"] = Dpre @ p["W_s"]
        out["Js"] = np.concatenate([
            np.concatenate([dh @ p["W_t"], _diag(dh_dc * f)], axis=2),
            np.concatenate([dc @ p["W_t"], _diag(f)], axis=2)], axis=1)
        out["Ip"] = np.concatenate([_rows(Dpre, x), _rows(Dpre, hp), Dpre, Dpre], axis=2)
        return out
    if kind == "gru":
        hp = s_prev["h"]
        h, cache = mg.gru_step(p, x, hp)
        out.update(h=h, cache=cache)
        if not derivs:
            return out
        r, z, n, hn = cache
        dn = (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        dz = (hp - n) * z * (1 - z)
        Ds = np.concatenate([_diag(dr), _diag(dz), _diag(dn)], axis=2)       # (B, U, 3U)
        Dt = np.concatenate([_diag(dr), _diag(dz), _diag(dn * r)], axis=2)
        out["Jx"] = Ds @ p["W_s"]
        out["Js"] = _diag(z) + Dt @ p["W_t"]
        out["Ip"] = np.concatenate([_rows(Ds, x), _rows(Dt, hp), Ds, Dt], axis=2)
        return out
    if kind == "lru":
        return lru_local(L, p, x, s_prev["s"], derivs)
    z = x @ p["W_s"].T + p["b"]
    if kind == "rnn":
        z = z + s_prev["h"] @ p["W_t"].T
    if kind == "indrnn":
        z = z + p["w_t"] * s_prev["h"]
    h = act(L["activation"], z)
    out.update(h=h, z=z)
    if kind in ("rnn", "indrnn"):
        out["hp"] = s_prev["h"]                       # h_{n-1}, for kf-rtrl's a^_n
    if not derivs:
        return out
    eye = np.broadcast_to(np.eye(U), (B, U, U))
    parts = [_rows(eye, x)] + ([_rows(eye, s_prev["h"])] if kind == "rnn" else []) \
        + ([_diag(s_prev["h"])] if kind == "indrnn" else []) + [eye]
    Zp = np.concatenate(parts, axis=2)
    D = act_jac(L["activation"], h)
    out.update(D=D, Zp=Zp, SW=p["W_s"], Jx=D @ p["W_s"], Ip=D @ Zp)
    if kind == "rnn":
        out["TW"] = p["W_t"]
        out["Js"] = D @ p["W_t"]
    if kind == "indrnn":                              # TW = diag(w_t)
        out["TW"] = np.diag(p["w_t"])
        out["Js"] = D @ out["TW"]
    return out


def lru_local(L, p, x, s_prev, derivs=True):
    """One lru step in the real form of its state, s = [Re s; Im s] (2S). Returns "h", "s" (B, 2S)
    and the complex "sc", "sp" (s_{n-1}), "u" = (B_re + i B_im) x, "lam", "gam"; with derivs:
    "Js" = ds/ds_prev (B, 2S, 2S) = [[diag Re lambda, -diag Im lambda], [diag Im lambda,
    diag Re lambda]], "Jx" = ds/dx (B, 2S, I) = [gamma ⊙ B_re; gamma ⊙ B_im], "Ip" = ds/dtheta^l
    immediate (B, 2S, P_l; the C and D columns are 0), and the output map
    h = Hs s + Hx x + (immediate C, D terms): "Hs" (U, 2S) = [C_re, -C_im], "Hx" (U, I) = diag(D)
    (None without D), "Hp" = dh/dtheta^l immediate (B, U, P_l; only the C and D columns)."""
    B, U, I, S = x.shape[0], L["units"], L["inputs"], lru_state(L)
    sp = s_prev[:, :S] + 1j * s_prev[:, S:]
    lam, gam = mg.lru_coeffs(p)
    u = x @ (p["B_re"] + 1j * p["B_im"]).T
    sc = lam * sp + gam * u
    h = (sc @ (p["C_re"] + 1j * p["C_im"]).T).real
    if "D" in p:
        h = h + p["D"] * x
    out = {"h": h, "s": np.concatenate([sc.real, sc.imag], axis=1), "sc": sc, "sp": sp, "u": u,
           "lam": lam, "gam": gam, "dlam_dnu": lam * -np.exp(p["nu_log"]),
           "dlam_dtheta": lam * 1j * np.exp(p["theta_log"])}
    if not derivs:
        return out
    a, b = np.diag(lam.real), np.diag(lam.imag)
    out["Js"] = np.broadcast_to(np.block([[a, -b], [b, a]]), (B, 2 * S, 2 * S))
    out["Jx"] = np.broadcast_to(np.concatenate([gam[:, None] * p["B_re"],
                                                gam[:, None] * p["B_im"]]), (B, 2 * S, I))
    gdiag = np.broadcast_to(np.diag(gam).astype(complex), (B, S, S))
    Ic = np.concatenate([
        _diag(sp * lam * -np.exp(p["nu_log"])),          # ds_k/dnu_log_k
        _diag(sp * lam * 1j * np.exp(p["theta_log"])),   # ds_k/dtheta_log_k
        _diag(gam * u),                                   # ds_k/dgamma_log_k
        _rows(gdiag, x.astype(complex)),                  # ds_k/dB_re[k, j] = gamma_k x_j
        _rows(1j * gdiag, x.astype(complex)),             # ds_k/dB_im[k, j] = i gamma_k x_j
        np.zeros((B, S, 2 * U * S + (U if "D" in p else 0)))], axis=2)
    out["Ip"] = np.concatenate([Ic.real, Ic.imag], axis=1)
    eye = np.broadcast_to(np.eye(U), (B, U, U))
    out["Hs"] = np.concatenate([p["C_re"], -p["C_im"]], axis=1)
    out["Hx"] = np.diag(p["D"]) if "D" in p else None
    out["Hp"] = np.concatenate([np.zeros((B, U, 3 * S + 2 * S * I)), _rows(eye, sc.real),
                                _rows(eye, -sc.imag)] + ([_diag(x)] if "D" in p else []), axis=2)
    return out


def lru_out_vjp(loc, c_h):
    """Same-step VJP of an lru's output map h = Hs s + Hx x + (C, D terms) for an error c_h on h:
    (error on s (B, 2S), immediate gradient of the lru's own parameters (B, P_l), error on x
    through D or None)."""
    c_x = c_h @ loc["Hx"] if loc["Hx"] is not None else None
    return c_h @ loc["Hs"], np.einsum("bu,bup->bp", c_h, loc["Hp"]), c_x


def stack_step(layers, P, x, state, derivs=True):
    locs, below = [], x
    for l, L in enumerate(layers):
        loc = local_step(L, P[l], below, state[l], derivs)
        loc["x"] = below
        locs.append(loc)
        below = loc["h"]
    return locs


def advance_state(layers, state, locs, active):
    """The new per-layer states, lanes that are not active keep theirs."""
    new = []
    for L, s, loc in zip(layers, state, locs):
        if L["kind"] == "dense":
            new.append(None)
            continue
        keep = active[:, None]
        if L["kind"] == "lru":
            new.append({"s": np.where(keep, loc["s"], s["s"])})
            continue
        d = {"h": np.where(keep, loc["h"], s["h"])}
        if L["kind"] == "lstm":
            d["c"] = np.where(keep, loc["c"], s["c"])
        new.append(d)
    return new


def pad_state(L, c_h):
    """An error on h extended to the layer's state (0 on an lstm's c)."""
    if L["kind"] == "lstm":
        return np.concatenate([c_h, np.zeros_like(c_h)], axis=1)
    return c_h


# ---- losses ---------------------------------------------------------------------------------

def step_errors(loss, loc_top, t, m):
    """Unnormalised loss sum, element count, dC/dy (B,O) and dC/dz (B,O; folded losses) of one
    step; m (B,) bool = the lanes with a target."""
    y = loc_top["h"]
    O = y.shape[1]
    mf = m.astype(np.float64)[:, None]
    if loss == "mse":
        diff = y - t
        return float(((diff ** 2) * mf).sum()), int(m.sum()) * O, 2.0 * diff * mf, None
    if loss == "binary-cross-entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = (t * np.maximum(np.log(y), -100) + (1 - t) * np.maximum(np.log(1 - y), -100))
            dy = np.where(mf > 0, (y - t) / (y * (1 - y)), 0.0)
        ll = np.where(mf > 0, ll, 0.0)
        return float(-ll.sum()), int(m.sum()) * O, dy, (y - t) * mf
    z = loc_top["z"]
    zmax = z.max(-1, keepdims=True)
    lse = np.log(np.exp(z - zmax).sum(-1)) + zmax[:, 0]
    cls = np.where(m, t, 0).astype(np.int64)
    picked = np.take_along_axis(z, cls[:, None], -1)[:, 0]
    onehot = np.eye(O)[cls] * mf
    dy = -onehot / np.where(onehot > 0, y, 1.0)
    return float(((lse - picked) * m).sum()), int(m.sum()), dy, (y - np.eye(O)[cls]) * mf


# ---- the online algorithms ------------------------------------------------------------------

class RTRL:
    """Exact RTRL over the whole stack: M[l] = ds^l/dtheta (B, S_l, Ptot)."""

    def __init__(self, lay, B, carry=None):
        self.lay = lay
        self.M = [np.zeros((B, lay.ssize[l], lay.total)) for l in range(len(lay.layers))]
        if carry is not None:
            for l, Ml in enumerate(carry["M"]):
                if Ml is not None:
                    self.M[l] = np.array(Ml, dtype=np.float64)
        self.Mz_top = None
        self.Mh_top = None                               # dy_top/dtheta of this step

    def advance(self, locs, active, nu=None):
        lay = self.lay
        below = None                                     # dh^{l-1}/dtheta of this step
        for l, L in enumerate(lay.layers):
            loc, cols = locs[l], lay.cols(l)
            U = L["units"]
            if L["kind"] == "lru":
                # M^l_n = Js M^l_{n-1} + Jx dh^{l-1}/dtheta + Ip;  dh^l/dtheta = Hs M^l_n
                # + Hx dh^{l-1}/dtheta + Hp (the lru's own C and D columns)
                new = np.matmul(loc["Js"], self.M[l])
                new[:, :, cols] += loc["Ip"]
                if below is not None:
                    new += np.matmul(loc["Jx"], below)
                new = np.where(active[:, None, None], new, self.M[l])
                self.M[l] = new
                out = np.matmul(loc["Hs"], new)
                out[:, :, cols] += loc["Hp"]
                if below is not None and loc["Hx"] is not None:
                    out += np.matmul(loc["Hx"], below)
                below = out
                continue
            if L["kind"] in ("dense", "rnn", "indrnn"):
                Mz = np.zeros((active.size, U, lay.total))
                Mz[:, :, cols] = loc["Zp"]
                if below is not None:
                    Mz += np.matmul(loc["SW"], below)
                if L["kind"] in ("rnn", "indrnn"):       # indrnn: TW = diag(w_t)
                    Mz += np.matmul(loc["TW"], self.M[l])
                new = np.matmul(loc["D"], Mz)
                if l == lay.top:
                    self.Mz_top = Mz
            else:
                new = np.matmul(loc["Js"], self.M[l])
                new[:, :, cols] += loc["Ip"]
                if below is not None:
                    new += np.matmul(loc["Jx"], below)
            if L["kind"] != "dense":
                new = np.where(active[:, None, None], new, self.M[l])
            self.M[l] = new
            below = new[:, :U]
        self.Mh_top = below

    def grad(self, locs, dy, dz, loss):
        if loss in FOLDED:
            return np.einsum("bo,bop->bp", dz, self.Mz_top)
        return np.einsum("bo,bop->bp", dy, self.Mh_top)

    def export(self):
        return {"M": [None if L["kind"] == "dense" else self.M[l].tolist()
                      for l, L in enumerate(self.lay.layers)]}


def snap1_pattern(L):
    """Pi (S, P) bool: state row of unit k x the columns of unit k's own weight rows."""
    U, I = L["units"], L["inputs"]
    R = GATES.get(L["kind"], 1) * U
    rows = [np.repeat(np.arange(R), I), np.repeat(np.arange(R), U), np.arange(R)]
    if L["kind"] == "indrnn":                    # W_s row k, w_t[k], b[k]
        rows = [np.repeat(np.arange(U), I), np.arange(U), np.arange(U)]
    if L["kind"] in GATES:
        rows.append(np.arange(R))
    rowid = np.concatenate(rows)
    S = 2 * U if L["kind"] == "lstm" else U
    return (np.arange(S)[:, None] % U) == (rowid[None, :] % U)


def same_step_backprop(lay, locs, dy, dz, loss, grad, stop, rec_fn=None, feedback=None):
    """Errors through one step only, from the top layer down to layer stop+1; dense layers get
    their exact gradient, recurrent ones are handed to rec_fn(l, c_h) which adds their gradient
    and returns the error on the layer below. Returns the error on h^{stop}.
    feedback (rflo with random feedback): {l: B_l} for readout layers; a layer in it still gets
    its gradient from its own error and input, but sends the error down through B_l in place of
    its W_s (computed exactly like the W_s path, so B_l = W_s gives the same bits)."""
    c = dy
    fb = feedback or {}
    for l in range(lay.top, stop, -1):
        L, loc, cols = lay.layers[l], locs[l], lay.cols(l)
        if l == lay.top and loss in FOLDED and L["kind"] == "dense":
            grad[:, cols] += np.einsum("bu,bup->bp", dz, loc["Zp"])
            c = dz @ (fb[l] if l in fb else loc["SW"])
        elif L["kind"] == "dense":
            grad[:, cols] += np.einsum("bu,bup->bp", c, loc["Ip"])
            Jx = loc["D"] @ fb[l] if l in fb else loc["Jx"]
            c = np.einsum("bu,bui->bi", c, Jx)
        else:
            c = rec_fn(l, c)
    return c


class LRUInfluence:
    """snap1 on an lru layer (SPEC 3.5): the exact influence of the layer's own parameters, carried
    as complex per-lane quantities (S = the state size), all 0 at a reset:
        e^lambda_n = lambda ⊙ e^lambda_{n-1} + s_{n-1}                  (ds_n/dlambda, S)
        e^gamma_n  = lambda ⊙ e^gamma_{n-1} + (B x_n)                   (ds_n/dgamma, S)
        E^B_n[k, j] = lambda_k E^B_{n-1}[k, j] + gamma_k x_{n,j}        (ds_n/dB, S x I)
    Gradient for an error c_s on [Re s; Im s], G = c_s[:S] + i c_s[S:] (dC/dp = Re(conj(G) ds/dp)
    for a real p):
        dnu_log = Re(conj(G) e^lambda dlambda/dnu_log),  dlambda/dnu_log = -lambda exp(nu_log)
        dtheta_log = Re(conj(G) e^lambda dlambda/dtheta_log),
                     dlambda/dtheta_log = i lambda exp(theta_log)
        dgamma_log = Re(conj(G) e^gamma) gamma
        dB_re[k, j] = Re(conj(G_k) E^B[k, j]),  dB_im[k, j] = Re(conj(G_k) i E^B[k, j]).
    chain "target" (default): dlambda/dnu_log, dlambda/dtheta_log and gamma are those of the
    target step m (SPEC 3.5 as written). chain "step": they enter at every step instead,
        e^nu_n = lambda ⊙ e^nu_{n-1} + s_{n-1} ⊙ dlambda_n/dnu_log       (e^theta likewise)
        e^gl_n = lambda ⊙ e^gl_{n-1} + gamma_n ⊙ (B x_n),
    dnu_log = Re(conj(G) e^nu), dgamma_log = Re(conj(G) e^gl), which is rtrl's own block exactly
    also when the weights change between steps (lr > 0). Both are the same at fixed weights.
    C and D (no recurrence) get their exact immediate gradient from lru_out_vjp."""

    def __init__(self, L, B, carry=None, chain="target"):
        if chain not in ("target", "step"):
            raise ValueError('lru_chain must be "target" or "step", not %r' % chain)
        S, I = lru_state(L), L["inputs"]
        self.S, self.chain = S, chain
        self.keys = (("e_lambda", "e_gamma") if chain == "target" else
                     ("e_nu", "e_theta", "e_gamma_log")) + ("E_B",)
        self.v = {k: np.zeros((B, S) if k != "E_B" else (B, S, I), complex) for k in self.keys}
        if carry is not None:            # complex numbers as a trailing [re, im] axis
            if set(carry) != set(self.keys):
                raise ValueError("carry_in: lru snap1 influence %s, this chain (%s) carries %s"
                                 % (sorted(carry), chain, list(self.keys)))
            for k in self.keys:
                c = np.array(carry[k], dtype=np.float64)
                self.v[k] = c[..., 0] + 1j * c[..., 1]

    def advance(self, loc, active):
        lam, x, sp, u, gam = loc["lam"], loc["x"], loc["sp"], loc["u"], loc["gam"]
        add = ({"e_lambda": sp, "e_gamma": u} if self.chain == "target" else
               {"e_nu": sp * loc["dlam_dnu"], "e_theta": sp * loc["dlam_dtheta"],
                "e_gamma_log": gam * u})
        for k in self.keys:
            if k == "E_B":
                new = lam[:, None] * self.v[k] + gam[:, None] * x[:, None, :]
            else:
                new = lam * self.v[k] + add[k]
            keep = active.reshape((-1,) + (1,) * (new.ndim - 1))
            self.v[k] = np.where(keep, new, self.v[k])

    def grad(self, loc, c_s, P_l):
        """(B, P_l): the state part of the layer's gradient (the C and D columns 0)."""
        B, S, v = c_s.shape[0], self.S, self.v
        cg = np.conj(c_s[:, :S] + 1j * c_s[:, S:])
        if self.chain == "target":
            parts = [(cg * v["e_lambda"] * loc["dlam_dnu"]).real,
                     (cg * v["e_lambda"] * loc["dlam_dtheta"]).real,
                     (cg * v["e_gamma"]).real * loc["gam"]]
        else:
            parts = [(cg * v["e_nu"]).real, (cg * v["e_theta"]).real,
                     (cg * v["e_gamma_log"]).real]
        parts += [(cg[:, :, None] * v["E_B"]).real.reshape(B, -1),
                  (cg[:, :, None] * 1j * v["E_B"]).real.reshape(B, -1)]
        g = np.concatenate(parts, axis=1)
        return np.concatenate([g, np.zeros((B, P_l - g.shape[1]))], axis=1)

    def export(self):
        return {k: np.stack([v.real, v.imag], axis=-1).tolist() for k, v in self.v.items()}


class PerLayer:
    """snap1 (masked influence; complex influences on lru) and rflo (decaying trace), per
    recurrent layer."""

    def __init__(self, lay, B, kind, decay=0.0, carry=None, feedback=None, lru_chain="target"):
        self.lay, self.kind, self.decay, self.feedback = lay, kind, decay, feedback
        if kind == "rflo":
            bad = [L["kind"] for L in lay.layers if L["kind"] in GATES or L["kind"] == "lru"]
            if bad:
                raise ValueError("rflo supports rnn and indrnn layers only (SPEC 3.3), not %s"
                                 % bad[0])
        self.M, self.pattern = {}, {}
        for l in lay.rec:
            L = lay.layers[l]
            if L["kind"] == "lru":
                self.M[l] = LRUInfluence(L, B, carry["M"][l] if carry is not None else None,
                                         lru_chain)
                continue
            self.M[l] = np.zeros((B, lay.ssize[l], lay.sizes[l]))
            self.pattern[l] = snap1_pattern(L)
            if carry is not None:
                self.M[l] = np.array(carry["M"][l], dtype=np.float64)

    def advance(self, locs, active, nu=None):
        for l in self.lay.rec:
            loc = locs[l]
            if self.lay.layers[l]["kind"] == "lru":
                self.M[l].advance(loc, active)
                continue
            if self.kind == "snap1":
                new = self.pattern[l] * (np.matmul(loc["Js"], self.M[l]) + loc["Ip"])
            else:
                new = self.decay * self.M[l] + loc["Ip"]
            self.M[l] = np.where(active[:, None, None], new, self.M[l])

    def grad(self, locs, dy, dz, loss):
        lay = self.lay
        grad = np.zeros((dy.shape[0], lay.total))

        def rec_fn(l, c_h):
            if lay.layers[l]["kind"] == "lru":
                c_s, g_out, c_x = lru_out_vjp(locs[l], c_h)
                grad[:, lay.cols(l)] += g_out + self.M[l].grad(locs[l], c_s, lay.sizes[l])
                c = np.einsum("bs,bsi->bi", c_s, locs[l]["Jx"])
                return c if c_x is None else c + c_x
            c = pad_state(lay.layers[l], c_h)
            grad[:, lay.cols(l)] += np.einsum("bs,bsp->bp", c, self.M[l])
            return np.einsum("bs,bsi->bi", c, locs[l]["Jx"])

        same_step_backprop(lay, locs, dy, dz, loss, grad, -1, rec_fn, self.feedback)
        return grad

    def export(self):
        return {"M": [(self.M[l].export() if isinstance(self.M[l], LRUInfluence)
                       else self.M[l].tolist()) if l in self.M else None
                      for l in range(len(self.lay.layers))]}


class UORO:
    """One rank-one pair (a~ over the stacked state, theta~ over all parameters) per lane."""

    def __init__(self, lay, B, carry=None):
        self.lay = lay
        self.a = np.zeros((B, lay.S))
        self.th = np.zeros((B, lay.total))
        if carry is not None:
            self.a = np.array(carry["a"], dtype=np.float64).reshape(B, lay.S)
            self.th = np.array(carry["theta"], dtype=np.float64)

    def advance(self, locs, active, nu):
        lay = self.lay
        B = self.a.shape[0]
        Ja = np.zeros_like(self.a)                       # forward mode: J a~
        t_below = None
        for l in range(lay.top_rec + 1):
            L, loc = lay.layers[l], locs[l]
            if L["kind"] == "dense":
                if t_below is not None:
                    t_below = np.einsum("bui,bi->bu", loc["Jx"], t_below)
                continue
            so = slice(lay.soff[l], lay.soff[l] + lay.ssize[l])
            t = np.einsum("bst,bt->bs", loc["Js"], self.a[:, so])
            if t_below is not None:
                t = t + np.einsum("bsi,bi->bs", loc["Jx"], t_below)
            Ja[:, so] = t
            if L["kind"] == "lru":                       # tangent of h = Hs s + Hx x
                th = t @ loc["Hs"].T
                if t_below is not None and loc["Hx"] is not None:
                    th = th + t_below @ loc["Hx"].T
                t_below = th
                continue
            t_below = t[:, :L["units"]]
        nt = np.zeros((B, lay.total))                    # reverse mode: nu^T I
        cot = None
        for l in range(lay.top_rec, -1, -1):
            L, loc = lay.layers[l], locs[l]
            if L["kind"] == "lru":                       # cotangent nu on s, cot on h
                c = nu[:, lay.soff[l]:lay.soff[l] + lay.ssize[l]].copy()
                if cot is not None:
                    c_s, g_out, c_x = lru_out_vjp(loc, cot)
                    c = c + c_s
                nt[:, lay.cols(l)] = np.einsum("bs,bsp->bp", c, loc["Ip"])
                if cot is not None:
                    nt[:, lay.cols(l)] += g_out
                new_cot = np.einsum("bs,bsi->bi", c, loc["Jx"])
                if cot is not None and c_x is not None:
                    new_cot = new_cot + c_x
                cot = new_cot
                continue
            if L["kind"] == "dense":
                c = cot
            else:
                c = nu[:, lay.soff[l]:lay.soff[l] + lay.ssize[l]].copy()
                if cot is not None:
                    c[:, :L["units"]] += cot
            nt[:, lay.cols(l)] = np.einsum("bs,bsp->bp", c, loc["Ip"])
            cot = np.einsum("bs,bsi->bi", c, loc["Jx"])
        n_th = np.linalg.norm(self.th, axis=1)
        n_ja = np.linalg.norm(Ja, axis=1)
        n_nt = np.linalg.norm(nt, axis=1)
        n_nu = np.linalg.norm(nu, axis=1)
        ok0 = (n_th > 0) & (n_ja > 0)
        rho0 = np.where(ok0, np.sqrt(n_th / np.where(ok0, n_ja, 1.0)), 1.0)
        ok1 = (n_nt > 0) & (n_nu > 0)
        rho1 = np.where(ok1, np.sqrt(n_nt / np.where(ok1, n_nu, 1.0)), 1.0)
        a = rho0[:, None] * Ja + rho1[:, None] * nu
        th = self.th / rho0[:, None] + nt / rho1[:, None]
        self.a = np.where(active[:, None], a, self.a)
        self.th = np.where(active[:, None], th, self.th)

    def grad(self, locs, dy, dz, loss):
        lay = self.lay
        grad = np.zeros((dy.shape[0], lay.total))
        c_h = same_step_backprop(lay, locs, dy, dz, loss, grad, lay.top_rec)
        # q . a~ over the stacked state: the error on every recurrent layer's new state through
        # this step alone. An rnn/indrnn/gated top state holds h^L itself (q on its h only); an
        # lru's h = Hs s + Hx x + (C, D terms): q = c_h Hs on its s, C and D get their exact
        # immediate gradient, and D's skip sends c_h D down to the layer below (through dense
        # layers, exact, to the next recurrent layer's state).
        qa = np.zeros(dy.shape[0])
        c, l = c_h, lay.top_rec
        while c is not None and l >= 0:
            L, loc, off = lay.layers[l], locs[l], lay.soff.get(l)
            if L["kind"] == "dense":
                grad[:, lay.cols(l)] += np.einsum("bu,bup->bp", c, loc["Ip"])
                c = np.einsum("bu,bui->bi", c, loc["Jx"])
            elif L["kind"] == "lru":
                c_s, g_out, c = lru_out_vjp(loc, c)
                grad[:, lay.cols(l)] += g_out
                qa = qa + np.einsum("bs,bs->b", c_s, self.a[:, off:off + lay.ssize[l]])
            else:
                qa = qa + np.einsum("bu,bu->b", c, self.a[:, off:off + c.shape[1]])
                c = None
            l -= 1
        return grad + qa[:, None] * self.th

    def export(self):
        return {"a": self.a.tolist(), "theta": self.th.tolist()}


class KFRTRL:
    """kf-rtrl (SPEC 3.5, Mujika et al. 2018), per rnn / indrnn layer like rflo. Per lane and
    layer: u (C = I + U + 1) and A (U x U), M[k; i, j] ~ A[k, i] u[j] over Wc = [W_s | W_t | b]
    (indrnn: W_t = diag(w_t), only its diagonal is a parameter)."""

    def __init__(self, lay, B, carry=None):
        self.lay = lay
        bad = [L["kind"] for L in lay.layers if L["kind"] not in ("dense", "rnn", "indrnn")]
        if bad:
            raise ValueError("kf-rtrl supports rnn and indrnn layers only (SPEC 3.5), not %s"
                             % bad[0])
        self.u, self.A = {}, {}
        for r, l in enumerate(lay.rec):
            L = lay.layers[l]
            U, C = L["units"], L["inputs"] + L["units"] + 1
            self.u[l] = np.zeros((B, C))
            self.A[l] = np.zeros((B, U, U))
            if carry is not None:
                self.u[l] = np.array(carry["u"][l], dtype=np.float64).reshape(B, C)
                self.A[l] = np.array(carry["A"][l], dtype=np.float64).reshape(B, U, U)

    def advance(self, locs, active, noise):
        """noise (B, R, 2): [..., 0] = c1, [..., 1] = c2 of this step, per lane and layer."""
        for r, l in enumerate(self.lay.rec):
            loc = locs[l]
            B = loc["h"].shape[0]
            ahat = np.concatenate([loc["x"], loc["hp"], np.ones((B, 1))], axis=1)
            D = loc["D"]                                              # (B, U, U)
            HA = np.matmul(loc["D"] @ loc["TW"], self.A[l])           # H_n A_{n-1}
            n_ha = np.sqrt((HA * HA).sum(axis=(1, 2)))
            n_u = np.linalg.norm(self.u[l], axis=1)
            n_d = np.sqrt((D * D).sum(axis=(1, 2)))
            n_a = np.linalg.norm(ahat, axis=1)
            ok1 = (n_ha > 0) & (n_u > 0)
            p1 = np.where(ok1, np.sqrt(n_ha / np.where(ok1, n_u, 1.0)), 1.0)
            ok2 = (n_d > 0) & (n_a > 0)
            p2 = np.where(ok2, np.sqrt(n_d / np.where(ok2, n_a, 1.0)), 1.0)
            c1, c2 = noise[:, r, 0], noise[:, r, 1]
            u = (c1 * p1)[:, None] * self.u[l] + (c2 * p2)[:, None] * ahat
            A = (c1 / p1)[:, None, None] * HA + (c2 / p2)[:, None, None] * D
            self.u[l] = np.where(active[:, None], u, self.u[l])
            self.A[l] = np.where(active[:, None, None], A, self.A[l])

    def grad(self, locs, dy, dz, loss):
        lay = self.lay
        grad = np.zeros((dy.shape[0], lay.total))

        def rec_fn(l, c_h):
            L = lay.layers[l]
            I, U = L["inputs"], L["units"]
            v = np.einsum("bki,bk->bi", self.A[l], c_h)               # A_m^T q_m
            Wg = v[:, :, None] * self.u[l][:, None, :]                # (A^T q) u^T, (B, U, C)
            B = Wg.shape[0]
            tw = (Wg[:, :, I:I + U].reshape(B, U * U) if L["kind"] == "rnn"
                  else np.einsum("bkk->bk", Wg[:, :, I:I + U]))       # indrnn: the diagonal
            grad[:, lay.cols(l)] += np.concatenate(
                [Wg[:, :, :I].reshape(B, U * I), tw, Wg[:, :, -1]], axis=1)
            return np.einsum("bs,bsi->bi", c_h, locs[l]["Jx"])

        same_step_backprop(lay, locs, dy, dz, loss, grad, -1, rec_fn)
        return grad

    def export(self):
        n = len(self.lay.layers)
        return {"u": [self.u[l].tolist() if l in self.u else None for l in range(n)],
                "A": [self.A[l].tolist() if l in self.A else None for l in range(n)]}


# ---- the driver -----------------------------------------------------------------------------

def parse(case):
    layers, loss = case["layers"], case["loss"]
    for L in layers:
        if L["kind"] not in ("dense", "rnn", "lstm", "gru", "indrnn", "lru"):
            raise ValueError("unknown layer kind %s" % L["kind"])
        if L["kind"] == "lru" and L.get("activation", "identity") != "identity":
            raise ValueError("an lru layer is linear: activation %r" % L["activation"])
    if loss in FOLDED:
        top = layers[-1]
        if top["kind"] not in ("dense", "rnn", "indrnn") or top.get("activation") != FOLDED[loss]:
            raise ValueError("%s needs a %s dense, rnn or indrnn top layer"
                             % (loss, FOLDED[loss]))
    elif loss != "mse":
        raise ValueError("unknown loss %s" % loss)
    X = np.asarray(case["inputs"], dtype=np.float64)
    T, B = X.shape[:2]
    mask = np.asarray(case["mask"], dtype=bool).reshape(T, B)
    lengths = np.asarray(case.get("lengths") or [T] * B, dtype=np.int64)
    active = np.arange(1, T + 1)[:, None] <= lengths[None, :]
    mask = mask & active
    if loss == "cross-entropy":
        Y = np.asarray(case["targets"], dtype=np.int64).reshape(T, B)
    else:
        Y = np.asarray(case["targets"], dtype=np.float64).reshape(T, B, -1)
    return layers, loss, X, mask, Y, active


def parse_feedback(lay, given):
    """rflo_feedback {"layers": {"<l>": B_l}} -> {l: B_l (units x inputs)} for exactly the
    readout layers (every layer above the top recurrent one); None when absent."""
    if given is None:
        return None
    if not isinstance(given, dict) or set(given) != {"layers"} or \
            not isinstance(given["layers"], dict):
        raise ValueError('rflo_feedback must be {"layers": {"<layer index>": matrix, ...}}')
    want = list(range(lay.top_rec + 1, len(lay.layers)))
    keys = sorted(given["layers"])
    if keys != sorted(str(l) for l in want):
        raise ValueError("rflo_feedback layers %s: the readout layers are %s (each dense layer "
                         "above the top recurrent layer %d)" % (keys, [str(l) for l in want],
                                                                lay.top_rec))
    fb = {}
    for l in want:
        L = lay.layers[l]
        Bl = np.array(given["layers"][str(l)], dtype=np.float64)
        if Bl.shape != (L["units"], L["inputs"]):
            raise ValueError("rflo_feedback layer %d: shape %s, W_s is (%d, %d)"
                             % (l, Bl.shape, L["units"], L["inputs"]))
        fb[l] = Bl
    return fb


def initial_state(layers, B, given):
    state = []
    for l, L in enumerate(layers):
        if L["kind"] == "dense":
            state.append(None)
            continue
        U = L["units"]
        g = given[l] if given else None
        if L["kind"] == "lru":                          # [Re s; Im s]
            state.append({"s": np.array(g["s"], dtype=np.float64) if g
                          else np.zeros((B, state_size(L)))})
            continue
        d = {"h": np.array(g["h"], dtype=np.float64) if g else np.zeros((B, U))}
        if L["kind"] == "lstm":
            d["c"] = np.array(g["c"], dtype=np.float64) if g else np.zeros((B, U))
        state.append(d)
    return state


def run(case, record=False):
    """Returns (updates, extra). extra: "carry" (online algorithms), and with record:
    "weights_per_step" (flat weights used at each step), "lane_grads" (per update, the
    unnormalised per-lane gradient sums (B, Ptot))."""
    alg = case.get("algorithm", "rtrl")
    if alg in ORACLES:
        return run_bptt(case, record)
    if alg not in ONLINE:
        raise ValueError("unknown algorithm %s" % alg)
    layers, loss, X, mask, Y, active = parse(case)
    T, B = mask.shape
    lay = Layout(layers)
    lr = float(case.get("lr", 0.0))
    tau_b = int(case.get("tau_b") or T)
    carry = case.get("carry_in")
    if carry is not None and carry.get("algorithm", alg) != alg:
        raise ValueError("carry_in comes from %s, not %s" % (carry["algorithm"], alg))
    n0 = int(carry["n"]) if carry else 0
    flat = np.array(carry["weights"] if carry else case["weights"], dtype=np.float64)
    if flat.size != lay.total:
        raise ValueError("weights: %d entries, the layers need %d" % (flat.size, lay.total))
    state = initial_state(layers, B, carry["state"] if carry else case.get("initial_state"))
    infl = carry["influence"] if carry else None
    if alg == "rtrl":
        algo = RTRL(lay, B, infl)
    elif alg == "uoro":
        algo = UORO(lay, B, infl)
        noise = np.asarray(case["noise"], dtype=np.float64)
        if noise.shape != (T, B, lay.S) or not np.all(np.abs(noise) == 1):
            raise ValueError("noise must be (T, B, S) = (%d, %d, %d) of +-1" % (T, B, lay.S))
    elif alg == "kf-rtrl":
        algo = KFRTRL(lay, B, infl)
        noise = np.asarray(case["kf_noise"], dtype=np.float64)
        R = len(lay.rec)
        if noise.shape != (T, B, R, 2) or not np.all(np.abs(noise) == 1):
            raise ValueError("kf_noise must be (T, B, R, 2) = (%d, %d, %d, 2) of +-1"
                             % (T, B, R))
    else:
        fb = parse_feedback(lay, case.get("rflo_feedback")) if alg == "rflo" else None
        algo = PerLayer(lay, B, alg, float(case.get("rflo_decay", 0.0)), infl, fb,
                        case.get("lru_chain", "target"))
    pend = carry["pending"] if carry else {"grad": None, "loss": 0.0, "elements": 0}
    acc = np.zeros((B, lay.total))
    acc_extra = np.array(pend["grad"]) if pend["grad"] is not None else np.zeros(lay.total)
    acc_loss, acc_count = float(pend["loss"]), int(pend["elements"])
    stream = bool(case.get("stream", False))
    updates, extra = [], {"weights_per_step": [], "lane_grads": []}
    for t in range(T):
        n = n0 + t + 1
        P = unpack(layers, flat)
        if record:
            extra["weights_per_step"].append(flat)
        locs = stack_step(layers, P, X[t], state)
        algo.advance(locs, active[t], noise[t] if alg in ("uoro", "kf-rtrl") else None)
        state = advance_state(layers, state, locs, active[t])
        if mask[t].any():
            val, count, dy, dz = step_errors(loss, locs[-1], Y[t], mask[t])
            acc += algo.grad(locs, dy, dz, loss)
            acc_loss += val
            acc_count += count
        if n % tau_b == 0 or (t == T - 1 and not stream):
            if acc_count:
                grad = (acc.sum(0) + acc_extra) / acc_count
                updates.append({"n": n, "loss": acc_loss / acc_count, "elements": acc_count,
                                "grad": grad.tolist()})
                if record:
                    extra["lane_grads"].append(acc.copy())
                flat = flat - lr * grad
            acc = np.zeros((B, lay.total))
            acc_extra = np.zeros(lay.total)
            acc_loss, acc_count = 0.0, 0
    extra["carry"] = {
        "algorithm": alg, "n": n0 + T, "weights": flat.tolist(),
        "state": [None if s is None else {k: v.tolist() for k, v in s.items()} for s in state],
        "influence": algo.export(),
        "pending": {"grad": (acc.sum(0) + acc_extra).tolist(), "loss": acc_loss,
                    "elements": acc_count}}
    return updates, extra


def bptt_grad(layers, loss, Pw, X, H, C, cache, dys, dzs, p, n, a, count):
    """Gradient of the window (p, n] by backpropagation from n down to a over the stored
    activations; Pw(step) = the weights to use at that step (make_golden's recursion)."""
    top = len(layers) - 1
    fold = loss in FOLDED
    B = X.shape[1]
    grads = [{k: np.zeros_like(v) for k, v in q.items()} for q in Pw(n)]
    carry = [np.zeros((B, lru_state(L)), complex) if L["kind"] == "lru"
             else np.zeros((B, L["units"])) for L in layers]  # lru: conj(lambda) ⊙ dC/ds_{m+1}
    carry_c = [np.zeros((B, L["units"])) for L in layers]
    for step in range(n, a - 1, -1):
        P = Pw(step)
        from_above = None
        for l in range(top, -1, -1):
            L = layers[l]
            if l == top:
                g = dys[step] / count if (p < step and not fold) else np.zeros((B, L["units"]))
            else:
                g = from_above
            h_in = X[step - 1] if l == 0 else H[l - 1][step]
            if L["kind"] == "lru":                      # C[l] holds the complex states
                from_above, carry[l], _ = mg.lru_step_back(
                    P[l], h_in, C[l][step - 1], C[l][step], g, carry[l], grads[l])
                continue
            if L["kind"] == "lstm":
                from_above, carry[l], carry_c[l] = mg.lstm_step_back(
                    P[l], cache[l][step], h_in, H[l][step - 1], C[l][step - 1], C[l][step],
                    g + carry[l], carry_c[l], grads[l])
                continue
            if L["kind"] == "gru":
                from_above, carry[l] = mg.gru_step_back(
                    P[l], cache[l][step], h_in, H[l][step - 1], g + carry[l], grads[l])
                continue
            if L["kind"] in ("rnn", "indrnn"):
                g = g + carry[l]
            delta = act_vjp(L["activation"], H[l][step], g)
            if l == top and fold and p < step:
                delta = delta + dzs[step] / count
            grads[l]["W_s"] += delta.T @ h_in
            grads[l]["b"] += delta.sum(0)
            if L["kind"] == "rnn":
                grads[l]["W_t"] += delta.T @ H[l][step - 1]
                carry[l] = delta @ P[l]["W_t"]
            if L["kind"] == "indrnn":
                grads[l]["w_t"] += (delta * H[l][step - 1]).sum(0)
                carry[l] = delta * P[l]["w_t"]
            from_above = delta @ P[l]["W_s"]
    return pack(layers, grads)


def run_bptt(case, record=False):
    """The two BPTT oracles with SGD between updates (see the docstring)."""
    alg = case["algorithm"]
    if case.get("carry_in") is not None or case.get("stream"):
        raise ValueError("the bptt oracles take no carry_in / stream")
    layers, loss, X, mask, Y, active = parse(case)
    T, B = mask.shape
    lr = float(case.get("lr", 0.0))
    tau_b = int(case.get("tau_b") or T)
    tau_max = T if alg == "bptt_stepweights" else int(case.get("tau_max") or T)
    flat = np.array(case["weights"], dtype=np.float64)
    state = initial_state(layers, B, case.get("initial_state"))
    H = [[s["h"] if s and "h" in s else None] for s in state]
    C = [[s["c"] if s and "c" in s else None] for s in state]
    for l, L in enumerate(layers):                # lru: C = the complex state, H = its output
        if L["kind"] == "lru":
            S = lru_state(L)
            C[l] = [state[l]["s"][:, :S] + 1j * state[l]["s"][:, S:]]
            H[l] = [np.zeros((B, L["units"]))]
    cache = [[None] for _ in layers]
    Pseq, dys, dzs = [None], [None], [None]
    updates, extra = [], {"weights_per_step": []}
    prev, acc_loss, acc_count = 0, 0.0, 0
    for t in range(T):
        n = t + 1
        P = unpack(layers, flat)
        Pseq.append(P)
        extra["weights_per_step"].append(flat)
        locs = stack_step(layers, P, X[t], state, derivs=False)
        state = advance_state(layers, state, locs, active[t])
        for l, L in enumerate(layers):
            if L["kind"] == "lru":                    # a frozen lane keeps s and h
                S = lru_state(L)
                H[l].append(np.where(active[t][:, None], locs[l]["h"], H[l][-1]))
                C[l].append(state[l]["s"][:, :S] + 1j * state[l]["s"][:, S:])
                cache[l].append(None)
                continue
            H[l].append(state[l]["h"] if state[l] else locs[l]["h"])
            C[l].append(state[l].get("c") if state[l] else None)
            cache[l].append(locs[l].get("cache"))
        dy = dz = None
        if mask[t].any():
            val, count, dy, dz = step_errors(loss, locs[-1], Y[t], mask[t])
            acc_loss += val
            acc_count += count
        dys.append(dy if dy is not None else np.zeros_like(locs[-1]["h"]))
        dzs.append(dz if dz is not None else np.zeros_like(locs[-1]["h"]))
        if n % tau_b == 0 or t == T - 1:
            if acc_count:
                a = max(1, n - tau_max + 1)
                Pw = (lambda s: Pseq[s]) if alg == "bptt_stepweights" else (lambda s, P=P: P)
                grad = bptt_grad(layers, loss, Pw, X, H, C, cache, dys, dzs, prev, n, a,
                                 acc_count)
                updates.append({"n": n, "loss": acc_loss / acc_count, "elements": acc_count,
                                "grad": grad.tolist()})
                flat = flat - lr * grad
            prev, acc_loss, acc_count = n, 0.0, 0
    return updates, extra


def main(case_path, out_path, carry_path=None):
    case = json.load(open(case_path))
    updates, extra = run(case)
    json.dump(updates, open(out_path, "w"))
    if carry_path:
        if "carry" not in extra:
            raise ValueError("the bptt oracles have no carry")
        json.dump(extra["carry"], open(carry_path, "w"))


# ---- self-check -----------------------------------------------------------------------------

def make_case(rng, stack, loss, T, B, I, tau_b, algorithm="rtrl", lr=0.0, holes=False,
              ragged=True, scale=0.7):
    """A random case; stack = [(kind, units, activation)] (an lru may add its state size:
    ("lru", units, None, state))."""
    layers, inputs = [], I
    for kind, units, activation, *rest in stack:
        L = {"kind": kind, "inputs": inputs, "units": units}
        if activation is not None:
            L["activation"] = activation
        if rest:
            L["state"] = rest[0]
        layers.append(L)
        inputs = units
    O = inputs
    lengths = rng.integers(max(1, T // 2), T + 1, size=B) if ragged else np.full(B, T)
    lengths[0] = T
    mask = np.arange(T)[:, None] < lengths[None, :]
    if holes:
        mask &= rng.random((T, B)) < 0.6
        mask[T - 1, 0] = True
    if loss == "cross-entropy":
        targets = rng.integers(0, O, size=(T, B)).tolist()
    elif loss == "binary-cross-entropy":
        targets = rng.random((T, B, O)).round(3).tolist()
    else:
        targets = rng.normal(size=(T, B, O)).tolist()
    weights = scale * rng.normal(size=mg.n_params(layers))
    off = 0
    for L in layers:                 # lru: |lambda| in [0.6, 0.95], as make_golden.random_case
        if L["kind"] == "lru":
            S = lru_state(L)
            r = rng.uniform(0.6, 0.95, size=S)
            weights[off:off + S] = np.log(-np.log(r))
            weights[off + S:off + 2 * S] = np.log(rng.uniform(0.2, 3.0, size=S))
            weights[off + 2 * S:off + 3 * S] = np.log(np.sqrt(1 - r * r))
        off += mg.n_params([L])
    return {"layers": layers, "loss": loss, "weights": weights.tolist(),
            "inputs": rng.normal(size=(T, B, I)).tolist(), "mask": mask.tolist(),
            "targets": targets, "tau_b": tau_b, "tau_max": 0, "lengths": lengths.tolist(),
            "algorithm": algorithm, "lr": lr, "rflo_decay": 0.0}


def with_(case, **kw):
    c = dict(case)
    c.update(kw)
    return c


_TMP = tempfile.mkdtemp()


def via_cli(case, carry=False):
    """Runs a case through the JSON CLI path; returns (updates, carry or None)."""
    cp, op, kp = (os.path.join(_TMP, f) for f in ("case.json", "out.json", "carry.json"))
    json.dump(case, open(cp, "w"))
    main(cp, op, kp if carry else None)
    return json.load(open(op)), (json.load(open(kp)) if carry else None)


def rel(g, ref):
    g, ref = np.asarray(g), np.asarray(ref)
    nr = np.linalg.norm(ref)
    return np.linalg.norm(g - ref) / (nr if nr > 0 else 1.0)


def compare(a, b):
    """Max relative gradient difference between two update lists (inf if the schedules or the
    losses differ)."""
    if [u["n"] for u in a] != [u["n"] for u in b] or \
            [u["elements"] for u in a] != [u["elements"] for u in b]:
        return np.inf
    worst = 0.0
    for u, v in zip(a, b):
        if abs(u["loss"] - v["loss"]) > 1e-12 * max(1.0, abs(v["loss"])):
            return np.inf
        worst = max(worst, rel(u["grad"], v["grad"]))
    return worst


class Checker:
    def __init__(self):
        self.ok, self.count = True, 0

    def check(self, name, passed, detail):
        self.count += 1
        self.ok = self.ok and bool(passed)
        print("%s %-58s %s" % ("PASS" if passed else "FAIL", name, detail))


def golden(case, tau_b=None, tau_max=0, weights=None):
    c = with_(case, tau_max=tau_max)
    if tau_b is not None:
        c["tau_b"] = tau_b
    if weights is not None:
        c["weights"] = list(weights)
    return json.loads(json.dumps(mg.compute(c)))


def loss_along(case, wseq, n, p):
    """Window loss (p, n] of a forward from zeros where step r uses the flat weights wseq[r-1]
    (written like make_golden.window_loss)."""
    layers, loss = case["layers"], case["loss"]
    X = np.array(case["inputs"], dtype=np.float64)
    mask = np.array(case["mask"], dtype=bool)
    B = mask.shape[1]
    state = [{"h": np.zeros((B, L["units"])), "c": np.zeros((B, L["units"]))} for L in layers]
    total, count = 0.0, 0
    for step in range(1, n + 1):
        P = unpack(layers, wseq[step - 1])
        below, z = X[step - 1], None
        for l, L in enumerate(layers):
            zl = mg.layer_step(P[l], L, below, state[l])
            z = zl if zl is not None else z
            below = state[l]["h"]
        if step <= p:
            continue
        for b in range(B):
            if not mask[step - 1, b]:
                continue
            t = case["targets"][step - 1][b]
            if loss == "mse":
                total += float(((below[b] - np.array(t)) ** 2).sum())
                count += below.shape[1]
            elif loss == "binary-cross-entropy":
                tb = np.array(t)
                total -= float((tb * np.log(below[b]) + (1 - tb) * np.log(1 - below[b])).sum())
                count += below.shape[1]
            else:
                zb = z[b]
                total += float(np.log(np.exp(zb - zb.max()).sum()) + zb.max() - zb[t])
                count += 1
    return total / count


def snap1_compact(case):
    """SPEC 3.3's table form of snap1 for one rnn layer under an identity dense readout (mse),
    one update at T, lr 0: M-bar (B, U, C), C = I + U + 1, written separately."""
    layers = case["layers"]
    P = unpack(layers, np.array(case["weights"]))
    X = np.array(case["inputs"])
    mask = np.array(case["mask"], dtype=bool)
    Y = np.array(case["targets"])
    T, B, I = X.shape
    U = layers[0]["units"]
    SW, TW, b = P[0]["W_s"], P[0]["W_t"], P[0]["b"]
    Wo, bo = P[1]["W_s"], P[1]["b"]
    h = np.zeros((B, U))
    Mb = np.zeros((B, U, I + U + 1))
    dWc, dWo, dbo, count = np.zeros((U, I + U + 1)), np.zeros_like(Wo), np.zeros_like(bo), 0
    for t in range(T):
        ahat = np.concatenate([X[t], h, np.ones((B, 1))], axis=1)
        h = np.tanh(X[t] @ SW.T + h @ TW.T + b)
        Mb = (1 - h * h)[:, :, None] * (np.diag(TW)[None, :, None] * Mb + ahat[:, None, :])
        y = h @ Wo.T + bo
        e = 2 * (y - Y[t]) * mask[t][:, None]
        count += int(mask[t].sum()) * y.shape[1]
        dWo += e.T @ h
        dbo += e.sum(0)
        dWc += np.einsum("bk,bkj->kj", e @ Wo, Mb)
    g = [{"W_s": dWc[:, :I], "W_t": dWc[:, I:I + U], "b": dWc[:, -1]}, {"W_s": dWo, "b": dbo}]
    return pack(layers, g) / count


def set_tw(case, layer, fn):
    """Replaces layer's W_t (each gate block for gated layers) by fn(block)."""
    layers = case["layers"]
    flat = np.array(case["weights"])
    P = unpack(layers, flat)          # views into flat
    L = layers[layer]
    U = L["units"]
    G = GATES.get(L["kind"], 1)
    for g in range(G):
        blk = P[layer]["W_t"][g * U:(g + 1) * U]
        blk[:] = fn(blk.copy())
    return with_(case, weights=flat.tolist())


def uoro_stats(rng, base, N, groups):
    """Runs uoro on N copies of the base case's lanes (each lane its own noise) and rtrl on the
    base case. Returns (per-draw gradients (N, d) over all updates, rtrl's (d,), readout mask)."""
    T, B = len(base["mask"]), len(base["mask"][0])
    rep = lambda a: np.tile(np.asarray(a), (1, N) + (1,) * (np.asarray(a).ndim - 2))
    big = with_(base, algorithm="uoro", inputs=rep(base["inputs"]).tolist(),
                mask=rep(base["mask"]).tolist(), targets=rep(base["targets"]).tolist(),
                lengths=np.tile(base["lengths"], N).tolist())
    lay = Layout(base["layers"])
    big["noise"] = rng.choice([-1.0, 1.0], size=(T, B * N, lay.S))
    ups, extra = run(big, record=True)
    ref = run(with_(base, algorithm="rtrl"))[0]
    per_draw, refs = [], []
    for u, lg, r in zip(ups, extra["lane_grads"], ref):
        per_draw.append(lg.reshape(N, B, -1).sum(1) / r["elements"])
        refs.append(np.array(r["grad"]))
    G = np.concatenate(per_draw, axis=1)
    g = np.concatenate(refs)
    readout = np.zeros(lay.total, dtype=bool)
    for l in range(lay.top_rec + 1, len(lay.layers)):
        readout[lay.cols(l)] = True
    return G, g, np.tile(readout, len(ups))


def self_check():
    t0 = time.time()
    ck = Checker()
    rng = np.random.default_rng(20260514)
    R, D, S = "rnn", "dense", None

    # (1) rtrl, one update per sequence = make_golden's full BPTT; and tau_b = 2, lr = 0 =
    #     make_golden BPTT(2, full) (the influence is not reset at updates), != BPTT(2, 2).
    exact_cases = [
        ("rnn->dense->rnn->dense softmax, ce, holes",
         [(R, 3, "tanh"), (D, 3, "relu"), (R, 4, "tanh"), (D, 3, "softmax")],
         "cross-entropy", 8, 3, 2, True),
        ("rnn->rnn->dense, mse", [(R, 3, "tanh"), (R, 3, "sigmoid"), (D, 2, "identity")],
         "mse", 7, 3, 2, False),
        ("rnn->rnn sigmoid (recurrent top), bce, holes", [(R, 3, "tanh"), (R, 2, "sigmoid")],
         "binary-cross-entropy", 7, 3, 2, True),
        ("lstm->dense, mse", [("lstm", 3, S), (D, 2, "identity")], "mse", 7, 3, 2, True),
        ("lstm->lstm, mse", [("lstm", 3, S), ("lstm", 2, S)], "mse", 6, 2, 2, False),
        ("gru->dense softmax, ce", [("gru", 3, S), (D, 3, "softmax")], "cross-entropy",
         7, 3, 2, True),
        ("dense->gru->lstm, mse", [(D, 3, "relu"), ("gru", 3, S), ("lstm", 2, S)], "mse",
         6, 3, 2, True),
        ("lstm->rnn softmax (recurrent top), ce", [("lstm", 3, S), (R, 3, "softmax")],
         "cross-entropy", 7, 3, 2, False),
        ("gru->dense->rnn->dense, mse",
         [("gru", 3, S), (D, 2, "tanh"), (R, 3, "tanh"), (D, 2, "identity")], "mse",
         6, 2, 2, True),
    ]
    for name, stack, loss, T, B, I, holes in exact_cases:
        case = make_case(rng, stack, loss, T, B, I, 0, holes=holes)
        r_full = compare(via_cli(case)[0], golden(case, tau_b=T))
        c2 = with_(case, tau_b=2)
        ours = via_cli(c2)[0]
        r_win = compare(ours, golden(c2, tau_b=2))
        r_trunc = compare(ours, golden(c2, tau_b=2, tau_max=2))
        ck.check("rtrl = BPTT full: " + name,
                 r_full < 1e-10 and r_win < 1e-10 and r_trunc > 1e-3,
                 "tau_b=T %.1e; tau_b=2 vs BPTT(2,full) %.1e, vs BPTT(2,2) %.1e"
                 % (r_full, r_win, r_trunc))

    # (2) rtrl against central differences of every update's loss (lr = 0).
    for name, stack, loss in [
            ("rnn->dense->rnn->dense, ce", [(R, 3, "tanh"), (D, 2, "tanh"), (R, 3, "tanh"),
                                            (D, 3, "softmax")], "cross-entropy"),
            ("lstm->gru->dense, mse", [("lstm", 2, S), ("gru", 3, S), (D, 2, "identity")],
             "mse"),
            ("gru->rnn sigmoid, bce", [("gru", 3, S), (R, 2, "sigmoid")],
             "binary-cross-entropy")]:
        case = make_case(rng, stack, loss, 6, 2, 2, 3, holes=True)
        flat = np.array(case["weights"])
        worst, prev = 0.0, 0
        for u in via_cli(case)[0]:
            n = u["n"]
            fd = mg.fd_grad(lambda w: mg.window_loss(case, w, n, prev, 1,
                                                     mg.states_at(case, w, 0))[0], flat)
            worst = max(worst, np.abs(np.array(u["grad"]) - fd).max() / np.abs(fd).max())
            prev = n
        ck.check("rtrl vs central differences: " + name, worst < 1e-7,
                 "max|g - fd|/max|fd| %.1e" % worst)

    # (3) the oracles at lr = 0 are make_golden.
    case = make_case(rng, [("lstm", 3, S), (R, 3, "tanh"), (D, 3, "softmax")],
                     "cross-entropy", 9, 3, 2, 3, holes=True)
    r1 = compare(via_cli(with_(case, algorithm="bptt_stepweights"))[0], golden(case))
    r2 = compare(via_cli(with_(case, algorithm="bptt", tau_max=4))[0],
                 golden(case, tau_max=4))
    r3 = compare(via_cli(with_(case, algorithm="bptt", tau_b=1, tau_max=1))[0],
                 golden(case, tau_b=1, tau_max=1))
    ck.check("oracles at lr=0 = make_golden (lstm->rnn->dense, ce)",
             max(r1, r2, r3) < 1e-12,
             "bptt_stepweights %.1e; bptt(3,4) %.1e; bptt(1,1) %.1e" % (r1, r2, r3))

    # (4) rtrl, tau_b = 2, lr > 0 = bptt_stepweights; != SPEC 3 BPTT and != make_golden at the
    #     current weights after the first update; = FD of a common shift of all past weights.
    for name, stack, loss in [
            ("rnn->dense->rnn->dense, ce", [(R, 3, "tanh"), (D, 3, "tanh"), (R, 3, "tanh"),
                                            (D, 3, "softmax")], "cross-entropy"),
            ("lstm->dense, mse", [("lstm", 3, S), (D, 2, "identity")], "mse"),
            ("gru->dense, mse", [("gru", 3, S), (D, 2, "identity")], "mse")]:
        case = make_case(rng, stack, loss, 8, 3, 2, 2, lr=0.5, holes=True)
        ours, extra = run(case, record=True)
        ours = json.loads(json.dumps(ours))
        r_sw = compare(ours, via_cli(with_(case, algorithm="bptt_stepweights"))[0])
        spec3 = via_cli(with_(case, algorithm="bptt"))[0]
        d_spec = [rel(u["grad"], v["grad"]) for u, v in zip(ours, spec3)]
        wps = extra["weights_per_step"]
        d_gold = []
        for u in ours:
            gl = {v["n"]: v for v in golden(case, tau_b=2, weights=wps[u["n"] - 1])}
            d_gold.append(rel(u["grad"], gl[u["n"]]["grad"]))
        ok = (r_sw < 1e-10 and d_spec[0] < 1e-12 and d_gold[0] < 1e-12
              and min(d_spec[1:] + d_gold[1:]) > 1e-8)
        ck.check("rtrl lr=0.5 tau_b=2 = bptt_stepweights: " + name, ok,
                 "%.1e; vs SPEC-3 bptt: update 1 %.0e, later %.0e..%.0e; vs golden(current w) "
                 "later %.0e..%.0e" % (r_sw, d_spec[0], min(d_spec[1:]), max(d_spec[1:]),
                                       min(d_gold[1:]), max(d_gold[1:])))
        if name.startswith("rnn"):
            worst, prev = 0.0, 0
            for u in ours[:3]:
                n = u["n"]
                base = [np.array(w) for w in wps[:n]]

                def shifted(w, base=base, n=n, prev=prev):
                    delta = w - base[-1]
                    return loss_along(case, [b + delta for b in base], n, prev)
                fd = mg.fd_grad(shifted, base[-1])
                worst = max(worst, np.abs(np.array(u["grad"]) - fd).max() / np.abs(fd).max())
                prev = n
            ck.check("rtrl lr=0.5 = FD of a common shift of all past weights", worst < 1e-7,
                     "max|g - fd|/max|fd| %.1e (first 3 updates)" % worst)

    # (5) snap1.
    case = make_case(rng, [(R, 4, "tanh"), (D, 2, "identity")], "mse", 8, 3, 2, 2, holes=True)
    full_tw = case
    diag = set_tw(case, 0, lambda b: np.diag(np.diag(b)) * 2.0)
    r_d = compare(via_cli(with_(diag, algorithm="snap1"))[0], via_cli(diag)[0])
    r_f = compare(via_cli(with_(full_tw, algorithm="snap1"))[0], via_cli(full_tw)[0])
    ck.check("snap1 = rtrl, single rnn layer, diagonal TW", r_d < 1e-12 and r_f > 1e-2,
             "diag %.1e; full TW (must differ) %.2f" % (r_d, r_f))
    onehot = with_(full_tw, tau_b=0, mask=np.ones((8, 3), bool).tolist(), lengths=[8] * 3,
                   inputs=np.eye(2)[rng.integers(0, 2, size=(8, 3))].tolist())
    r_c = rel(via_cli(with_(onehot, algorithm="snap1"))[0][0]["grad"], snap1_compact(onehot))
    ck.check("snap1 = SPEC table form (per unit, full TW, one-hot inputs)", r_c < 1e-12,
             "%.1e" % r_c)
    for name, stack, loss in [("lstm->dense", [("lstm", 3, S), (D, 2, "identity")], "mse"),
                              ("gru->dense", [("gru", 3, S), (D, 3, "softmax")],
                               "cross-entropy")]:
        case = make_case(rng, stack, loss, 7, 3, 2, 2, holes=True)
        diag = set_tw(case, 0, lambda b: np.diag(np.diag(b)) * 2.0)
        r_d = compare(via_cli(with_(diag, algorithm="snap1"))[0], via_cli(diag)[0])
        r_f = compare(via_cli(with_(case, algorithm="snap1"))[0], via_cli(case)[0])
        ck.check("snap1 = rtrl, %s, every W_t gate block diagonal" % name,
                 r_d < 1e-12 and r_f > 1e-3, "diag %.1e; full (must differ) %.2f" % (r_d, r_f))
    case = make_case(rng, [(R, 3, "tanh"), (R, 3, "tanh"), (D, 2, "identity")], "mse",
                     7, 3, 2, 2)
    lower_diag = set_tw(case, 0, lambda b: np.diag(np.diag(b)) * 2.0)
    upper0 = set_tw(lower_diag, 1, lambda b: 0.0 * b)
    upperd = set_tw(lower_diag, 1, lambda b: np.diag(np.diag(b)) * 2.0)
    r0 = compare(via_cli(with_(upper0, algorithm="snap1"))[0], via_cli(upper0)[0])
    rd = compare(via_cli(with_(upperd, algorithm="snap1"))[0], via_cli(upperd)[0])
    ck.check("snap1 stack rnn->rnn: = rtrl iff upper TW = 0", r0 < 1e-12 and rd > 1e-3,
             "lower diag, upper 0: %.1e; both diagonal (differs, per-layer error) %.2f"
             % (r0, rd))

    # (6) rflo.
    case = make_case(rng, [(R, 3, "tanh"), (D, 3, "tanh"), (R, 3, "tanh"), (D, 3, "softmax")],
                     "cross-entropy", 8, 3, 2, 1, lr=0.3, holes=True)
    ours = via_cli(with_(case, algorithm="rflo"))[0]
    r_b = compare(ours, via_cli(with_(case, algorithm="bptt", tau_max=1))[0])
    r_g = compare(ours[:1], golden(case, tau_b=1, tau_max=1)[:1])
    ck.check("rflo(0) = bptt(1,1) over an SGD run (rnn/dense stack, ce)",
             r_b < 1e-10 and r_g < 1e-10 and len(ours) >= 5,
             "%d updates, lr 0.3: %.1e (first update vs make_golden %.1e)"
             % (len(ours), r_b, r_g))
    case = make_case(rng, [(R, 4, "tanh"), (D, 2, "identity")], "mse", 8, 3, 2, 2, holes=True)
    tw0 = set_tw(case, 0, lambda b: 0.0 * b)
    offd = set_tw(case, 0, lambda b: b - np.diag(np.diag(b)))
    r0 = compare(via_cli(with_(tw0, algorithm="rflo"))[0], via_cli(tw0)[0])
    r1 = compare(via_cli(with_(offd, algorithm="rflo"))[0],
                 via_cli(with_(offd, algorithm="snap1"))[0])
    lam = 0.6
    lin = with_(case, layers=[dict(case["layers"][0], activation="identity"),
                              case["layers"][1]])
    lin = set_tw(lin, 0, lambda b: lam * np.eye(b.shape[0]))
    r2 = compare(via_cli(with_(lin, algorithm="rflo", rflo_decay=lam))[0], via_cli(lin)[0])
    r3 = compare(via_cli(with_(case, algorithm="rflo"))[0], via_cli(case)[0])
    ck.check("rflo = rtrl (TW=0), = snap1 (diag TW=0), lambda: identity TW=lambda I",
             max(r0, r1, r2) < 1e-12 and r3 > 1e-2,
             "%.1e, %.1e, %.1e; full TW vs rtrl (must differ) %.2f" % (r0, r1, r2, r3))
    try:
        run(make_case(rng, [("gru", 2, S)], "mse", 3, 1, 2, 1, algorithm="rflo"))
        ck.check("rflo on gru is an error", False, "no error")
    except ValueError as e:
        ck.check("rflo on gru is an error", True, str(e))

    # (7) uoro: unbiased, error of the mean ~ 1/sqrt(N).
    for name, stack, loss, N, small, large in [
            ("rnn->dense softmax, ce", [(R, 3, "tanh"), (D, 2, "softmax")], "cross-entropy",
             16384, 64, 1024),
            ("rnn->dense->rnn->dense, mse", [(R, 3, "tanh"), (D, 2, "tanh"), (R, 3, "tanh"),
                                             (D, 2, "identity")], "mse", 4096, 16, 256),
            ("lstm->dense, mse", [("lstm", 3, S), (D, 2, "identity")], "mse", 4096, 16, 256),
            ("gru->dense softmax, ce", [("gru", 3, S), (D, 3, "softmax")], "cross-entropy",
             4096, 16, 256)]:
        base = make_case(rng, stack, loss, 5, 2, 2, 2, holes=True)
        G, g, readout = uoro_stats(rng, base, N, (small, large))
        ro_err = np.abs(G[:, readout] - g[readout]).max() if readout.any() else 0.0
        mean = G.mean(0)
        gn = np.linalg.norm(g)
        var = G.var(0)
        keep = var > 1e-20 * var.max()
        d = int(keep.sum())
        cov = np.cov(G[:, keep], rowvar=False)
        w, V = np.linalg.eigh(cov)
        good = w > 1e-12 * w.max()
        proj = V[:, good].T @ (mean - g)[keep]
        t2 = N * float((proj ** 2 / w[good]).sum()) / good.sum()
        dd = int(good.sum())
        rms = {}
        for k in (small, large):
            gm = G.reshape(N // k, k, -1).mean(1)
            rms[k] = np.sqrt((np.linalg.norm(gm - g, axis=1) ** 2).mean()) / gn
        ratio = rms[small] / rms[large]
        pred = np.sqrt(var.sum() / N) / gn
        expect = np.sqrt(large / small)
        ok = (ro_err < 1e-12 and abs(t2 - 1) < 5 * np.sqrt(2.0 / dd)
              and 0.6 * expect < ratio < 1.6 * expect
              and rel(mean, g) < 3 * pred)
        ck.check("uoro unbiased, N=%d: %s" % (N, name), ok,
                 "readout exact %.0e; T2/d %.2f (d=%d); |mean-rtrl|/|rtrl| %.1e (pred %.1e); "
                 "rms err N=%d/N=%d = %.2f (expect %.0f)"
                 % (ro_err, t2, dd, rel(mean, g), pred, small, large, ratio, expect))

    # (8) streams: two pieces chained with carry_in = one call (split off a tau_b multiple).
    for alg, stack, loss in [
            ("rtrl", [(R, 3, "tanh"), (D, 2, "tanh"), ("lstm", 2, S), (D, 2, "identity")],
             "mse"),
            ("snap1", [("gru", 3, S), (R, 3, "tanh"), (D, 3, "softmax")], "cross-entropy"),
            ("uoro", [("lstm", 2, S), (R, 3, "tanh"), (D, 2, "identity")], "mse"),
            ("rflo", [(R, 3, "tanh"), (R, 3, "tanh"), (D, 2, "sigmoid")],
             "binary-cross-entropy")]:
        T = 10
        case = make_case(rng, stack, loss, T, 3, 2, 3, algorithm=alg, lr=0.2, holes=True,
                         ragged=False)
        case["initial_state"] = [None if L["kind"] == "dense" else
                                 {"h": rng.normal(size=(3, L["units"])).tolist(),
                                  "c": rng.normal(size=(3, L["units"])).tolist()}
                                 for L in case["layers"]]
        if alg == "uoro":
            case["noise"] = rng.choice([-1.0, 1.0], size=(T, 3, Layout(case["layers"]).S))
            case["noise"] = case["noise"].tolist()
        whole, carry_w = via_cli(case, carry=True)
        cut = lambda k, lo, hi: (np.asarray(case[k])[lo:hi]).tolist()
        pieces = ["inputs", "mask", "targets"] + (["noise"] if alg == "uoro" else [])
        first = with_(case, stream=True, **{k: cut(k, 0, 5) for k in pieces})
        first.pop("lengths")
        ups1, carry = via_cli(first, carry=True)
        second = with_(case, carry_in=carry, **{k: cut(k, 5, T) for k in pieces})
        second.pop("lengths")
        second.pop("initial_state")
        ups2, carry2 = via_cli(second, carry=True)
        r = compare(ups1 + ups2, whole)
        rw = rel(carry2["weights"], carry_w["weights"])
        ck.check("stream: two pieces with carry_in = one call (%s)" % alg,
                 r < 1e-12 and rw < 1e-12 and [u["n"] for u in whole] == [3, 6, 9, 10],
                 "updates %s; grads %.1e; final weights %.1e"
                 % ([u["n"] for u in ups1 + ups2], r, rw))

    # (9) every online algorithm: readout gradient exact, and a window without targets is
    #     skipped while the influence still advances (rtrl = BPTT(2, full) across it).
    case = make_case(rng, [(R, 3, "tanh"), (D, 2, "tanh"), (R, 3, "tanh"), (D, 2, "identity")],
                     "mse", 8, 2, 2, 2, ragged=False)
    m = np.ones((8, 2), bool)
    m[2:4] = False                                   # window (2, 4] has no target
    case["mask"] = m.tolist()
    lay = Layout(case["layers"])
    case_u = with_(case, algorithm="uoro",
                   noise=rng.choice([-1.0, 1.0], size=(8, 2, lay.S)).tolist())
    ref = via_cli(case)[0]
    ro = np.zeros(lay.total, bool)
    for l in range(lay.top_rec + 1, len(lay.layers)):
        ro[lay.cols(l)] = True
    worst = 0.0
    for c in (with_(case, algorithm="snap1"), with_(case, algorithm="rflo"), case_u):
        for u, v in zip(via_cli(c)[0], ref):
            worst = max(worst, rel(np.array(u["grad"])[ro], np.array(v["grad"])[ro]))
    r = compare(ref, golden(case, tau_b=2))
    ck.check("readout exact for snap1/rflo/uoro; a window without targets",
             worst < 1e-12 and r < 1e-10 and [u["n"] for u in ref] == [2, 6, 8],
             "readout %.1e; updates %s; rtrl vs BPTT(2,full) %.1e"
             % (worst, [u["n"] for u in ref], r))

    # (10) rflo with random feedback (SPEC 3.5): B_l replaces each readout layer's W_s in the
    #      backward product that sends the error down; the readout's own gradient is unchanged.
    def readout_fb(case, draw=None):
        lay = Layout(case["layers"])
        P = unpack(case["layers"], np.array(case["weights"]))
        return {"layers": {str(l): (P[l]["W_s"].copy() if draw is None else
                                    draw(P[l]["W_s"].shape)).tolist()
                           for l in range(lay.top_rec + 1, len(lay.layers))}}

    def cols_of(case, ls):
        lay = Layout(case["layers"])
        sel = np.zeros(lay.total, bool)
        for l in ls:
            sel[lay.cols(l)] = True
        return sel

    stacks = [("rnn->dense->rnn->dense->dense softmax, ce",
               [(R, 3, "tanh"), (D, 3, "tanh"), (R, 4, "tanh"), (D, 3, "tanh"),
                (D, 3, "softmax")], "cross-entropy"),
              ("rnn->rnn->dense sigmoid, mse",
               [(R, 3, "tanh"), (R, 4, "tanh"), (D, 2, "sigmoid")], "mse")]
    for name, stack, loss in stacks:
        case = make_case(rng, stack, loss, 8, 3, 2, 2, algorithm="rflo", holes=True)
        case["rflo_decay"] = 0.4
        sym0 = via_cli(case)[0]
        own0 = via_cli(with_(case, rflo_feedback=readout_fb(case)))[0]
        sgd = with_(case, lr=0.3)
        sym1 = via_cli(sgd)[0]
        own1 = via_cli(with_(sgd, rflo_feedback=readout_fb(case)))[0]
        r0, r1 = compare(own0, sym0), compare(own1[:1], sym1[:1])
        later = min(rel(u["grad"], v["grad"]) for u, v in zip(own1[1:], sym1[1:]))
        ck.check("rflo feedback B_l = W_s = symmetric rflo: " + name,
                 r0 < 1e-13 and r1 < 1e-13 and later > 1e-8,
                 "lr 0: %.1e (%d updates); lr 0.3: update 1 %.1e, later (B fixed, W_s "
                 "trained) >= %.0e" % (r0, len(own0), r1, later))

        lay = Layout(case["layers"])
        rnd = via_cli(with_(sgd, rflo_feedback=readout_fb(
            case, lambda sh: rng.normal(size=sh))))[0]
        g_r, g_s = np.array(rnd[0]["grad"]), np.array(sym1[0]["grad"])
        top = cols_of(case, [lay.top])
        ro_low = cols_of(case, range(lay.top_rec + 1, lay.top))
        d_rec = min(rel(g_r[cols_of(case, [l])], g_s[cols_of(case, [l])]) for l in lay.rec)
        d_top = rel(g_r[top], g_s[top])
        d_low = rel(g_r[ro_low], g_s[ro_low]) if ro_low.any() else None
        ok = (d_rec > 1e-2 and d_top < 1e-15 and (d_low is None or d_low > 1e-2)
              and [u["n"] for u in rnd] == [u["n"] for u in sym1])
        ck.check("rflo random feedback: recurrent differ, readout same: " + name, ok,
                 "update 1: recurrent layers differ >= %.2f; top readout layer %.0e%s"
                 % (d_rec, d_top, "" if d_low is None else
                    "; lower readout layer (error via B_top) differs %.2f" % d_low))

    # (10b) the definition, independently: one step, q = (dC/dz_readout) B by complex-step
    #       differentiation of the hand-written loss, then RFLO's first-step trace
    #       (any lambda): dWc^top = (q * sigma'(z)) outer [x; h_0; 1], and one rnn below gets
    #       q' = SW^T (sigma'(z) * q) (the per-layer error between recurrent layers).
    sig = lambda z: 1 / (1 + np.exp(-z))
    for name, stack, loss in [
            ("rnn->dense sigmoid, mse", [(R, 4, "tanh"), (D, 3, "sigmoid")], "mse"),
            ("rnn->dense softmax, ce", [(R, 4, "tanh"), (D, 3, "softmax")], "cross-entropy"),
            ("rnn->rnn->dense sigmoid, mse", [(R, 3, "tanh"), (R, 4, "tanh"),
                                              (D, 3, "sigmoid")], "mse")]:
        case = make_case(rng, stack, loss, 3, 4, 2, 1, algorithm="rflo", ragged=False)
        case["rflo_decay"] = 0.8
        m = np.ones((3, 4), bool)
        m[0, 2] = False
        case["mask"] = m.tolist()
        layers = case["layers"]
        nrec = len(layers) - 1
        h0 = [rng.normal(size=(4, L["units"])) for L in layers[:nrec]]
        case["initial_state"] = [{"h": h.tolist()} for h in h0] + [None]
        Bfb = rng.normal(size=(layers[-1]["units"], layers[-1]["inputs"]))
        case["rflo_feedback"] = {"layers": {str(nrec): Bfb.tolist()}}
        g_ref = np.array(via_cli(case)[0][0]["grad"])
        P = unpack(layers, np.array(case["weights"]))
        x0 = np.array(case["inputs"])[0]
        ahat, zs, below = [], [], x0
        for l in range(nrec):
            a = np.concatenate([below, h0[l], np.ones((4, 1))], axis=1)
            z = a @ np.concatenate([P[l]["W_s"], P[l]["W_t"], P[l]["b"][:, None]], axis=1).T
            ahat.append(a)
            zs.append(z)
            below = np.tanh(z)
        zr = below @ P[nrec]["W_s"].T + P[nrec]["b"]
        tg = case["targets"][0]

        def cost(zb, b):
            if loss == "mse":
                return ((sig(zb) - np.array(tg[b])) ** 2).sum()
            return np.log(np.exp(zb).sum()) - zb[tg[b]]
        dCdz = np.zeros_like(zr)
        for b in range(4):
            if m[0, b]:
                for k in range(zr.shape[1]):
                    zc = zr[b].astype(complex)
                    zc[k] += 1e-30j
                    dCdz[b, k] = cost(zc, b).imag / 1e-30
        count = int(m[0].sum()) * (zr.shape[1] if loss == "mse" else 1)
        q = dCdz @ Bfb
        worst = 0.0
        for l in range(nrec - 1, -1, -1):
            delta = q * (1 - np.tanh(zs[l]) ** 2)
            dWc = delta.T @ ahat[l] / count
            I, U = layers[l]["inputs"], layers[l]["units"]
            mine = np.concatenate([dWc[:, :I].ravel(), dWc[:, I:I + U].ravel(), dWc[:, -1]])
            worst = max(worst, np.abs(g_ref[Layout(layers).cols(l)] - mine).max()
                        / np.abs(mine).max())
            q = delta @ P[l]["W_s"]
        ck.check("rflo random feedback, step 1 by hand: " + name, worst < 1e-12,
                 "q = dC/dz B (complex step), dWc = q sigma' [x;h0;1]: %.1e" % worst)

    # (10c) no readout: empty layers = symmetric; located errors; stream pieces chain.
    case = make_case(rng, [(R, 3, "tanh"), (R, 2, "sigmoid")], "binary-cross-entropy",
                     6, 2, 2, 2, algorithm="rflo")
    r_e = compare(via_cli(with_(case, rflo_feedback={"layers": {}}))[0], via_cli(case)[0])
    case = make_case(rng, [(R, 3, "tanh"), (D, 3, "tanh"), (D, 2, "identity")], "mse",
                     10, 3, 2, 3, algorithm="rflo", lr=0.2, ragged=False)
    good = readout_fb(case, lambda sh: rng.normal(size=sh))
    bad = {"missing layer": {"layers": {"2": good["layers"]["2"]}},
           "extra layer": {"layers": dict(good["layers"], **{"0": [[0.0] * 2] * 3})},
           "wrong shape": {"layers": dict(good["layers"], **{"1": [[0.0] * 2] * 3})},
           "not under layers": good["layers"]}
    raised = []
    for k, fbk in bad.items():
        try:
            run(with_(case, rflo_feedback=fbk))
        except ValueError:
            raised.append(k)
    case["rflo_feedback"] = good
    whole, carry_w = via_cli(case, carry=True)
    cut = lambda k, lo, hi: (np.asarray(case[k])[lo:hi]).tolist()
    first = with_(case, stream=True, **{k: cut(k, 0, 5) for k in ("inputs", "mask", "targets")})
    first.pop("lengths")
    ups1, carry = via_cli(first, carry=True)
    second = with_(case, carry_in=carry,
                   **{k: cut(k, 5, 10) for k in ("inputs", "mask", "targets")})
    second.pop("lengths")
    ups2, carry2 = via_cli(second, carry=True)
    r_s = max(compare(ups1 + ups2, whole), rel(carry2["weights"], carry_w["weights"]))
    ck.check("rflo feedback: no readout, located errors, stream",
             r_e == 0 and len(raised) == len(bad) and r_s < 1e-12,
             "rnn top with {}: %.0e; ValueError for %s; two pieces = one call %.1e"
             % (r_e, ", ".join(raised), r_s))

    elementwise_self_check(ck)
    kf_self_check(ck)

    dt = time.time() - t0
    print("self-check %s: %d checks, %.1f s" % ("passed" if ck.ok else "FAILED", ck.count, dt))
    return 0 if ck.ok else 1


# ---- self-check: element-wise layers (indrnn, lru) -----------------------------------------

def as_rnn(case):
    """The same case with every indrnn layer written as an rnn layer with W_t = diag(w_t)."""
    layers, flat = case["layers"], np.array(case["weights"])
    P = unpack(layers, flat)
    new_layers, grads = [], []
    for L, p in zip(layers, P):
        if L["kind"] == "indrnn":
            L = dict(L, kind="rnn")
            p = {"W_s": p["W_s"], "W_t": np.diag(p["w_t"]), "b": p["b"]}
        new_layers.append(L)
        grads.append(p)
    return with_(case, layers=new_layers, weights=pack(new_layers, grads).tolist())


def from_rnn_grad(case, g_rnn):
    """An as_rnn case's flat gradient mapped back to the indrnn layout (w_t = diag of W_t)."""
    layers = case["layers"]
    P = unpack([dict(L, kind="rnn") if L["kind"] == "indrnn" else L for L in layers],
               np.array(g_rnn))
    out = []
    for L, p in zip(layers, P):
        if L["kind"] == "indrnn":
            p = {"W_s": p["W_s"], "w_t": np.diag(p["W_t"]).copy(), "b": p["b"]}
        out.append(p)
    return pack(layers, out)


def elementwise_self_check(ck):
    """indrnn and lru layers with every online algorithm (SPEC 3.3, 3.5)."""
    rng = np.random.default_rng(20261205)      # its own generator: the checks above are unchanged
    IR, LR, D, S = "indrnn", "lru", "dense", None
    single = [
        ("indrnn->dense, mse", [(IR, 4, "tanh"), (D, 2, "identity")], "mse", 8, 3, 2),
        ("indrnn->dense softmax, ce", [(IR, 3, "tanh"), (D, 3, "softmax")], "cross-entropy",
         7, 3, 2),
        ("indrnn sigmoid (recurrent top), bce", [(IR, 3, "sigmoid")], "binary-cross-entropy",
         7, 3, 2),
        ("lru (no D)->dense tanh, mse", [(LR, 3, S, 4), (D, 2, "tanh")], "mse", 8, 3, 2),
        ("lru (D)->dense softmax, ce", [(LR, 3, S, 2), (D, 3, "softmax")], "cross-entropy",
         7, 3, 3),
        ("lru (D) alone, mse", [(LR, 2, S, 3)], "mse", 7, 3, 2),
    ]
    # (11) single element-wise layer: snap1 = rtrl = full BPTT (one update per sequence), and
    #      with tau_b = 2 at lr 0 both = make_golden BPTT(2, full); at lr 0.1 rtrl =
    #      bptt_stepweights, snap1 = rtrl (indrnn: every update; lru: the first update, then
    #      O(lr) apart: its lambda and gamma influences are chained with the target step's weights;
    #      shown on the second update's gradient, both runs at the same weights after update 1).
    for name, stack, loss, T, B, I in single:
        case = make_case(rng, stack, loss, T, B, I, 0, holes=True)
        full = golden(case, tau_b=T)
        r_r = compare(via_cli(case)[0], full)
        r_s = compare(via_cli(with_(case, algorithm="snap1"))[0], full)
        c2 = with_(case, tau_b=2)
        w2 = golden(c2, tau_b=2)
        r_r2 = compare(via_cli(c2)[0], w2)
        r_s2 = compare(via_cli(with_(c2, algorithm="snap1"))[0], w2)
        sgd = with_(c2, lr=0.1)
        rt = via_cli(sgd)[0]
        sn = via_cli(with_(sgd, algorithm="snap1"))[0]
        r_sw = compare(rt, via_cli(with_(sgd, algorithm="bptt_stepweights"))[0])
        r_first = compare(sn[:1], rt[:1])
        r_later = rel(sn[1]["grad"], rt[1]["grad"])
        lru = stack[0][0] == LR
        ok = (max(r_r, r_s, r_r2, r_s2, r_first) < 1e-12 and r_sw < 1e-10
              and (r_later > 1e-8 if lru else r_later < 1e-12))
        detail = ("tau_b=T %.0e/%.0e; tau_b=2 %.0e/%.0e; lr 0.1: rtrl=stepweights %.0e, snap1 "
                  "update 1 %.0e, update 2 %.0e" % (r_r, r_s, r_r2, r_s2, r_sw, r_first, r_later))
        if lru:                              # lru_chain "step": = rtrl at every update, any lr
            r_step = compare(via_cli(with_(sgd, algorithm="snap1", lru_chain="step"))[0], rt)
            r_step0 = compare(via_cli(with_(case, algorithm="snap1", lru_chain="step"))[0], full)
            ok = ok and r_step < 1e-10 and r_step0 < 1e-12
            detail += "; chain step: lr 0.1 %.0e, tau_b=T %.0e" % (r_step, r_step0)
        ck.check("snap1 = rtrl = BPTT, single %s" % name, ok, detail)

    # (12) indrnn = rnn with W_t = diag(w_t), for rtrl, snap1 and rflo (the w_t gradient is the
    #      W_t gradient's diagonal; not uoro, whose rho's see the norm of theta~ over the
    #      off-diagonal W_t entries too); rflo(0) on indrnn = bptt(1, 1) over an SGD run.
    case = make_case(rng, [("rnn", 3, "tanh"), (IR, 3, "tanh"), (D, 2, "identity")], "mse",
                     8, 3, 2, 2, holes=True)
    worst = 0.0
    for alg in ("rtrl", "snap1", "rflo"):
        c = with_(case, algorithm=alg, rflo_decay=0.3)
        ours, theirs = via_cli(c)[0], via_cli(as_rnn(c))[0]
        for u, v in zip(ours, theirs):
            worst = max(worst, rel(u["grad"], from_rnn_grad(case, v["grad"])))
    c1 = with_(case, algorithm="rflo", tau_b=1, lr=0.3)
    r_b = compare(via_cli(c1)[0], via_cli(with_(c1, algorithm="bptt", tau_max=1))[0])
    ck.check("indrnn = rnn with W_t = diag(w_t) (rtrl, snap1, rflo); rflo(0) = bptt(1,1)",
             worst < 1e-12 and r_b < 1e-10, "rnn->indrnn->dense: %.1e; rflo vs bptt(1,1), "
             "lr 0.3: %.1e" % (worst, r_b))
    try:
        run(make_case(rng, [(LR, 2, S, 2)], "mse", 3, 1, 2, 1, algorithm="rflo"))
        ck.check("rflo on lru is an error", False, "no error")
    except ValueError as e:
        ck.check("rflo on lru is an error", True, str(e))

    # (13) stacks: rtrl = full BPTT, = BPTT(2, full) at lr 0, = bptt_stepweights at lr 0.5, and
    #      against central differences; snap1 per layer: the top recurrent layer's gradient is
    #      rtrl's (its own block is exact), the lower one differs.
    stacks = [
        ("indrnn->lru(D)->dense, mse", [(IR, 3, "tanh"), (LR, 3, S, 2), (D, 2, "identity")],
         "mse"),
        ("rnn->indrnn->dense softmax, ce", [("rnn", 3, "tanh"), (IR, 3, "tanh"),
                                            (D, 3, "softmax")], "cross-entropy"),
        ("lru->indrnn sigmoid (recurrent top), bce", [(LR, 3, S, 3), (IR, 2, "sigmoid")],
         "binary-cross-entropy"),
        ("lru->dense->lru(D), mse", [(LR, 3, S, 2), (D, 3, "tanh"), (LR, 3, S, 3)], "mse"),
    ]
    for name, stack, loss in stacks:
        case = make_case(rng, stack, loss, 7, 3, 2, 0, holes=True)
        r_full = compare(via_cli(case)[0], golden(case, tau_b=7))
        c2 = with_(case, tau_b=2)
        r_w = compare(via_cli(c2)[0], golden(c2, tau_b=2))
        sgd = with_(c2, lr=0.1)
        r_sw = compare(via_cli(sgd)[0], via_cli(with_(sgd, algorithm="bptt_stepweights"))[0])
        flat = np.array(case["weights"])
        fd_worst, prev = 0.0, 0
        for u in via_cli(with_(case, tau_b=3))[0]:
            n = u["n"]
            fd = mg.fd_grad(lambda w: mg.window_loss(case, w, n, prev, 1,
                                                     mg.states_at(case, w, 0))[0], flat)
            fd_worst = max(fd_worst, np.abs(np.array(u["grad"]) - fd).max() / np.abs(fd).max())
            prev = n
        lay = Layout(case["layers"])
        g_r = np.array(via_cli(case)[0][0]["grad"])
        g_s = np.array(via_cli(with_(case, algorithm="snap1"))[0][0]["grad"])
        top, low = lay.cols(lay.top_rec), lay.cols(lay.rec[0])
        r_top, r_low = rel(g_s[top], g_r[top]), rel(g_s[low], g_r[low])
        ck.check("rtrl stack = BPTT oracles, FD: " + name,
                 max(r_full, r_w, r_sw) < 1e-10 and fd_worst < 1e-7 and r_top < 1e-12
                 and r_low > 1e-3,
                 "full %.0e; BPTT(2,full) %.0e; stepweights lr 0.1 %.0e; FD %.0e; snap1 top "
                 "layer %.0e, lower (differs) %.2f" % (r_full, r_w, r_sw, fd_worst, r_top, r_low))

    # (14) uoro unbiased on element-wise stacks (the lru state is [Re s; Im s] in the noise).
    for name, stack, loss, N, small, large in [
            ("lru->dense tanh, mse", [(LR, 3, S, 2), (D, 2, "tanh")], "mse", 4096, 16, 256),
            ("indrnn->lru(D)->dense, mse (D skip into q)",
             [(IR, 3, "tanh"), (LR, 3, S, 2), (D, 2, "identity")], "mse", 4096, 16, 256),
            ("lru->indrnn->dense softmax, ce", [(LR, 2, S, 2), (IR, 3, "tanh"),
                                                (D, 3, "softmax")], "cross-entropy",
             4096, 16, 256)]:
        base = make_case(rng, stack, loss, 5, 2, 2, 2, holes=True)
        G, g, readout = uoro_stats(rng, base, N, (small, large))
        ro_err = np.abs(G[:, readout] - g[readout]).max() if readout.any() else 0.0
        mean, gn, var = G.mean(0), np.linalg.norm(g), G.var(0)
        keep = var > 1e-20 * var.max()
        w, V = np.linalg.eigh(np.cov(G[:, keep], rowvar=False))
        good = w > 1e-12 * w.max()
        proj = V[:, good].T @ (mean - g)[keep]
        dd = int(good.sum())
        t2 = N * float((proj ** 2 / w[good]).sum()) / dd
        pred = np.sqrt(var.sum() / N) / gn
        ok = ro_err < 1e-12 and abs(t2 - 1) < 5 * np.sqrt(2.0 / dd) and rel(mean, g) < 3 * pred
        ck.check("uoro unbiased, N=%d: %s" % (N, name), ok,
                 "readout exact %.0e; T2/d %.2f (d=%d); |mean-rtrl|/|rtrl| %.1e (pred %.1e)"
                 % (ro_err, t2, dd, rel(mean, g), pred))

    # (15) streams: two pieces chained with carry_in = one call, ragged-free lanes with an
    #      initial state (lru: [Re s; Im s]), tau_b = 3, lr 0.2.
    for alg, stack, loss in [
            ("rtrl", [(IR, 3, "tanh"), (LR, 3, S, 2), (D, 2, "identity")], "mse"),
            ("snap1", [(LR, 3, S, 3), (IR, 3, "tanh"), (D, 3, "softmax")], "cross-entropy"),
            ("snap1", [(LR, 3, S, 2), (D, 3, "tanh"), (LR, 3, S, 3)], "mse"),
            ("uoro", [(LR, 2, S, 3), (D, 2, "tanh"), (IR, 2, "tanh"), (D, 2, "identity")],
             "mse"),
            ("rflo", [("rnn", 3, "tanh"), (IR, 3, "tanh"), (D, 2, "sigmoid")],
             "binary-cross-entropy")]:
        T = 10
        case = make_case(rng, stack, loss, T, 3, 2, 3, algorithm=alg, lr=0.2, holes=True,
                         ragged=False)
        case["initial_state"] = [
            None if L["kind"] == "dense" else
            {"s": rng.normal(size=(3, state_size(L))).tolist()} if L["kind"] == "lru" else
            {"h": rng.normal(size=(3, L["units"])).tolist()} for L in case["layers"]]
        if case["layers"][-1]["kind"] == LR:
            case["lru_chain"] = "step"
        if alg == "uoro":
            case["noise"] = rng.choice([-1.0, 1.0], size=(T, 3, Layout(case["layers"]).S))
            case["noise"] = case["noise"].tolist()
        whole, carry_w = via_cli(case, carry=True)
        cut = lambda k, lo, hi: (np.asarray(case[k])[lo:hi]).tolist()
        pieces = ["inputs", "mask", "targets"] + (["noise"] if alg == "uoro" else [])
        first = with_(case, stream=True, **{k: cut(k, 0, 5) for k in pieces})
        first.pop("lengths")
        ups1, carry = via_cli(first, carry=True)
        second = with_(case, carry_in=carry, **{k: cut(k, 5, T) for k in pieces})
        second.pop("lengths")
        second.pop("initial_state")
        ups2, carry2 = via_cli(second, carry=True)
        r = compare(ups1 + ups2, whole)
        rw = rel(carry2["weights"], carry_w["weights"])
        ck.check("stream: two pieces with carry_in = one call (%s, %s)"
                 % (alg, "->".join(L["kind"] for L in case["layers"])),
                 r < 1e-12 and rw < 1e-12 and [u["n"] for u in whole] == [3, 6, 9, 10],
                 "grads %.1e; final weights %.1e" % (r, rw))


# ---- self-check: kf-rtrl ------------------------------------------------------------------

def kf_influence(L, A, u):
    """kf-rtrl's M[k; i, j] = A[k, i] u[j] (B, U, C) in the layer's flat column order (B, U, P_l):
    rnn [W_s (i, j < I), W_t (i, I + j), b (i, C - 1)]; indrnn [W_s, w_t (i, I + i), b]."""
    I, U = L["inputs"], L["units"]
    M = A[:, :, :, None] * u[:, None, None, :]                 # (B, k, i, j)
    B = M.shape[0]
    tw = (M[:, :, :, I:I + U].reshape(B, U, U * U) if L["kind"] == "rnn"
          else np.einsum("bkii->bki", M[:, :, :, I:I + U]))
    return np.concatenate([M[:, :, :, :I].reshape(B, U, U * I), tw, M[:, :, :, -1]], axis=2)


def kf_stats(rng, base, N):
    """kf-rtrl on N copies of the base case's lanes (each lane its own kf_noise) and rtrl on the
    base case: (per-draw gradients (N, d) over all updates, rtrl's (d,), layout)."""
    T, B = len(base["mask"]), len(base["mask"][0])
    rep = lambda a: np.tile(np.asarray(a), (1, N) + (1,) * (np.asarray(a).ndim - 2))
    lay = Layout(base["layers"])
    big = with_(base, algorithm="kf-rtrl", inputs=rep(base["inputs"]).tolist(),
                mask=rep(base["mask"]).tolist(), targets=rep(base["targets"]).tolist(),
                lengths=np.tile(base["lengths"], N).tolist(),
                kf_noise=rng.choice([-1.0, 1.0], size=(T, B * N, len(lay.rec), 2)))
    ups, extra = run(big, record=True)
    ref = run(with_(base, algorithm="rtrl"))[0]
    per_draw = [lg.reshape(N, B, -1).sum(1) / r["elements"]
                for lg, r in zip(extra["lane_grads"], ref)]
    return np.concatenate(per_draw, axis=1), np.concatenate([np.array(r["grad"]) for r in ref])


def kf_self_check(ck):
    """kf-rtrl (SPEC 3.5)."""
    rng = np.random.default_rng(20261206)      # its own generator
    R, IR, D = "rnn", "indrnn", "dense"

    # (16) the first step's influence is exact: A_1 u_1 = D_1 (x) a^_1 = rtrl's own block after
    #      step 1 (any noise; nonzero initial state, so the h_{n-1} columns count), per layer of
    #      rnn -> indrnn -> dense; and the first update at step 1 of a single layer = rtrl's.
    case = make_case(rng, [(R, 3, "tanh"), (IR, 3, "tanh"), (D, 2, "identity")], "mse",
                     1, 4, 2, 1, ragged=False)
    lay = Layout(case["layers"])
    case["initial_state"] = [{"h": rng.normal(size=(4, 3)).tolist()},
                             {"h": rng.normal(size=(4, 3)).tolist()}, None]
    case["kf_noise"] = rng.choice([-1.0, 1.0], size=(1, 4, 2, 2)).tolist()
    _, kc = via_cli(with_(case, algorithm="kf-rtrl"), carry=True)
    _, rc = via_cli(case, carry=True)
    worst = 0.0
    for l in lay.rec:
        L, U = lay.layers[l], lay.layers[l]["units"]
        Mk = kf_influence(L, np.array(kc["influence"]["A"][l]), np.array(kc["influence"]["u"][l]))
        Mr = np.array(rc["influence"]["M"][l])[:, :U, lay.cols(l)]
        worst = max(worst, rel(Mk, Mr))
    single = make_case(rng, [(IR, 3, "tanh"), (D, 3, "softmax")], "cross-entropy", 5, 3, 2, 1,
                       ragged=False)
    single["kf_noise"] = rng.choice([-1.0, 1.0], size=(5, 3, 1, 2)).tolist()
    single["mask"] = np.ones((5, 3), bool).tolist()
    k1 = via_cli(with_(single, algorithm="kf-rtrl"))[0]
    r1 = via_cli(single)[0]
    r_first = rel(k1[0]["grad"], r1[0]["grad"])
    r_second = rel(k1[1]["grad"], r1[1]["grad"])
    ck.check("kf-rtrl: first step's influence exact (rnn->indrnn->dense, h_0 != 0)",
             worst < 1e-14 and r_first < 1e-14 and r_second > 1e-6,
             "A u vs rtrl's own block after step 1 %.0e; single indrnn first update vs rtrl "
             "%.0e (second update, an estimate: %.2f)" % (worst, r_first, r_second))

    # (17) indrnn = rnn with W_t = diag(w_t) under kf-rtrl (same u, A: w_t's gradient is the
    #      W_t gradient's diagonal), lr 0 (with SGD the rnn's W_t would gain off-diagonal
    #      entries), tau_b 2, a stack (same-step error into the lower layer).
    case = make_case(rng, [(IR, 3, "tanh"), (IR, 3, "tanh"), (D, 2, "identity")], "mse",
                     8, 3, 2, 2, algorithm="kf-rtrl", holes=True)
    case["kf_noise"] = rng.choice([-1.0, 1.0], size=(8, 3, 2, 2)).tolist()
    worst = max(rel(u["grad"], from_rnn_grad(case, v["grad"]))
                for u, v in zip(via_cli(case)[0], via_cli(as_rnn(case))[0]))
    ck.check("kf-rtrl: indrnn = rnn with W_t = diag(w_t) (indrnn->indrnn->dense)",
             worst < 1e-12, "%.1e" % worst)

    # (18) unbiased: at lr 0 the mean over N draws of the summed gradient approaches rtrl's at the
    #      1/sqrt(N) rate: group means of k = 64, 256, 1024 draws (8192 in all): rms error
    #      against sqrt(tr Sigma / k) and the fitted slope of log rms on log k; Hotelling T^2 of
    #      the whole mean. Single layers: every column; a stack: the top recurrent layer and the
    #      readout (kf-rtrl is per layer: its lower layer has the same-step error only).
    for name, stack, loss, cols in [
            ("rnn->dense softmax, ce", [(R, 3, "tanh"), (D, 2, "softmax")], "cross-entropy",
             "all"),
            ("indrnn->dense, mse", [(IR, 3, "tanh"), (D, 2, "identity")], "mse", "all"),
            ("rnn->indrnn->dense, mse (top layer)", [(R, 2, "tanh"), (IR, 3, "tanh"),
                                                     (D, 2, "identity")], "mse", "top")]:
        base = make_case(rng, stack, loss, 5, 2, 2, 2, holes=True)
        N, ks = 8192, (64, 256, 1024)
        G, g = kf_stats(rng, base, N)
        lay = Layout(base["layers"])
        sel = np.ones(lay.total, bool)
        if cols == "top":
            sel[:] = False
            for l in range(lay.top_rec, len(lay.layers)):
                sel[lay.cols(l)] = True
        sel = np.tile(sel, G.shape[1] // lay.total)
        G, g = G[:, sel], g[sel]
        gn, var, mean = np.linalg.norm(g), G.var(0), G.mean(0)
        rms, pred = [], []
        for k in ks:
            gm = G.reshape(N // k, k, -1).mean(1)
            rms.append(np.sqrt((np.linalg.norm(gm - g, axis=1) ** 2).mean()) / gn)
            pred.append(np.sqrt(var.sum() / k) / gn)
        slope = np.polyfit(np.log(ks), np.log(rms), 1)[0]
        keep = var > 1e-20 * var.max()
        w, V = np.linalg.eigh(np.cov(G[:, keep], rowvar=False))
        good = w > 1e-12 * w.max()
        proj = V[:, good].T @ (mean - g)[keep]
        dd = int(good.sum())
        t2 = N * float((proj ** 2 / w[good]).sum()) / dd
        ratios = np.array(rms) / np.array(pred)
        ok = (-0.65 < slope < -0.35 and np.all((ratios > 0.6) & (ratios < 1.5))
              and abs(t2 - 1) < 5 * np.sqrt(2.0 / dd))
        ck.check("kf-rtrl unbiased: " + name, ok,
                 "rms err k=64/256/1024: %.1e/%.1e/%.1e (/pred %.2f/%.2f/%.2f), slope %.2f; "
                 "T2/d %.2f (d=%d)" % (tuple(rms) + tuple(ratios) + (slope, t2, dd)))

    # (19) streams (two pieces with carry_in = one call), ragged lanes, located errors.
    T = 10
    case = make_case(rng, [(R, 3, "tanh"), (IR, 3, "tanh"), (D, 2, "sigmoid")],
                     "binary-cross-entropy", T, 3, 2, 3, algorithm="kf-rtrl", lr=0.2,
                     holes=True, ragged=False)
    case["initial_state"] = [{"h": rng.normal(size=(3, 3)).tolist()} for _ in range(2)] + [None]
    case["kf_noise"] = rng.choice([-1.0, 1.0], size=(T, 3, 2, 2)).tolist()
    whole, carry_w = via_cli(case, carry=True)
    cut = lambda k, lo, hi: (np.asarray(case[k])[lo:hi]).tolist()
    pieces = ["inputs", "mask", "targets", "kf_noise"]
    first = with_(case, stream=True, **{k: cut(k, 0, 5) for k in pieces})
    first.pop("lengths")
    ups1, carry = via_cli(first, carry=True)
    second = with_(case, carry_in=carry, **{k: cut(k, 5, T) for k in pieces})
    second.pop("lengths")
    second.pop("initial_state")
    ups2, carry2 = via_cli(second, carry=True)
    r_s = max(compare(ups1 + ups2, whole), rel(carry2["weights"], carry_w["weights"]))
    rag = make_case(rng, [(IR, 3, "tanh"), (D, 2, "identity")], "mse", 7, 3, 2, 0,
                    algorithm="kf-rtrl")
    noise = rng.choice([-1.0, 1.0], size=(7, 3, 1, 2))
    rag["kf_noise"] = noise.tolist()
    # a frozen lane keeps u and A: other inputs and other noise on the steps after a lane's end
    # give the same gradients
    alt, alt_noise = np.array(rag["inputs"]), noise.copy()
    ln = np.array(rag["lengths"])
    for b in range(3):
        alt[ln[b]:, b] = rng.normal(size=alt[ln[b]:, b].shape)
        alt_noise[ln[b]:, b] *= -1
    r_rag = compare(via_cli(rag)[0], via_cli(with_(rag, inputs=alt.tolist(),
                                                   kf_noise=alt_noise.tolist()))[0])
    r_rag = r_rag if min(ln) < 7 else np.inf              # some lane must end early
    raised = []
    for k, bad in (("lstm", with_(case, layers=[{"kind": "lstm", "inputs": 2, "units": 3}] +
                                  case["layers"][1:])),
                   ("lru", make_case(rng, [("lru", 2, None, 2)], "mse", 3, 1, 2, 1,
                                     algorithm="kf-rtrl")),
                   ("noise shape", with_(case, kf_noise=np.ones((T, 3, 1, 2)).tolist())),
                   ("noise values", with_(case, kf_noise=(0.5 * np.ones((T, 3, 2, 2))).tolist()))):
        try:
            run(dict(bad, kf_noise=bad.get("kf_noise", np.ones((3, 1, 1, 2)))))
        except (ValueError, KeyError):
            raised.append(k)
    ck.check("kf-rtrl: stream pieces chain; frozen lanes; located errors",
             r_s < 1e-12 and r_rag < 1e-14 and len(raised) == 4,
             "two pieces = one call %.1e; ragged lanes ignore steps past their end %.0e; "
             "ValueError for %s" % (r_s, r_rag, ", ".join(raised)))


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-check"]:
        sys.exit(self_check())
    if len(sys.argv) not in (3, 4):
        print(__doc__.split("\n---")[0])
        print("usage: online_reference.py CASE.json OUT.json [CARRY_OUT.json] | --self-check")
        sys.exit(2)
    main(*sys.argv[1:])
