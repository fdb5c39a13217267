import Foundation

/// The online algorithms on an `lru` layer (SPEC 2, 3.5): its forward step, the same-step VJP of
/// its output map, snap1's complex influences, rtrl's block and uoro's share.
///
/// In the real form of its state, `s = [Re s; Im s]` (`2S`), with `λ = exp(−e^ν + i e^θ)`
/// (`ν = nu_log`, `θ = theta_log`), `γ = exp(gamma_log)`, `u_n = B x_n` (`B = B_re + i B_im`):
/// ```
/// s_n = λ ⊙ s_{n-1} + γ ⊙ u_n                     J = [[diag λ_re, −diag λ_im], [diag λ_im, diag λ_re]]
/// h_n = C_re s_re − C_im s_im + D ⊙ x_n            Jx = [γ ⊙ B_re; γ ⊙ B_im]   (2S × I)
/// ∂s_k/∂ν_k = s_{n-1,k} ∂λ_k/∂ν_k,  ∂λ/∂ν = −e^ν λ      ∂s_k/∂θ_k = s_{n-1,k} ∂λ_k/∂θ_k,  ∂λ/∂θ = i e^θ λ
/// ∂s_k/∂gamma_log_k = γ_k u_k      ∂s_k/∂B_re[k, j] = γ_k x_j      ∂s_k/∂B_im[k, j] = i γ_k x_j
/// ```
/// (complex entries split into their `Re` row `k` and `Im` row `S + k`); `C` and `D` act on `h`
/// only, at the same step: `∂h_k/∂C_re[k, j] = s_re,j`, `∂h_k/∂C_im[k, j] = −s_im,j`,
/// `∂h_k/∂D_k = x_k`. An error `q` on `h` is the error `c = [C_reᵀ q; −C_imᵀ q]` on `s`, and
/// `Jxᵀ c + D ⊙ q` on the input; for a real parameter `p`, `cᵀ ∂s/∂p = Re(conj(G) ∂s/∂p)` with
/// `G = c_re + i c_im`.
extension OnlineGradient {
    // MARK: - Forward

    /// `λ_re, λ_im, γ, ∂λ/∂ν, ∂λ/∂θ` of every lru layer from `w` (at each `advance`: the weights are
    /// fixed within it), computed in float64 and rounded, as the BPTT engine's `LRULayer.refreshScratch`.
    func refreshLRUCoefficients(_ w: UnsafePointer<Scalar>) {
        for (l, sh) in shapes.enumerated() {
            guard let o = sh.lru else { continue }
            let S = sh.complexState, c = layers.lruCoefficients[l]
            for k in 0..<S {
                let en = Foundation.exp(Double(w[o.nu + k])), et = Foundation.exp(Double(w[o.theta + k]))
                let modulus = Foundation.exp(-en)
                let lr = modulus * Foundation.cos(et), li = modulus * Foundation.sin(et)
                c[k] = Scalar(lr)
                c[S + k] = Scalar(li)
                c[2 * S + k] = Scalar(Foundation.exp(Double(w[o.gamma + k])))
                c[3 * S + k] = Scalar(-en * lr)   // ∂λ/∂ν = −e^ν λ
                c[4 * S + k] = Scalar(-en * li)
                c[5 * S + k] = Scalar(-et * li)   // ∂λ/∂θ = i e^θ λ
                c[6 * S + k] = Scalar(et * lr)
            }
        }
    }

