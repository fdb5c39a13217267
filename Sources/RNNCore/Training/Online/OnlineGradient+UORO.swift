import RNNKernels

/// UORO (Tallec & Ollivier 2018) with one rank-one pair over the whole stack (notes 2.2).
///
/// Per lane: `ã` over the stacked state `[s^{l1}; s^{l2}; …]` (recurrent layers bottom-up, lstm
/// `[h; c]`), `θ̃` over the parameters of layers `0 … L`; `M ≈ ã θ̃ᵀ`. Each step, with `ν` of ±1
/// (`OnlineNoise`, a pure function of (seed, epoch, batch, lane, step)):
/// ```
/// J ã:   one forward-mode step, t^0 = 0, t^l = Jx^l t^{l-1}[h] + J^l ã^l   (dense: Jx t)
/// ν̃ = νᵀ I_n: one same-step VJP, top-down from L, cotangent c^l = ν^l + Jx^{l+1}ᵀ c^{l+1} (on h)
/// ρ0 = sqrt(|θ̃_{n-1}| / |J ã_{n-1}|)   (1 when either norm is 0)
/// ρ1 = sqrt(|ν̃| / |ν|)                 (1 when |ν̃| = 0)
/// ã_n = ρ0 J ã_{n-1} + ρ1 ν,   θ̃_n = θ̃_{n-1} / ρ0 + ν̃ / ρ1
/// Δθ += (q_m · ã^L_m[h]) θ̃_m          at a target step
/// ```
/// How it runs: `J ã` for all lanes at once (per layer two GEMMs, `ã^l[h] TWᵀ` and the tangent from
/// below times `SWᵀ`, then the per-unit combination); per lane, `ν̃` is never formed: it is a sum
/// of outer products (`ν̃[W_s row r] = cs_r x`, `ν̃[W_t row r] = ct_r h_{n-1}`, `ν̃[b_s row r] = cs_r`,
/// `ν̃[b_t row r] = ct_r` with `cs = Dsᵀ c`, `ct = Dtᵀ c` per row), so
/// `|ν̃|² = Σ_l Σ_r cs_r² (|x^l|² + 1) + ct_r² (|h^l_{n-1}|² + [gated])` and the pair update
/// `θ̃ ← θ̃ / ρ0 + ν̃ / ρ1` is one row kernel per block.
///
/// An lru layer (`OnlineGradient+LRU`): its state `[Re s; Im s]` (2S) in `ã` and `ν`; `J ã` the
/// complex `λ ⊙ ã_s + γ ⊙ B t`, the tangent it passes up `Hs J ã + D ⊙ t`; the cotangent on its
/// state `ν^l + Hsᵀ c_h`, with `c_h` (from above) also giving `ν̃` on `C`, `D` (`c_hᵀ H_p`); at an lru
/// top the gradient's factor is `(Hsᵀ q) · ã_s` (plus the skip's `D ⊙ q` on down, and `C`, `D`
/// exact).
///
/// Cost per step and lane: the JVP's share of two GEMMs (`Σ_l R_l (I_l + U_l)`), the VJP's row
/// factors, `≈ P` for the pair update and `≈ P` for the gradient at a target step; memory `S + P`.
extension OnlineGradient {
    func uoroAdvance(_ w: UnsafePointer<Scalar>, _ n: Int) {
        let S = stackedStateSize, cols = influenceColumns, b = lanes
        // J ã for every lane, bottom-up: t^l = Jx^l t^{l-1}[h] + J^l ã^l (dense: Jx t), into uoro.ja.
        var tBelow: UnsafeMutablePointer<Scalar>? = nil  // (B, width of the layer below), row stride tBelowStride
        var tBelowStride = 0
        for l in 0...topRecurrent {
            let sh = shapes[l]
            let u = sh.units, G = sh.gates, R = sh.rows, St = sh.stateSize
            let ts = uoro.rowsS, tt = uoro.rowsT  // (B, R)
            if let t = tBelow {
                timesWeightsTransposed(l, recurrent: false, m: b, a: UnsafePointer(t), lda: tBelowStride, w, beta: 0, c: ts, ldc: R)
            } else {
                ts.update(repeating: 0, count: b * R)
            }
            if sh.isLRU {
                let out = uoro.tangent + (l % 2) * b * maxWidth
                uoroLRUTangent(l, w, ts: UnsafePointer(ts), below: tBelow.map { UnsafePointer($0) }, belowStride: tBelowStride,
                               out: out)
                tBelow = out
                tBelowStride = u
            } else if sh.isRecurrent && !sh.isGated {
                // Ds = Dt: t = σ' ⊙ (tx SWᵀ + ã TWᵀ), the second product added onto the first
                // (indrnn: ã ⊙ w_t).
                let aL = uoro.a + stateOffset[l]
                addRecurrentProduct(l, m: b, a: UnsafePointer(aL), lda: S, w, c: ts, ldc: R)
                for lane in 0..<b {
                    let d = layers.ds[l] + lane * u, tsL = ts + lane * R, out = uoro.ja + lane * S + stateOffset[l]
                    for k in 0..<u { out[k] = d[k] * tsL[k] }
                }
                tBelow = uoro.ja + stateOffset[l]
                tBelowStride = S
            } else if sh.isRecurrent {
                let aL = uoro.a + stateOffset[l]
                timesWeightsTransposed(l, recurrent: true, m: b, a: UnsafePointer(aL), lda: S, w, beta: 0, c: tt, ldc: R)
                for lane in 0..<b {
                    let d = layers.ds[l] + lane * St * G, e = layers.dt[l] + lane * St * G, sc = layers.selfCoef[l] + lane * St
                    let tsL = ts + lane * R, ttL = tt + lane * R
                    let aPrev = aL + lane * S, out = uoro.ja + lane * S + stateOffset[l]
                    for s in 0..<St {
                        let k = s % u
                        var v: Scalar = 0
                        for g in 0..<G { v += d[s * G + g] * tsL[g * u + k] + e[s * G + g] * ttL[g * u + k] }
                        switch sh.directDependence {
                        case .sameUnitCell: v += sc[s] * aPrev[u + k]
                        case .sameUnitHidden: v += sc[s] * aPrev[k]
                        case .none: break
                        }
                        out[s] = v
                    }
                }
                tBelow = uoro.ja + stateOffset[l]
                tBelowStride = S
            } else if tBelow != nil {
                // A dense layer's tangent (alternating halves of uoro.tangent).
                let out = uoro.tangent + (l % 2) * b * maxWidth
                let d = layers.ds[l]
                for j in 0..<(b * u) { out[j] = d[j] * ts[j] }
                tBelow = out
                tBelowStride = u
            }
        }
        uoro.gradientFactors.update(repeating: 0, count: b)
        for lane in 0..<b where layers.active[lane] {
            let a = uoro.a + lane * S, theta = uoro.theta + lane * cols, ja = uoro.ja + lane * S
            let nu = uoro.nu
            // ν, then ν̃ = νᵀ I's row factors top-down: the cotangent of layer l is ν^l plus what
            // the layer above sends down on h.
            OnlineNoise.fill(nu, count: S, seed: noiseSeed, epoch: epoch, batch: batchIndex, lane: lane, step: n)
            var cot = backward.cotangent, below = backward.cotangentBelow
            var haveCot = false
            var nuTildeSquared = 0.0
            for l in stride(from: topRecurrent, through: 0, by: -1) {
                let sh = shapes[l]
                if sh.isLRU {
                    nuTildeSquared += uoroLRUFactors(l, lane, haveCot ? UnsafePointer(cot) : nil, nu: UnsafePointer(nu + stateOffset[l]),
                                                     w, cx: l > 0 ? below : nil)
                    haveCot = true
                    swap(&cot, &below)
                    continue
                }
                if sh.isRecurrent {
                    let off = stateOffset[l]
                    for s in 0..<sh.stateSize {
                        cot[s] = nu[off + s] + (haveCot && s < sh.units ? cot[s] : 0)
                    }
                } else if !haveCot {
                    continue  // a dense layer below every recurrent layer with no cotangent yet: impossible
                }
                nuTildeSquared += rowFactors(l, lane, UnsafePointer(cot), w, cx: l > 0 ? below : nil)
                haveCot = true
                swap(&cot, &below)
            }
            // ρ0 = sqrt(|θ̃_{n-1}| / |J ã|), ρ1 = sqrt(|ν̃| / |ν|).
            let nTheta = uoro.thetaSquares[lane].squareRoot()
            let nNt = nuTildeSquared.squareRoot()
            let nJa = Self.sumOfSquares(ja, S).squareRoot()
            let nNu = Double(S).squareRoot()
            let rho0 = nTheta > 0 && nJa > 0 ? (nTheta / nJa).squareRoot() : 1
            let rho1 = nNt > 0 ? (nNt / nNu).squareRoot() : 1
            let r0 = Scalar(rho0), r1 = Scalar(rho1)
            for s in 0..<S { a[s] = r0 * ja[s] + r1 * nu[s] }
            // θ̃_n = θ̃_{n-1} / ρ0 + ν̃ / ρ1, block by block, with |θ̃_n|².
            var inv0 = Scalar(1 / rho0)
            let inv1 = Scalar(1 / rho1)
            var squares = 0.0
            withUnsafePointer(to: &inv0) { inv0 in
                for l in 0...topRecurrent {  // every layer up to L has its ν̃ block (dense ones too)
                    squares += updateTangentRows(l, lane, theta, inv0: inv0, inv1: inv1)
                }
            }
            uoro.thetaSquares[lane] = squares
            uoro.gradientFactors[lane] = uoroGradientFactor(lane, w)
        }
        // Δθ += Σ_lanes (q · ã_n^L[h]) θ̃_n: one pass over the lanes' θ̃, each gradient entry written once.
        OnlineRows.weightedSum(rows: 1, n: cols, backward.accumulator, ldd: 0, terms: b, s: UnsafePointer(uoro.gradientFactors),
                               st: 1, sr: 0, src: UnsafePointer(uoro.theta), lt: cols, lds: 0)
    }

