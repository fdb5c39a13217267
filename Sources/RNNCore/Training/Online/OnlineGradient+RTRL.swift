/// Exact RTRL over the whole stack (SPEC 3.3, notes 2.1).
///
/// For every layer `l ≤ L` the engine keeps, per lane, `M^l = ∂s^l/∂θ_{0…l}` (all parameter
/// columns of layers `0 … l`, i.e. the blocks `M^{l,j}` for every `j ≤ l`, dense layers included),
/// `(S_l, cols_l)` row-major. Bottom-up at each step, per lane, with the step's local derivatives
/// folded into two small matrices first:
/// ```
/// Jt[s, :] = Σ_g Dt[s,g] TW[gU+k, :]  (+ self on the gru diagonal)      (S × U)
/// Jx[s, :] = Σ_g Ds[s,g] SW[gU+k, :]                                    (S × I)
/// M^l_n      = Jt · M^l_{n-1}[h rows]                                    one GEMM, (S × cols_l)
///            + self[s] M^l_{n-1}[c_k]              (lstm: both h_k and c_k rows read c_k)
/// M^l_n[:, 0 ..< cols_{l-1}] += Jx · M^{l-1}_n[h rows]                   one GEMM
/// M^l_n[s, own row r = gU+k] += I^l_n[s]: Ds[s,g] x, Dt[s,g] h_{n-1}, Ds[s,g], Dt[s,g]
/// ```
/// (`k = s mod U`; rnn: `Jt = diag(σ') TW`, so `M_n = D_n (TW M_{n-1} + SW M^{l-1}_n + I_n)`;
/// indrnn: `Jt = diag(σ' ⊙ w_t)`, the first product a row scaling, `≈ S·cols`, and the immediate
/// influence of `w_t[k]` is `σ'(z_k) h_{n-1,k}` on row `k` only).
/// Dense layers between recurrent layers get `M^d_n = Jx^d M^{d-1}_n[h] + I^d` (no time term).
/// An lru layer (`rtrlLRUStep`): `M_s,n = J M_s,n-1 + Jx M^{l-1}_h,n + I_n` on its state
/// `[Re s; Im s]`, `J` a complex row scaling (`≈ 4S·cols`), then its output rows
/// `M_h = Hs M_s + D ⊙ M^{l-1}_h + H_p` for the layer above (SPEC 3.5: the own block is
/// element-wise, stored dense here).
/// The new block is formed in the layer's spare block and swapped in: a lane's `M` stays in
/// L2 between its two GEMMs (`(S, cols)` is 200 KB for the rnn(32) benchmark layer).
/// At a target step: `Δθ_{0…L} += q_mᵀ M^L_m[h rows]` (one GEMV per lane).
///
/// Cost per step and lane: `S_l U_l cols_l + S_l I_l cols_{l-1}` multiply-adds in the two GEMMs
/// (`≈ n²P` for one rnn layer; the lstm `Jt` has `S = 2U` rows against the `4U` gate rows of
/// `TW · M`) plus `O(S G (I + U))` for `Jt`, `Jx` and the immediate influence; memory
/// `Σ_l S_l cols_l` per lane plus one spare block per layer.
extension OnlineGradient {
    /// Every active lane's `M^l` bottom-up, each lane followed at a target by its gradient (its
    /// blocks are then still in L2).
    func rtrlAdvance(_ w: UnsafePointer<Scalar>) {
        let spare = laneCapacity
        for lane in 0..<lanes where layers.active[lane] {
            for l in 0...topRecurrent {
                let sh = shapes[l]
                if sh.isLRU {
                    rtrlLRUStep(l, lane, w)
                    continue
                }
                let u = sh.units, i = sh.inputs, G = sh.gates, S = sh.stateSize
                let cols = rtrl.columns[l]
                let below = l > 0 ? rtrl.columns[l - 1] : 0
                let onCell = sh.directDependence == .sameUnitCell  // S = [h; c], self on c_{n-1}
                let d = layers.ds[l] + lane * S * G, e = layers.dt[l] + lane * S * G, sc = layers.selfCoef[l] + lane * S
                let old = rtrlBlock(l, lane), new = rtrlBlock(l, spare)
                let J = rtrl.jacobian
                if sh.isDiagonal {
                    // indrnn: Jt = diag(σ'(z) ⊙ w_t), so M_n[k, :] = σ'(z_k) w_t[k] M_{n-1}[k, :], a row scaling.
                    let wt = w + sh.tw
                    for k in 0..<u {
                        let a = e[k] * wt[k], src = old + k * cols, dst = new + k * cols
                        for j in 0..<cols { dst[j] = a * src[j] }
                    }
                } else if sh.isRecurrent {
                    // Jt (S × U), then M_n = Jt · M_{n-1}[h rows] (+ lstm's c rows).
                    J.update(repeating: 0, count: S * u)
                    for g in 0..<G {
                        let twRows = w + sh.tw + g * u * u
                        OnlineRows.axpy(rows: u, n: u, J, ldd: u, s: e + g, ss: G, src: twRows, lds: u)
                        if onCell { OnlineRows.axpy(rows: u, n: u, J + u * u, ldd: u, s: e + u * G + g, ss: G, src: twRows, lds: u) }
                    }
                    if sh.directDependence == .sameUnitHidden { for k in 0..<u { J[k * u + k] += sc[k] } }
                    Scalar.gemm(transA: false, transB: false, m: S, n: cols, k: u, alpha: 1, a: UnsafePointer(J), lda: u,
                                b: UnsafePointer(old), ldb: cols, beta: 0, c: new, ldc: cols)
                    if onCell {
                        let cRows = UnsafePointer(old + u * cols), self_ = UnsafePointer(sc)
                        OnlineRows.axpy(rows: u, n: cols, new, ldd: cols, s: self_, ss: 1, src: cRows, lds: cols)
                        OnlineRows.axpy(rows: u, n: cols, new + u * cols, ldd: cols, s: self_ + u, ss: 1, src: cRows, lds: cols)
                    }
                } else {
                    new.update(repeating: 0, count: S * cols)
                }
                if l > 0 {
                    // Jx (S × I), then M_n[:, 0 ..< cols_{l-1}] += Jx · M^{l-1}_n[h rows].
                    J.update(repeating: 0, count: S * i)
                    for g in 0..<G {
                        let swRows = w + sh.sw + g * u * i
                        OnlineRows.axpy(rows: u, n: i, J, ldd: i, s: d + g, ss: G, src: swRows, lds: i)
                        if onCell { OnlineRows.axpy(rows: u, n: i, J + u * i, ldd: i, s: d + u * G + g, ss: G, src: swRows, lds: i) }
                    }
                    Scalar.gemm(transA: false, transB: false, m: S, n: below, k: i, alpha: 1, a: UnsafePointer(J), lda: i,
                                b: UnsafePointer(rtrlOutputRows(l - 1, lane)), ldb: below, beta: 1, c: new, ldc: cols)
                }
                // Immediate influence: state row s (unit k) gets unit k's own weight rows r = gU + k.
                // Row s of M sits at s·cols, W_s row r at sw + r·I: rows s = 0 ..< U of gate g are
                // at stride cols + I from `sw + gUI` (the c rows of lstm: from `U cols + sw + gUI`).
                let x = UnsafePointer(layerInput(l) + lane * i), hp = UnsafePointer(layers.hPrev[l] + lane * u)
                for g in 0..<G {
                    for half in 0..<sh.traits.statePerUnit {
                        let rowBase = new + half * u * cols, dg = UnsafePointer(d + half * u * G + g)
                        let eg = UnsafePointer(e + half * u * G + g)
                        OnlineRows.axpy(rows: u, n: i, rowBase + sh.sw + g * u * i, ldd: cols + i, s: dg, ss: G, src: x, lds: 0)
                        if sh.isDiagonal {
                            for k in 0..<u { rowBase[k * cols + sh.tw + k] += eg[k * G] * hp[k] }  // w_t[k]: h_{n-1,k}
                        } else if sh.isRecurrent {
                            OnlineRows.axpy(rows: u, n: u, rowBase + sh.tw + g * u * u, ldd: cols + u, s: eg, ss: G, src: hp, lds: 0)
                        }
                        for k in 0..<u {
                            let row = rowBase + k * cols
                            row[sh.b + g * u + k] += dg[k * G]
                            if sh.isGated { row[sh.bt + g * u + k] += eg[k * G] }
                        }
                    }
                }
                swapRTRLBlocks(l, lane, spare)
            }
            if readout.hasTarget[lane] { rtrlGradient(lane, w) }
        }
    }