    /// One step of lru layer `l` for every lane: `u = x [B_re; B_im]ᵀ` (one GEMM, into `pre`,
    /// (B, 2S)), `s_n = λ ⊙ s_{n-1} + γ ⊙ u` element-wise, `h = s_re C_reᵀ − s_im C_imᵀ (+ D ⊙ x)`
    /// (two GEMMs). The state `s` is the layer's carried state; `h` is recomputed every step.
    func lruStep(_ l: Int, _ w: UnsafePointer<Scalar>) {
        let sh = shapes[l]
        guard let o = sh.lru else { return }
        let b = lanes, u = sh.units, i = sh.inputs, S = sh.complexState, S2 = 2 * S
        let x = UnsafePointer(layerInput(l))
        let bx = layers.pre[l]
        timesWeightsTransposed(l, recurrent: false, m: b, a: x, lda: i, w, beta: 0, c: bx, ldc: S2)
        let c = UnsafePointer(layers.lruCoefficients[l])
        let lr = c, li = c + S, gamma = c + 2 * S
        let state = layers.s[l]
        for lane in 0..<b {
            let sp = UnsafePointer(layers.sPrev[l] + lane * S2), sn = state + lane * S2, ux = UnsafePointer(bx + lane * S2)
            for k in 0..<S {
                let re = sp[k], im = sp[S + k]
                sn[k] = lr[k] * re - li[k] * im + gamma[k] * ux[k]
                sn[S + k] = li[k] * re + lr[k] * im + gamma[k] * ux[S + k]
            }
        }
        let h = layers.h[l]
        Scalar.gemm(transA: false, transB: true, m: b, n: u, k: S, alpha: 1, a: UnsafePointer(state), lda: S2,
                    b: w + o.cRe, ldb: S, beta: 0, c: h, ldc: u)
        Scalar.gemm(transA: false, transB: true, m: b, n: u, k: S, alpha: -1, a: UnsafePointer(state + S), lda: S2,
                    b: w + o.cIm, ldb: S, beta: 1, c: h, ldc: u)
        if let d = o.d {
            for lane in 0..<b {
                let hr = h + lane * u, xr = x + lane * i
                for k in 0..<u { hr[k] += w[d + k] * xr[k] }
            }
        }
    }

    // MARK: - The output map's same-step VJP

    /// For one lane's error `q` on lru layer `l`'s output `h` (U): the error on its state,
    /// `c = [C_reᵀ q; −C_imᵀ q]`, into `stateCot` (2S); with `grad`, adds the exact immediate
    /// gradient of `C` and `D`, `ΔC_re[k, j] += q_k s_re,j`, `ΔC_im[k, j] −= q_k s_im,j`,
    /// `ΔD_k += q_k x_k`; with `cx`, writes the error on the layer's input through this step,
    /// `Jxᵀ c + D ⊙ q = B_reᵀ (γ ⊙ c_re) + B_imᵀ (γ ⊙ c_im) + D ⊙ q` (I).
    func lruOutputVJP(_ l: Int, _ lane: Int, _ q: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>,
                      stateCot c: UnsafeMutablePointer<Scalar>, grad: UnsafeMutablePointer<Scalar>?,
                      cx: UnsafeMutablePointer<Scalar>?) {
        let sh = shapes[l]
        guard let o = sh.lru else { return }
        let u = sh.units, i = sh.inputs, S = sh.complexState, S2 = 2 * S
        c.update(repeating: 0, count: S2)
        for k in 0..<u {
            let qk = q[k]
            if qk == 0 { continue }
            let re = w + o.cRe + k * S, im = w + o.cIm + k * S
            for j in 0..<S {
                c[j] += qk * re[j]
                c[S + j] -= qk * im[j]
            }
        }
        let x = UnsafePointer(layerInput(l) + lane * i)
        if let grad {
            let s = UnsafePointer(layers.s[l] + lane * S2)
            for k in 0..<u {
                let qk = q[k]
                let re = grad + o.cRe + k * S, im = grad + o.cIm + k * S
                for j in 0..<S {
                    re[j] += qk * s[j]
                    im[j] -= qk * s[S + j]
                }
            }
            if let d = o.d { for k in 0..<u { grad[d + k] += q[k] * x[k] } }
        }
        if let cx {
            let gamma = UnsafePointer(layers.lruCoefficients[l] + 2 * S)
            let rows = backward.rowScratchS
            for k in 0..<S {
                rows[k] = gamma[k] * c[k]
                rows[S + k] = gamma[k] * c[S + k]
            }
            sendDown(l, cs: UnsafePointer(rows), w, into: cx)
            if let d = o.d { for k in 0..<u { cx[k] += w[d + k] * q[k] } }
        }
    }

