/// SnAp-1 and RFLO: one influence per recurrent layer, over its own parameters, with the
/// structural SnAp-1 pattern (notes 2.3, 2.4; the same definition as
/// `Tests/Reference/online_reference.py`).
///
/// Per lane, `M̄^l` is `(S, G, C)`: state row `s` (unit `k = s mod U`: `h_k`, and `c_k` for lstm)
/// × unit `k`'s gate rows `r = gU + k` × the `C` columns of such a row (`W_s` row: `I`, `W_t` row:
/// `U`, then `b` — or `b_s`, `b_t` for gated layers). The pattern is fixed, never computed from
/// values, so a zero input cannot wipe a carried entry. In memory an rnn layer's lanes' copies of a
/// row are adjacent, `(S, G, B, C)`, a gated layer's lanes one after the other, `(B, S, G, C)`
/// (`Shape.influenceStrides`; `C` padded to `blockStride`).
/// ```
/// snap1:  M̄_n[s, g, :] = Σ_{s' ∈ unit k} J_n[s, s'] M̄_{n-1}[s', g, :] + I_n[s, g, :]
///         J[s, h_k] = Σ_g Dt[s, g] TW[gU + k, k]  (+ self[s] where s' = src(s))
///         rnn: M̄_n[k, j] = σ'(z_{n,k}) (TW[k, k] M̄_{n-1}[k, j] + â_{n,j})
/// rflo:   M̄_n = λ M̄_{n-1} + I_n        (rnn only: B_n = λ B_{n-1} + σ'(z_n) â_nᵀ)
/// I_n[s, g, :] = [Ds[s,g] x ; Dt[s,g] h_{n-1} ; Ds[s,g] ; Dt[s,g]]
/// ```
/// Gradient at a target step, top-down with the error through the same step only:
/// `ΔWc^l[r, :] += Σ_{s ∈ unit k} q^l_s M̄^l[s, g, :]`, `q^{l-1} = Jx^lᵀ q^l` (`q` on `h`, 0 on `c`);
/// dense layers anywhere get their exact same-step gradient `q^dᵀ I^d`.
///
/// Cost per step and lane: `≈ (S/U)² · P` for the carry (rnn `2P`, lstm `8P`) plus `≈ 2P` for the
/// gradient and the error sent down; memory `(S/U) · P`.
extension OnlineGradient {
    /// Every active lane's M̄ of every recurrent layer one step on (and, at a target, the lanes'
    /// errors on each layer, `perLayerErrors`), with each layer's gradient summed over the lanes,
    /// `ΔW[gU + k, :] += Σ_lanes q_k M̄_n[h_k, g, :]`. An rnn layer does both in one pass over its
    /// rows (`OnlineRows.carry`); a gated layer carries lane by lane, then sums block by block
    /// (the lanes' M̄ read once, each gradient row written once).
    func perLayerAdvance(_ w: UnsafePointer<Scalar>) {
        var targets = false, count = 0
        for lane in 0..<lanes {
            if readout.hasTarget[lane] {
                perLayerErrors(w, lane)
                targets = true
            } else {
                (perLayer.errors + lane * stackedStateSize).update(repeating: 0, count: stackedStateSize)
            }
            if layers.active[lane] {
                perLayer.activeLanes[count] = lane
                count += 1
            }
        }
        for (l, sh) in shapes.enumerated() {
            guard let Mb = perLayer.m[l] else { continue }
            if sh.isLRU {
                lruCarry(l, count: count, targets: targets)
                continue
            }
            if !sh.isGated {
                rnnCarry(l, w, count: count, targets: targets)
                continue
            }
            for q in 0..<count { perLayerCarry(l, perLayer.activeLanes[q], w) }
            guard targets else { continue }
            let acc = backward.accumulator
            let u = sh.units, i = sh.inputs, G = sh.gates
            let errors = UnsafePointer(perLayer.errors + stateOffset[l])
            let rowStride = perLayer.rowStride[l], laneStride = perLayer.laneStride[l]
            // Unit k's row of gate g for the lane at M̄ + (k·G + g)·rowStride + lane·laneStride (h
            // rows only: q is 0 on c).
            for g in 0..<G {
                let rows = UnsafePointer(Mb + g * rowStride)
                func block(_ dst: UnsafeMutablePointer<Scalar>, _ n: Int, _ column: Int) {
                    OnlineRows.weightedSum(rows: u, n: n, dst, ldd: n, terms: lanes, s: errors, st: stackedStateSize, sr: 1,
                                           src: rows + column, lt: laneStride, lds: G * rowStride)
                }
                block(acc + sh.sw + g * u * i, i, 0)
                block(acc + sh.tw + g * u * u, u, i)
                block(acc + sh.b + g * u, 1, i + u)
                block(acc + sh.bt + g * u, 1, i + u + 1)
            }
        }
    }

