#!/usr/bin/env python3
"""Adaptive tau_max (Aicher, Foti & Fox 2019): the estimator phi -> beta -> rho -> K, in numpy.

Written from the project's specification of adaptive truncation alone (the credit profile, the
geometric tail, the estimated relative bias), never from the Swift code:

  phi_k, k = 0 ... max_lag: the measured credit profile (None: a lag no target step reached).
  beta:  least squares of log phi_k = a + k log beta over the available k in
         [floor(max_lag / 2), max_lag]; with fewer than 4 such lags, or a zero phi_k among them,
         no tail (phi_hat_k = 0 past the last available lag); clamped to [0, 1 - 1e-6].
  phi_hat_k = phi_k up to the last available lag L, then phi_L beta^(k - L).
  rho(K) = sum_{k >= K} phi_hat_k / sum_{k >= 0} phi_hat_k.
  K = the smallest K >= 1 with rho(K) <= delta, capped at max_lag.

The geometric series is summed here by brute force (term by term in float64 chunks until a chunk
no longer changes the sum), not in closed form, so that the closed form elsewhere is checked.

Usage:
  adaptive_reference.py CASE.json OUT.json   CASE: {"phi": [...], "delta": d}; OUT: {"K", "rho", "beta", "rho_all"}
  adaptive_reference.py --self-check         geometric profiles: K = ceil(log delta / log r)
"""
import json
import math
import sys

import numpy as np


def fit_beta(phi, max_lag):
    lo = max_lag // 2
    ks = [k for k in range(lo, max_lag + 1) if k < len(phi) and phi[k] is not None]
    if len(ks) < 4 or any(phi[k] == 0 for k in ks):
        return None
    x = np.array(ks, dtype=np.float64)
    y = np.log(np.array([phi[k] for k in ks], dtype=np.float64))
    # Ordinary least squares slope through the normal equations (not np.polyfit's QR).
    A = np.stack([np.ones_like(x), x], axis=1)
    coef = np.linalg.solve(A.T @ A, A.T @ y)
    beta = math.exp(coef[1])
    return min(max(beta, 0.0), 1.0 - 1e-6)


def geometric_sum(beta):
    """sum_{j >= 0} beta^j, summed in float64 chunks of terms until a chunk no longer counts."""
    total, start, chunk = 0.0, 0, 1 << 20
    while True:
        part = float(np.sum(beta ** np.arange(start, start + chunk, dtype=np.float64)))
        if total + part == total:
            return total
        total += part
        start += chunk


def estimate(phi, delta):
    max_lag = len(phi) - 1
    available = [k for k in range(max_lag + 1) if phi[k] is not None]
    if not available:
        return {"K": 1, "rho": 0.0, "beta": None, "rho_all": []}
    last = max(available)
    values = np.array([phi[k] if phi[k] is not None else 0.0 for k in range(last + 1)], dtype=np.float64)
    beta = fit_beta(phi, max_lag)
    series = geometric_sum(beta) if beta is not None else 0.0

    def tail_from(k0):
        """sum_{k >= k0, k > last} phi_hat_k."""
        if beta is None:
            return 0.0
        start = max(k0, last + 1)
        return values[last] * beta ** (start - last) * series

    total = float(values.sum()) + tail_from(0)
    rho_all = []
    for K in range(0, max_lag + 1):
        head = float(values[K:].sum()) if K <= last else 0.0
        rho_all.append((head + tail_from(K)) / total if total > 0 else 0.0)
    chosen = max_lag
    for K in range(1, max_lag + 1):
        if rho_all[K] <= delta:
            chosen = K
            break
    return {"K": chosen, "rho": rho_all[chosen], "beta": beta, "rho_all": rho_all}


def self_check():
    failures = 0
    for r in [0.5, 0.7, 0.8, 0.9, 0.95]:
        for delta in [0.3, 0.1, 0.03, 0.01]:
            max_lag = 200
            phi = [3.0 * r ** k for k in range(max_lag + 1)]
            out = estimate(phi, delta)
            expect = math.ceil(math.log(delta) / math.log(r))
            if out["K"] != min(expect, max_lag) or abs(out["beta"] - r) > 1e-12 or abs(out["rho"] - r ** out["K"]) > 1e-9:
                print(f"FAIL geometric r={r} delta={delta}: K={out['K']} expected {expect}, beta={out['beta']}, rho={out['rho']}")
                failures += 1
    # No tail: fewer than 4 lags in the fit range, or a zero among them.
    short = [1.0, 0.5, 0.25, None, None, None, None, None, None]
    out = estimate(short, 0.2)
    if out["beta"] is not None or out["K"] != 2 or abs(out["rho"] - 0.25 / 1.75) > 1e-15:
        print(f"FAIL no tail (short): {out}")
        failures += 1
    zero = [1.0] * 5 + [0.0] * 6
    out = estimate(zero, 0.5)
    if out["beta"] is not None or out["K"] != 3:
        print(f"FAIL no tail (zero): {out}")
        failures += 1
    # A rising tail is clamped just below 1 (the tail then dominates: K at the cap).
    rising = [1.0 + 0.01 * k for k in range(41)]
    out = estimate(rising, 0.1)
    if abs(out["beta"] - (1 - 1e-6)) > 0 or out["K"] != 40:
        print(f"FAIL clamp: {out['beta']}, K={out['K']}")
        failures += 1
    if failures:
        sys.exit(1)
    print("adaptive_reference self-check: ok (geometric K = ceil(log delta / log r), no tail, clamp)")


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-check":
        self_check()
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        case = json.load(f)
    out = estimate(case["phi"], float(case["delta"]))
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