    // MARK: - snap1: the exact influence within the layer

    /// snap1 on lru layer `l` (SPEC 3.5), for the `count` lanes in `perLayer.activeLanes`: within
    /// the layer the influence is element-wise, so carrying it is exact. Per lane, complex, each
    /// as its real parts then its imaginary parts, in the parameters' own coordinates (the
    /// derivatives of `λ` and `γ` chained at every step, so that it is rtrl's own block also when
    /// the weights change between updates; the numpy reference's `"lru_chain": "step"`):
    /// ```
    /// e^ν_n = λ ⊙ e^ν_{n-1} + s_{n-1} ⊙ ∂λ/∂ν          e^θ_n = λ ⊙ e^θ_{n-1} + s_{n-1} ⊙ ∂λ/∂θ
    /// e^γ_n = λ ⊙ e^γ_{n-1} + γ ⊙ u_n                   E^B_n[k, j] = λ_k E^B_{n-1}[k, j] + γ_k x_{n,j}
    /// ```
    /// (`∂s/∂B_re = E^B`, `∂s/∂B_im = i E^B`). With `targets`, each lane with a target adds, for the
    /// error `c` on its state (`perLayerErrors`, `G = c_re + i c_im`):
    /// `Δν_k += Re(conj(G_k) e^ν_k)`, `Δθ_k`, `Δgamma_log_k` likewise, `ΔB_re[k, j] += Re(conj(G_k) E^B[k, j])`,
    /// `ΔB_im[k, j] += Re(conj(G_k) i E^B[k, j])`; `C` and `D` got their exact gradient in `perLayerErrors`.
    /// Cost per lane and step `≈ 4 S (3 + I)` multiply-adds for the carry and `4 S (1 + I)` for the
    /// gradient; memory `2 S (3 + I)` scalars (`Shape.lruInfluenceCount`).
    func lruCarry(_ l: Int, count: Int, targets: Bool) {
        let sh = shapes[l]
        guard let base = perLayer.m[l], let o = sh.lru else { return }
        let i = sh.inputs, S = sh.complexState, S2 = 2 * S, SI = S * i
        let c = UnsafePointer(layers.lruCoefficients[l])
        let lr = c, li = c + S, gamma = c + 2 * S, dnr = c + 3 * S, dni = c + 4 * S, dtr = c + 5 * S, dti = c + 6 * S
        let acc = backward.accumulator
        for q in 0..<count {
            let lane = perLayer.activeLanes[q]
            let m = base + lane * perLayer.laneStride[l]
            let eNu = m, eTh = m + S2, eGa = m + 2 * S2, eRe = m + 3 * S2, eIm = m + 3 * S2 + SI
            let sp = UnsafePointer(layers.sPrev[l] + lane * S2), ux = UnsafePointer(layers.pre[l] + lane * S2)
            let x = UnsafePointer(layerInput(l) + lane * i)
            let err: UnsafePointer<Scalar>? = targets && readout.hasTarget[lane]
                ? UnsafePointer(perLayer.errors + lane * stackedStateSize + stateOffset[l]) : nil
            for k in 0..<S {
                let a = lr[k], b = li[k], g = gamma[k], spr = sp[k], spi = sp[S + k]
                var re = eNu[k], im = eNu[S + k]
                eNu[k] = a * re - b * im + (spr * dnr[k] - spi * dni[k])
                eNu[S + k] = b * re + a * im + (spr * dni[k] + spi * dnr[k])
                re = eTh[k]; im = eTh[S + k]
                eTh[k] = a * re - b * im + (spr * dtr[k] - spi * dti[k])
                eTh[S + k] = b * re + a * im + (spr * dti[k] + spi * dtr[k])
                re = eGa[k]; im = eGa[S + k]
                eGa[k] = a * re - b * im + g * ux[k]
                eGa[S + k] = b * re + a * im + g * ux[S + k]
                let rowRe = eRe + k * i, rowIm = eIm + k * i
                for j in 0..<i {
                    let r = rowRe[j], s = rowIm[j]
                    rowRe[j] = a * r - b * s + g * x[j]
                    rowIm[j] = b * r + a * s
                }
                guard let err else { continue }
                let cr = err[k], ci = err[S + k]
                acc[o.nu + k] += cr * eNu[k] + ci * eNu[S + k]
                acc[o.theta + k] += cr * eTh[k] + ci * eTh[S + k]
                acc[o.gamma + k] += cr * eGa[k] + ci * eGa[S + k]
                let gRe = acc + o.bRe + k * i, gIm = acc + o.bIm + k * i
                for j in 0..<i {
                    gRe[j] += cr * rowRe[j] + ci * rowIm[j]
                    gIm[j] += ci * rowRe[j] - cr * rowIm[j]
                }
            }
        }
    }