    /// An rnn layer's M̄ one step on for the `count` lanes in `perLayer.activeLanes`, and with `targets`
    /// its gradient summed over them:
    /// `M̄_n[k, :] = a_k M̄_{n-1}[k, :] + σ'(z_{n,k}) [x; h_{n-1}; 1]`, `a_k = σ'(z_{n,k}) TW[k, k]`
    /// (snap1) or `λ` (rflo); `ΔW[k, :] += Σ_lanes q_k M̄_n[k, :]`.
    func rnnCarry(_ l: Int, _ w: UnsafePointer<Scalar>, count: Int, targets: Bool) {
        let sh = shapes[l]
        guard let Mb = perLayer.m[l], count > 0 else { return }
        if sh.isDiagonal {
            diagonalCarry(l, w, count: count, targets: targets)
            return
        }
        let u = sh.units, i = sh.inputs, C = sh.blockStride, ldv = perLayer.inputStride
        // Each lane's [x; h_{n-1}; 1].
        let x = layerInput(l), hp = layers.hPrev[l]
        for q in 0..<count {
            let lane = perLayer.activeLanes[q]
            let v = perLayer.inputs + lane * ldv
            v.update(from: x + lane * i, count: i)
            (v + i).update(from: hp + lane * u, count: u)
            v[i + u] = 1
        }
        var diag: UnsafePointer<Scalar>? = nil
        if algorithm == .snap1 {
            let tw = w + sh.tw
            for k in 0..<u { perLayer.recurrentDiagonal[k] = tw[k * u + k] }
            diag = UnsafePointer(perLayer.recurrentDiagonal)
        }
        // The row's i + u + 1 columns, not its padding (which stays 0): the carry's cost is its
        // multiply-adds, and the bias column alone would take a whole vector.
        let g = perLayer.gradientRows
        OnlineRows.carry(rows: u, n: i + u + 1, lanes: perLayer.activeLanes, count: count, Mb, ldr: perLayer.rowStride[l],
                         ldl: perLayer.laneStride[l],
                         d: layers.ds[l], sdt: u, diag: diag, lambda: Scalar(rfloDecay), v: perLayer.inputs, ldv: ldv,
                         e: targets ? UnsafePointer(perLayer.errors + stateOffset[l]) : nil, set: stackedStateSize,
                         g: g, ldg: C)
        guard targets else { return }
        let acc = backward.accumulator, one = UnsafePointer(backward.one)
        OnlineRows.axpy(rows: u, n: i, acc + sh.sw, ldd: i, s: one, ss: 0, src: g, lds: C)
        OnlineRows.axpy(rows: u, n: u, acc + sh.tw, ldd: u, s: one, ss: 0, src: g + i, lds: C)
        OnlineRows.axpy(rows: u, n: 1, acc + sh.b, ldd: 1, s: one, ss: 0, src: g + i + u, lds: C)
    }