    /// Lane `lane`'s `M^l` (rtrl; `lane == laneCapacity`: the layer's spare block).
    @inline(__always)
    func rtrlBlock(_ l: Int, _ lane: Int) -> UnsafeMutablePointer<Scalar> {
        rtrl.blocks[l * (laneCapacity + 1) + lane]
    }

    /// Exchanges lane `lane`'s block of layer `l` with the layer's spare.
    @inline(__always)
    func swapRTRLBlocks(_ l: Int, _ lane: Int, _ spare: Int) {
        let stride = laneCapacity + 1
        let t = rtrl.blocks[l * stride + lane]
        rtrl.blocks[l * stride + lane] = rtrl.blocks[l * stride + spare]
        rtrl.blocks[l * stride + spare] = t
    }

    /// `Δθ_{0…L} += q_mᵀ M^L_m[h rows]` for one lane (an lru top: `rtrlLRUGradient`).
    func rtrlGradient(_ lane: Int, _ w: UnsafePointer<Scalar>) {
        let l = topRecurrent
        if shapes[l].isLRU {
            rtrlLRUGradient(lane, w)
            return
        }
        let cols = rtrl.columns[l], u = shapes[l].units
        Scalar.gemm(transA: false, transB: false, m: 1, n: cols, k: u, alpha: 1, a: UnsafePointer(q + lane * u), lda: u,
                    b: UnsafePointer(rtrlBlock(l, lane)), ldb: cols, beta: 1, c: backward.accumulator, ldc: cols)
    }
}