    // MARK: - rtrl: the layer's block of the whole-stack influence

    /// rtrl's step of lru layer `l` for one lane. The block is stored dense, `(2S + U, cols_l)`:
    /// the state rows `M_s = ∂s/∂θ_{0…l}` (carried), then the output rows `M_h = ∂h/∂θ_{0…l}`
    /// (formed for the layer above; not at the top recurrent layer, whose gradient reads `M_s`):
    /// ```
    /// M_s,n = J M_s,n-1 + Jx M^{l-1}_h,n + I_n        (J a complex row scaling, ≈ 4S·cols; Jx one GEMM)
    /// M_h,n = C_re M_re − C_im M_im + D ⊙ M^{l-1}_h,n + H_p        (H_p: ∂h_k/∂C_re[k, j] = s_re,j, …)
    /// ```
    /// with `I_n` the immediate influence of the type's doc on the layer's own `ν, θ, gamma_log,
    /// B_re, B_im` columns (each state row `k`, `S + k` touches only entry `k` of the first three
    /// and row `k` of `B`). Formed in the layer's spare block, then swapped in.
    func rtrlLRUStep(_ l: Int, _ lane: Int, _ w: UnsafePointer<Scalar>) {
        let sh = shapes[l]
        guard let o = sh.lru else { return }
        let spare = laneCapacity
        let u = sh.units, i = sh.inputs, S = sh.complexState, S2 = 2 * S
        let cols = rtrl.columns[l], below = l > 0 ? rtrl.columns[l - 1] : 0
        let old = UnsafePointer(rtrlBlock(l, lane)), new = rtrlBlock(l, spare)
        let c = UnsafePointer(layers.lruCoefficients[l])
        let lr = c, li = c + S, gamma = c + 2 * S, dnr = c + 3 * S, dni = c + 4 * S, dtr = c + 5 * S, dti = c + 6 * S
        // J M_{n-1}: row k and S + k of each complex entry, λ_k times (Re, Im).
        for k in 0..<S {
            let a = lr[k], b = li[k]
            let oRe = old + k * cols, oIm = old + (S + k) * cols, nRe = new + k * cols, nIm = new + (S + k) * cols
            for j in 0..<cols {
                let r = oRe[j], m = oIm[j]
                nRe[j] = a * r - b * m
                nIm[j] = b * r + a * m
            }
        }
        if l > 0 {
            // Jx = [γ ⊙ B_re; γ ⊙ B_im] (2S × I), then M_s[:, 0 ..< cols_{l-1}] += Jx · M^{l-1}_h.
            let J = rtrl.jacobian
            for r in 0..<S2 {
                let g = gamma[r % S], src = w + sh.sw + r * i, dst = J + r * i
                for j in 0..<i { dst[j] = g * src[j] }
            }
            Scalar.gemm(transA: false, transB: false, m: S2, n: below, k: i, alpha: 1, a: UnsafePointer(J), lda: i,
                        b: UnsafePointer(rtrlOutputRows(l - 1, lane)), ldb: below, beta: 1, c: new, ldc: cols)
        }
        // The immediate influence on the layer's own columns.
        let sp = UnsafePointer(layers.sPrev[l] + lane * S2), ux = UnsafePointer(layers.pre[l] + lane * S2)
        let x = UnsafePointer(layerInput(l) + lane * i)
        for k in 0..<S {
            let nRe = new + k * cols, nIm = new + (S + k) * cols
            let spr = sp[k], spi = sp[S + k], g = gamma[k]
            nRe[o.nu + k] += spr * dnr[k] - spi * dni[k]
            nIm[o.nu + k] += spr * dni[k] + spi * dnr[k]
            nRe[o.theta + k] += spr * dtr[k] - spi * dti[k]
            nIm[o.theta + k] += spr * dti[k] + spi * dtr[k]
            nRe[o.gamma + k] += g * ux[k]
            nIm[o.gamma + k] += g * ux[S + k]
            let bRe = nRe + o.bRe + k * i, bIm = nIm + o.bIm + k * i
            for j in 0..<i {
                bRe[j] += g * x[j]
                bIm[j] += g * x[j]
            }
        }
        if l < topRecurrent {
            // M_h = C_re M_re − C_im M_im (two GEMMs), + D ⊙ M^{l-1}_h, + H_p.
            let out = new + S2 * cols
            Scalar.gemm(transA: false, transB: false, m: u, n: cols, k: S, alpha: 1, a: w + o.cRe, lda: S,
                        b: UnsafePointer(new), ldb: cols, beta: 0, c: out, ldc: cols)
            Scalar.gemm(transA: false, transB: false, m: u, n: cols, k: S, alpha: -1, a: w + o.cIm, lda: S,
                        b: UnsafePointer(new + S * cols), ldb: cols, beta: 1, c: out, ldc: cols)
            if let d = o.d, l > 0 {
                OnlineRows.axpy(rows: u, n: below, out, ldd: cols, s: w + d, ss: 1,
                                src: UnsafePointer(rtrlOutputRows(l - 1, lane)), lds: below)
            }
            let s = UnsafePointer(layers.s[l] + lane * S2)
            for k in 0..<u {
                let row = out + k * cols
                let re = row + o.cRe + k * S, im = row + o.cIm + k * S
                for j in 0..<S {
                    re[j] += s[j]
                    im[j] -= s[S + j]
                }
                if let d = o.d { row[d + k] += x[k] }
            }
        }
        swapRTRLBlocks(l, lane, spare)
    }