    /// ν̃'s row factors of layer `l` for one lane, `cs = Dsᵀ cot`, `ct = Dtᵀ cot` (into uoro.cs /
    /// uoro.ct at the layer's rows), `Jxᵀ cot` into `cx` (nil to skip), and returns layer `l`'s
    /// share of `|ν̃|²`: `Σ_r cs_r² (|x|² + 1) + ct_r² (|h_{n-1}|² + [gated])` (no `W_t`, `b_t` for dense).
    func rowFactors(_ l: Int, _ lane: Int, _ cot: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>,
                    cx: UnsafeMutablePointer<Scalar>?) -> Double {
        let sh = shapes[l]
        let u = sh.units, i = sh.inputs, R = sh.rows
        let cs = uoro.cs + uoro.rowOffset[l], ct = uoro.ct + uoro.rowOffset[l]
        weightRowFactors(l, lane, cot, cs: cs, ct: ct)
        let x = layerInput(l) + lane * i
        let xx = Self.sumOfSquares(x, i) + 1
        var total = 0.0
        if sh.isDiagonal {
            // ν̃[w_t k] = ct_k h_{n-1,k}: one entry per row.
            let hp = layers.hPrev[l] + lane * u
            for r in 0..<R {
                let t = Double(ct[r]) * Double(hp[r])
                total += Double(cs[r]) * Double(cs[r]) * xx + t * t
            }
        } else if sh.isRecurrent {
            let hh = Self.sumOfSquares(layers.hPrev[l] + lane * u, u) + (sh.isGated ? 1 : 0)
            for r in 0..<R { total += Double(cs[r]) * Double(cs[r]) * xx + Double(ct[r]) * Double(ct[r]) * hh }
        } else {
            for r in 0..<R { total += Double(cs[r]) * Double(cs[r]) * xx }
        }
        if let cx { sendDown(l, cs: UnsafePointer(cs), w, into: cx) }
        return total
    }