    /// An indrnn layer's M̄ one step on (`rnnCarry`'s rule with `TW = diag(w_t)`): unit `k`'s row is
    /// `[W_s row k | w_t[k] | b[k]]`, and since `J = diag(σ'(z) ⊙ w_t)` keeps SnAp-1's pattern, snap1
    /// is the layer's exact influence here (SPEC 3.5):
    /// `M̄_n[k, :] = a_k M̄_{n-1}[k, :] + σ'(z_{n,k}) [x; h_{n-1,k}; 1]`, `a_k = σ'(z_{n,k}) w_t[k]`
    /// (snap1) or `λ` (rflo). The `W_s` columns run in the row kernel (`v = x`, shared by the rows);
    /// the two columns whose input is the row's own (`h_{n-1,k}`, 1) in a loop.
    func diagonalCarry(_ l: Int, _ w: UnsafePointer<Scalar>, count: Int, targets: Bool) {
        let sh = shapes[l]
        guard let Mb = perLayer.m[l] else { return }
        let u = sh.units, i = sh.inputs, C = sh.blockStride, ldv = perLayer.inputStride
        let wt = w + sh.tw
        let x = layerInput(l), hp = layers.hPrev[l]
        for q in 0..<count {
            let lane = perLayer.activeLanes[q]
            (perLayer.inputs + lane * ldv).update(from: x + lane * i, count: i)
        }
        let snap = algorithm == .snap1, lambda = Scalar(rfloDecay)
        let errors = targets ? UnsafePointer(perLayer.errors + stateOffset[l]) : nil
        let g = perLayer.gradientRows
        let rowStride = perLayer.rowStride[l], laneStride = perLayer.laneStride[l]
        OnlineRows.carry(rows: u, n: i, lanes: perLayer.activeLanes, count: count, Mb, ldr: rowStride, ldl: laneStride,
                         d: layers.ds[l], sdt: u, diag: snap ? wt : nil, lambda: lambda, v: perLayer.inputs, ldv: ldv,
                         e: errors, set: stackedStateSize, g: g, ldg: C)
        for k in 0..<u {
            var gw: Scalar = 0, gb: Scalar = 0
            for q in 0..<count {
                let lane = perLayer.activeLanes[q]
                let d = layers.ds[l][lane * u + k]
                let a = snap ? d * wt[k] : lambda
                let row = Mb + k * rowStride + lane * laneStride
                row[i] = a * row[i] + d * hp[lane * u + k]
                row[i + 1] = a * row[i + 1] + d
                if let errors {
                    let e = errors[lane * stackedStateSize + k]
                    gw += e * row[i]
                    gb += e * row[i + 1]
                }
            }
            g[k * C + i] = gw
            g[k * C + i + 1] = gb
        }
        guard targets else { return }
        let acc = backward.accumulator, one = UnsafePointer(backward.one)
        OnlineRows.axpy(rows: u, n: i, acc + sh.sw, ldd: i, s: one, ss: 0, src: g, lds: C)
        OnlineRows.axpy(rows: u, n: 1, acc + sh.tw, ldd: 1, s: one, ss: 0, src: g + i, lds: C)
        OnlineRows.axpy(rows: u, n: 1, acc + sh.b, ldd: 1, s: one, ss: 0, src: g + i + 1, lds: C)
    }