    /// The rows of lane `lane`'s rtrl block of layer `l` that hold `∂h^l/∂θ` (what the layer
    /// above reads): the block itself, except an lru's output rows after its `2S` state rows.
    @inline(__always)
    func rtrlOutputRows(_ l: Int, _ lane: Int) -> UnsafeMutablePointer<Scalar> {
        let sh = shapes[l]
        return rtrlBlock(l, lane) + (sh.isLRU ? sh.stateSize * rtrl.columns[l] : 0)
    }

    /// rtrl's gradient at an lru top recurrent layer `L` for one lane with error `q` on `h^L`:
    /// `Δθ += cᵀ M_s` with `c = [C_reᵀ q; −C_imᵀ q]`, plus `(D ⊙ q)ᵀ M^{L-1}_h` (the skip), plus
    /// `C`'s and `D`'s immediate gradient (`lruOutputVJP`).
    func rtrlLRUGradient(_ lane: Int, _ w: UnsafePointer<Scalar>) {
        let l = topRecurrent, sh = shapes[l]
        guard let o = sh.lru else { return }
        let u = sh.units, S2 = sh.stateSize, cols = rtrl.columns[l]
        let qL = UnsafePointer(q + lane * u), c = backward.stateCotangent, acc = backward.accumulator
        lruOutputVJP(l, lane, qL, w, stateCot: c, grad: acc, cx: nil)
        Scalar.gemm(transA: false, transB: false, m: 1, n: cols, k: S2, alpha: 1, a: UnsafePointer(c), lda: S2,
                    b: UnsafePointer(rtrlBlock(l, lane)), ldb: cols, beta: 1, c: acc, ldc: cols)
        if let d = o.d, l > 0 {
            let below = rtrl.columns[l - 1], dq = c + S2
            for k in 0..<u { dq[k] = w[d + k] * qL[k] }
            Scalar.gemm(transA: false, transB: false, m: 1, n: below, k: u, alpha: 1, a: UnsafePointer(dq), lda: u,
                        b: UnsafePointer(rtrlOutputRows(l - 1, lane)), ldb: below, beta: 1, c: acc, ldc: below)
        }
    }