    /// `θ̃ ← θ̃ · inv0 + ν̃ · inv1` on layer `l`'s block of one lane's `θ̃`, from the row factors
    /// `rowFactors` left. Returns the block's new `|θ̃|²`.
    func updateTangentRows(_ l: Int, _ lane: Int, _ theta: UnsafeMutablePointer<Scalar>,
                           inv0: UnsafePointer<Scalar>, inv1: Scalar) -> Double {
        let sh = shapes[l]
        if sh.isLRU { return lruUpdateTangentRows(l, lane, theta, inv0: inv0, inv1: inv1) }
        let u = sh.units, i = sh.inputs, R = sh.rows
        let cs = uoro.cs + uoro.rowOffset[l], ct = uoro.ct + uoro.rowOffset[l]
        for r in 0..<R { cs[r] *= inv1; ct[r] *= inv1 }
        let x = UnsafePointer(layerInput(l) + lane * i), one = UnsafePointer(backward.one)
        func block(_ offset: Int, _ n: Int, _ factors: UnsafeMutablePointer<Scalar>, _ v: UnsafePointer<Scalar>) -> Double {
            OnlineRows.update(rows: R, n: n, theta + offset, ldm: n, a: inv0, sa: 0, d: UnsafePointer(factors), sd: 1, v: v,
                              norm: true)
        }
        var squares = block(sh.sw, i, cs, x) + block(sh.b, 1, cs, one)
        if sh.isDiagonal {
            // θ̃[w_t k] ← θ̃[w_t k] · inv0 + (ct_k / ρ1) h_{n-1,k}: one column, v stepping with the row.
            squares += OnlineRows.update(rows: R, n: 1, theta + sh.tw, ldm: 1, a: inv0, sa: 0, d: UnsafePointer(ct), sd: 1,
                                         v: UnsafePointer(layers.hPrev[l] + lane * u), sv: 1, norm: true)
        } else if sh.isRecurrent {
            squares += block(sh.tw, u, ct, UnsafePointer(layers.hPrev[l] + lane * u))
            if sh.isGated { squares += block(sh.bt, 1, ct, one) }
        }
        return squares
    }