    /// `M̄^l_n` of one lane from `M̄^l_{n-1}`, for a gated layer (lstm, gru).
    func perLayerCarry(_ l: Int, _ lane: Int, _ w: UnsafePointer<Scalar>) {
        let lambda = Scalar(rfloDecay)
        let snap = algorithm == .snap1
        let sh = shapes[l]
        guard let Mb = perLayer.m[l] else { return }
        let u = sh.units, i = sh.inputs, G = sh.gates, S = sh.stateSize
        let onCell = sh.directDependence == .sameUnitCell, onHidden = sh.directDependence == .sameUnitHidden
        let rowStride = perLayer.rowStride[l]
        let tw = w + max(sh.tw, 0)
        let aHH = backward.rowScratchS  // (U) the carry factor of unit k's rows (gru)
        let d = layers.ds[l] + lane * S * G, e = layers.dt[l] + lane * S * G, sc = layers.selfCoef[l] + lane * S
        let x = layerInput(l) + lane * i
        let hp = layers.hPrev[l] + lane * u
        // The lane's (state row, gate) row r at base + r·rowStride.
        let base = Mb + lane * perLayer.laneStride[l]
        if !onCell {
            // gru: M̄_n[k, g, :] = a_k M̄_{n-1}[k, g, :] + [Ds[k,g] x ; Dt[k,g] h_{n-1} ; Ds[k,g] ; Dt[k,g]],
            // a_k = J[h_k, h_k] = Σ_g Dt[k, g] TW[gU + k, k] + z_k for snap1, λ for rflo.
            for k in 0..<u {
                var a = lambda
                if snap {
                    a = 0
                    for g in 0..<G { a += e[k * G + g] * tw[(g * u + k) * u + k] }
                    if onHidden { a += sc[k] }
                }
                aHH[k] = a
            }
            let a = UnsafePointer(aHH), one = UnsafePointer(backward.one)
            for g in 0..<G {
                let rows = base + g * rowStride  // unit k's row of gate g at rows + k·G·rowStride
                let ldm = G * rowStride
                OnlineRows.update(rows: u, n: i, rows, ldm: ldm, a: a, sa: 1, d: d + g, sd: G, v: x)
                OnlineRows.update(rows: u, n: u, rows + i, ldm: ldm, a: a, sa: 1, d: e + g, sd: G, v: hp)
                OnlineRows.update(rows: u, n: 1, rows + i + u, ldm: ldm, a: a, sa: 1, d: d + g, sd: G, v: one)
                OnlineRows.update(rows: u, n: 1, rows + i + u + 1, ldm: ldm, a: a, sa: 1, d: e + g, sd: G, v: one)
            }
            return
        }
        for k in 0..<u {
            // lstm: the per-unit block of J (snap1) or λI (rflo) couples rows h_k and c_k:
            // J[h_k, h_k] = Σ_g Dt[h_k, g] TW[gU + k, k], J[h_k, c_k] = self[h_k],
            // J[c_k, h_k] = Σ_g Dt[c_k, g] TW[gU + k, k], J[c_k, c_k] = self[c_k].
            let sH = k, sC = u + k
            var aHH = lambda, aHC: Scalar = 0, aCH: Scalar = 0, aCC = lambda
            if snap {
                aHH = 0
                for g in 0..<G { aHH += e[sH * G + g] * tw[(g * u + k) * u + k] }
                aHC = sc[sH]
                aCH = 0
                for g in 0..<G { aCH += e[sC * G + g] * tw[(g * u + k) * u + k] }
                aCC = sc[sC]
            }
            // M̄_n = J M̄_{n-1} + I_n, in place, one pass per gate row.
            for g in 0..<G {
                let dsH = d[sH * G + g], dtH = e[sH * G + g]
                let oh = base + (sH * G + g) * rowStride
                let dsC = d[sC * G + g], dtC = e[sC * G + g]
                let oc = base + (sC * G + g) * rowStride
                for j in 0..<i {
                    let ph = oh[j], pc = oc[j], xj = x[j]
                    oh[j] = aHH * ph + aHC * pc + dsH * xj
                    oc[j] = aCH * ph + aCC * pc + dsC * xj
                }
                for j in 0..<u {
                    let ph = oh[i + j], pc = oc[i + j], hj = hp[j]
                    oh[i + j] = aHH * ph + aHC * pc + dtH * hj
                    oc[i + j] = aCH * ph + aCC * pc + dtC * hj
                }
                let jb = i + u, jt = i + u + 1  // b_s, b_t
                let phb = oh[jb], pcb = oc[jb], pht = oh[jt], pct = oc[jt]
                oh[jb] = aHH * phb + aHC * pcb + dsH
                oc[jb] = aCH * phb + aCC * pcb + dsC
                oh[jt] = aHH * pht + aHC * pct + dtH
                oc[jt] = aCH * pht + aCC * pct + dtC
            }
        }
    }

    /// One lane's errors at a target step, top-down from `q` on `h^L` through the same step only:
    /// `q^l` on each recurrent layer's `h` into the lane's row of `perLayer.errors` (at the layer's
    /// state offset; 0 on an lstm's c),
    /// `q^{l-1} = Jx^lᵀ q^l`; a dense layer between gets its exact same-step gradient `q^dᵀ I^d`.
    func perLayerErrors(_ w: UnsafePointer<Scalar>, _ lane: Int) {
        var cot = backward.cotangent, below = backward.cotangentBelow
        // The error on h^L, padded with 0 on an lstm's c.
        let topShape = shapes[topRecurrent]
        cot.update(from: q + lane * topShape.units, count: topShape.units)
        for l in stride(from: topRecurrent, through: 0, by: -1) {
            let sh = shapes[l]
            let u = sh.units
            if sh.hasCell { (cot + u).update(repeating: 0, count: u) }
            if sh.isLRU {
                // The error on its state, C's and D's exact gradient, and the error below.
                lruOutputVJP(l, lane, UnsafePointer(cot), w, stateCot: perLayer.errors + lane * stackedStateSize + stateOffset[l],
                             grad: backward.accumulator, cx: l > 0 ? below : nil)
            } else if sh.isRecurrent {
                (perLayer.errors + lane * stackedStateSize + stateOffset[l]).update(from: cot, count: sh.stateSize)
                if l > 0 { layerVJP(l, lane, UnsafePointer(cot), w, grad: nil, cx: below) }
            } else {
                layerVJP(l, lane, UnsafePointer(cot), w, grad: backward.accumulator, cx: l > 0 ? below : nil)
            }
            swap(&cot, &below)
        }
    }
}