    // MARK: - uoro: the lru's share of the pair

    /// uoro's forward-mode step on lru layer `l` for every lane: with `ts = t^{l-1} [B_re; B_im]ᵀ`
    /// (the tangent from below through the input weights, (B, 2S), 0 at layer 0),
    /// `J ã = λ ⊙ ã_s + γ ⊙ ts` (complex) into `uoro.ja`, and the tangent of its output
    /// `t^l = Hs J ã + D ⊙ t^{l-1}` into `out` (B, U), which the layer above reads.
    func uoroLRUTangent(_ l: Int, _ w: UnsafePointer<Scalar>, ts: UnsafePointer<Scalar>, below: UnsafePointer<Scalar>?,
                        belowStride: Int, out: UnsafeMutablePointer<Scalar>) {
        let sh = shapes[l]
        guard let o = sh.lru else { return }
        let b = lanes, u = sh.units, S = sh.complexState, R = sh.rows, stacked = stackedStateSize, off = stateOffset[l]
        let c = UnsafePointer(layers.lruCoefficients[l])
        let lr = c, li = c + S, gamma = c + 2 * S
        for lane in 0..<b {
            let a = UnsafePointer(uoro.a + lane * stacked + off), t = ts + lane * R, ja = uoro.ja + lane * stacked + off
            for k in 0..<S {
                let re = a[k], im = a[S + k]
                ja[k] = lr[k] * re - li[k] * im + gamma[k] * t[k]
                ja[S + k] = li[k] * re + lr[k] * im + gamma[k] * t[S + k]
            }
        }
        let ja = UnsafePointer(uoro.ja + off)
        Scalar.gemm(transA: false, transB: true, m: b, n: u, k: S, alpha: 1, a: ja, lda: stacked, b: w + o.cRe, ldb: S,
                    beta: 0, c: out, ldc: u)
        Scalar.gemm(transA: false, transB: true, m: b, n: u, k: S, alpha: -1, a: ja + S, lda: stacked, b: w + o.cIm, ldb: S,
                    beta: 1, c: out, ldc: u)
        if let d = o.d, let below {
            for lane in 0..<b {
                let row = out + lane * u, tb = below + lane * belowStride
                for k in 0..<u { row[k] += w[d + k] * tb[k] }
            }
        }
    }