    /// `Σ p[i]²` in float64 (float32: the vector kernel `rnn_sum_squares_f32`; float64: eight
    /// independent partial sums, since a single running sum is a dependency chain).
    @inline(__always)
    static func sumOfSquares(_ p: UnsafePointer<Scalar>, _ n: Int) -> Double {
        if Scalar.self == Float.self {
            return rnn_sum_squares_f32(UnsafeRawPointer(p).assumingMemoryBound(to: Float.self), n)
        }
        var a = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        var i = 0
        while i + 8 <= n {
            let x0 = Double(p[i]), x1 = Double(p[i + 1]), x2 = Double(p[i + 2]), x3 = Double(p[i + 3])
            let x4 = Double(p[i + 4]), x5 = Double(p[i + 5]), x6 = Double(p[i + 6]), x7 = Double(p[i + 7])
            a.0 += x0 * x0; a.1 += x1 * x1; a.2 += x2 * x2; a.3 += x3 * x3
            a.4 += x4 * x4; a.5 += x5 * x5; a.6 += x6 * x6; a.7 += x7 * x7
            i += 8
        }
        while i < n { let x = Double(p[i]); a.0 += x * x; i += 1 }
        return ((a.0 + a.1) + (a.2 + a.3)) + ((a.4 + a.5) + (a.6 + a.7))
    }

    /// `q · ã_n^L[h]` of one lane (0 without a target): the factor of its gradient `Δθ += (q ·
    /// ã^L[h]) θ̃`.
    func uoroGradientFactor(_ lane: Int, _ w: UnsafePointer<Scalar>) -> Scalar {
        guard readout.hasTarget[lane] else { return 0 }
        if shapes[topRecurrent].isLRU { return uoroLRUGradientFactor(lane, w) }
        let u = shapes[topRecurrent].units
        let a = uoro.a + lane * stackedStateSize + stateOffset[topRecurrent], qL = q + lane * u
        var dot: Scalar = 0
        for k in 0..<u { dot += qL[k] * a[k] }
        return dot
    }
}