    /// uoro's same-step VJP on lru layer `l` for one lane: the cotangent on its state
    /// `c_s = ν^l + Hsᵀ c_h` (`c_h` the cotangent on its output from above, nil at the top), kept
    /// with `c_h` and `−c_h` in `uoro.lruCotangents` and the `B` rows' factors `γ ⊙ c_s` in `uoro.cs`
    /// for `lruUpdateTangentRows`; writes `Jxᵀ c_s + D ⊙ c_h` into `cx` (nil to skip) and returns
    /// the layer's share of `|ν̃|²`, `ν̃ = c_sᵀ I_n + c_hᵀ H_p`:
    /// `Σ_k ν̃_ν,k² + ν̃_θ,k² + ν̃_γ,k² + Σ_r (γ c_s)_r² |x|² + Σ_k c_h,k² |s_n|² + Σ_k (c_h,k x_k)²`.
    func uoroLRUFactors(_ l: Int, _ lane: Int, _ cot: UnsafePointer<Scalar>?, nu: UnsafePointer<Scalar>,
                        _ w: UnsafePointer<Scalar>, cx: UnsafeMutablePointer<Scalar>?) -> Double {
        let sh = shapes[l]
        guard let o = sh.lru else { return 0 }
        let u = sh.units, i = sh.inputs, S = sh.complexState, S2 = 2 * S
        let buffer = uoro.lruCotangents + uoro.lruOffset[l]
        let cs = buffer, ch = buffer + S2, negative = ch + u
        if let cot {
            lruOutputVJP(l, lane, cot, w, stateCot: cs, grad: nil, cx: nil)
            for k in 0..<u { ch[k] = cot[k]; negative[k] = -cot[k] }
        } else {
            cs.update(repeating: 0, count: S2)
            ch.update(repeating: 0, count: 2 * u)
        }
        for r in 0..<S2 { cs[r] += nu[r] }
        let c = UnsafePointer(layers.lruCoefficients[l])
        let gamma = c + 2 * S
        let rows = uoro.cs + uoro.rowOffset[l]
        for k in 0..<S {
            rows[k] = gamma[k] * cs[k]
            rows[S + k] = gamma[k] * cs[S + k]
        }
        let x = UnsafePointer(layerInput(l) + lane * i)
        var total = 0.0
        for k in 0..<S {
            let own = lruOwnNoise(l, lane, k, UnsafePointer(cs))
            total += Double(own.nu) * Double(own.nu) + Double(own.theta) * Double(own.theta) + Double(own.gamma) * Double(own.gamma)
        }
        total += Self.sumOfSquares(UnsafePointer(rows), S2) * Self.sumOfSquares(x, i)
        if cot != nil {
            total += Self.sumOfSquares(UnsafePointer(ch), u) * Self.sumOfSquares(UnsafePointer(layers.s[l] + lane * S2), S2)
            if o.d != nil { for k in 0..<u { let v = Double(ch[k]) * Double(x[k]); total += v * v } }
        }
        if let cx {
            sendDown(l, cs: UnsafePointer(rows), w, into: cx)
            if let d = o.d, let cot { for k in 0..<u { cx[k] += w[d + k] * cot[k] } }
        }
        return total
    }

    /// `ν̃` on entry `k` of lru layer `l`'s `nu_log`, `theta_log`, `gamma_log` for one lane, from the
    /// cotangent `cs` on its state: `Re(conj(G_k) ∂s_k/∂p)` with `∂s_k/∂ν_k = s_{n-1,k} ∂λ_k/∂ν_k`,
    /// `∂s_k/∂θ_k = s_{n-1,k} ∂λ_k/∂θ_k`, `∂s_k/∂gamma_log_k = γ_k u_k`.
    @inline(__always)
    func lruOwnNoise(_ l: Int, _ lane: Int, _ k: Int, _ cs: UnsafePointer<Scalar>) -> (nu: Scalar, theta: Scalar, gamma: Scalar) {
        let S = shapes[l].complexState, S2 = 2 * S
        let c = UnsafePointer(layers.lruCoefficients[l])
        let sp = UnsafePointer(layers.sPrev[l] + lane * S2), ux = UnsafePointer(layers.pre[l] + lane * S2)
        let cr = cs[k], ci = cs[S + k], spr = sp[k], spi = sp[S + k]
        let dnr = c[3 * S + k], dni = c[4 * S + k], dtr = c[5 * S + k], dti = c[6 * S + k]
        let nu = cr * (spr * dnr - spi * dni) + ci * (spr * dni + spi * dnr)
        let theta = cr * (spr * dtr - spi * dti) + ci * (spr * dti + spi * dtr)
        let gamma = c[2 * S + k] * (cr * ux[k] + ci * ux[S + k])
        return (nu, theta, gamma)
    }

    /// `θ̃ ← θ̃ · inv0 + ν̃ · inv1` on lru layer `l`'s block of one lane's `θ̃`, from what
    /// `uoroLRUFactors` left: the own entries one by one, `[B_re; B_im]` as `2S` rows
    /// (`γ c_s ⊗ x`), `C_re` (`c_h ⊗ s_re`), `C_im` (`−c_h ⊗ s_im`), `D` (`c_h ⊙ x`). Returns the
    /// block's new `|θ̃|²`.
    func lruUpdateTangentRows(_ l: Int, _ lane: Int, _ theta: UnsafeMutablePointer<Scalar>,
                              inv0: UnsafePointer<Scalar>, inv1: Scalar) -> Double {
        let sh = shapes[l]
        guard let o = sh.lru else { return 0 }
        let u = sh.units, i = sh.inputs, S = sh.complexState, S2 = 2 * S
        let buffer = uoro.lruCotangents + uoro.lruOffset[l]
        let cs = UnsafePointer(buffer), ch = buffer + S2, negative = ch + u
        let rows = uoro.cs + uoro.rowOffset[l]
        let i0 = inv0.pointee
        var squares = 0.0
        for k in 0..<S {
            let own = lruOwnNoise(l, lane, k, cs)
            let a = theta[o.nu + k] * i0 + own.nu * inv1
            let b = theta[o.theta + k] * i0 + own.theta * inv1
            let g = theta[o.gamma + k] * i0 + own.gamma * inv1
            theta[o.nu + k] = a; theta[o.theta + k] = b; theta[o.gamma + k] = g
            squares += Double(a) * Double(a) + Double(b) * Double(b) + Double(g) * Double(g)
        }
        for r in 0..<S2 { rows[r] *= inv1 }
        for k in 0..<(2 * u) { ch[k] *= inv1 }
        let x = UnsafePointer(layerInput(l) + lane * i), s = UnsafePointer(layers.s[l] + lane * S2)
        squares += OnlineRows.update(rows: S2, n: i, theta + sh.sw, ldm: i, a: inv0, sa: 0, d: UnsafePointer(rows), sd: 1,
                                     v: x, norm: true)
        squares += OnlineRows.update(rows: u, n: S, theta + o.cRe, ldm: S, a: inv0, sa: 0, d: UnsafePointer(ch), sd: 1,
                                     v: s, norm: true)
        squares += OnlineRows.update(rows: u, n: S, theta + o.cIm, ldm: S, a: inv0, sa: 0, d: UnsafePointer(negative), sd: 1,
                                     v: s + S, norm: true)
        if let d = o.d {
            squares += OnlineRows.update(rows: u, n: 1, theta + d, ldm: 1, a: inv0, sa: 0, d: UnsafePointer(ch), sd: 1,
                                         v: x, sv: 1, norm: true)
        }
        return squares
    }

    /// uoro's `q · ã` for one lane at a target step when the top recurrent layer is an lru:
    /// walking down from `L` with the error `c` on an output, an lru adds `(Hsᵀ c) · ã_s` and its
    /// `C`, `D` get their exact immediate gradient; its skip sends `D ⊙ c` on down through this
    /// step (a dense layer: its exact same-step gradient) to the next recurrent layer, whose
    /// state then adds `c · ã[h]` (another lru: again through its output map).
    func uoroLRUGradientFactor(_ lane: Int, _ w: UnsafePointer<Scalar>) -> Scalar {
        var cot = backward.cotangent, below = backward.cotangentBelow
        let stacked = stackedStateSize, acc = backward.accumulator
        cot.update(from: q + lane * shapes[topRecurrent].units, count: shapes[topRecurrent].units)
        var dot: Scalar = 0
        var l = topRecurrent
        while l >= 0 {
            let sh = shapes[l]
            let a = UnsafePointer(uoro.a + lane * stacked + max(stateOffset[l], 0))
            if let o = sh.lru {
                let c = backward.stateCotangent
                lruOutputVJP(l, lane, UnsafePointer(cot), w, stateCot: c, grad: acc, cx: nil)
                for r in 0..<sh.stateSize { dot += c[r] * a[r] }
                guard let d = o.d, l > 0 else { break }
                for k in 0..<sh.units { below[k] = w[d + k] * cot[k] }
            } else if sh.isRecurrent {
                for k in 0..<sh.units { dot += cot[k] * a[k] }
                break
            } else {
                layerVJP(l, lane, UnsafePointer(cot), w, grad: acc, cx: l > 0 ? below : nil)
                if l == 0 { break }
            }
            swap(&cot, &below)
            l -= 1
        }
        return dot
    }
}
