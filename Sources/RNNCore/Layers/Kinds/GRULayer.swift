import RNNKernels

/// `gru`: PyTorch `nn.GRU` (one layer), gates in the order r, z, n (SPEC 2). Parameters `W_s`
/// (3U × I), `W_t` (3U × U), `b_s`, `b_t` (3U): PyTorch's `weight_ih_l0`, `weight_hh_l0`,
/// `bias_ih_l0`, `bias_hh_l0`; initialisation uniform in `±1/sqrt(U)`. State `h` (S = U).
/// ```
/// r = σ(SW_r·x_m + b_sr + TW_r·h_{m-1} + b_tr);   z = σ(SW_z·x_m + b_sz + TW_z·h_{m-1} + b_tz)
/// n = tanh(SW_n·x_m + b_sn + r ⊙ (TW_n·h_{m-1} + b_tn));   h_m = (1 − z)⊙n + z⊙h_{m-1}
/// ```
/// Backward (the cell's step; `GatedLayer` adds `TWᵀ Delta_h` and the weight gradients):
/// ```
/// dh_m = E^l_m + TWᵀ Delta_h,{m+1} + z_{m+1} ⊙ dh_{m+1}
/// delta_{n,x} = dh ⊙ (1 − z) ⊙ (1 − n²)     (SW_n, b_sn side)
/// delta_{n,h} = delta_{n,x} ⊙ r              (TW_n, b_tn side)
/// delta_r = delta_{n,x} ⊙ (TW_n·h_{m-1} + b_tn) ⊙ σ'(r)   delta_z = dh ⊙ (h_{m-1} − n) ⊙ σ'(z)
/// ```
/// `Delta_x = (delta_r, delta_z, delta_{n,x})`, `Delta_h = (delta_r, delta_z, delta_{n,h})`; delta
/// rows `[r z n_h n_x]`.
enum GRULayer: GatedLayerDefinition {
    static let traits = LayerTraits(gates: 3, isRecurrent: true, isGated: true, statePerUnit: 1, auxPerUnit: 4,
                                    deltaPerUnit: 4, directDependence: .sameUnitHidden,
                                    inputDeltaBlocks: .gru)
    static var foldsBiasInCell: Bool { false }
    static func recurrentBiasColumnsBeforeCell(units u: Int) -> Int { 2 * u }
    static var recurrentErrorAccumulates: Bool { true }

    /// Online step (`OnlineGradient`): `a_s = b_s + x W_sᵀ`, `a_t = b_t + h_{n-1} W_tᵀ`, the gates,
    /// `h`, and per unit `k` the local derivatives `dn = (1 - z) tanh'(n)`,
    /// `dr = dn (TW_n h + b_tn) σ'(r)`, `dz = (h_{n-1} - n) σ'(z)`: `Ds = [dr, dz, dn]`,
    /// `Dt = [dr, dz, dn r]`, `self[h_k] = z_k` (on `h_{n-1,k}`).
    static func onlineStep<Scalar: RNNScalar>(_ engine: OnlineGradient<Scalar>, layer l: Int, _ w: UnsafePointer<Scalar>) {
        let layers = engine.layers, sh = engine.shapes[l]
        let b = engine.lanes, u = sh.units, i = sh.inputs, r = sh.rows
        let x = UnsafePointer(engine.layerInput(l))
        let p = layers.pre[l]  // (B, 2R): [a_s (3U) | a_t (3U)]
        let w2 = 2 * r
        for lane in 0..<b {
            let row = p + lane * w2
            for j in 0..<r { row[j] = w[sh.b + j]; row[r + j] = w[sh.bt + j] }
        }
        engine.timesWeightsTransposed(l, recurrent: false, m: b, a: x, lda: i, w, beta: 1, c: p, ldc: w2)
        engine.timesWeightsTransposed(l, recurrent: true, m: b, a: UnsafePointer(layers.hPrev[l]), lda: u, w, beta: 1,
                               c: p + r, ldc: w2)
        for lane in 0..<b {
            let row = p + lane * w2, at = row + r
            // row[0..<2U] ← σ(a_s + a_t) for r, z; row[2U..<3U] ← tanh(a_sn + r (a_tn))
            for j in 0..<(2 * u) { row[j] += at[j] }
            Scalar.sigmoidInPlace(row, count: 2 * u)
            for k in 0..<u { row[2 * u + k] += row[k] * at[2 * u + k] }
            Scalar.tanhInPlace(row + 2 * u, count: u)
            let hp = layers.hPrev[l] + lane * u, hn = layers.h[l] + lane * u
            let d = layers.ds[l] + lane * u * 3, e = layers.dt[l] + lane * u * 3, sc = layers.selfCoef[l] + lane * u
            for k in 0..<u {
                let rg = row[k], zg = row[u + k], ng = row[2 * u + k]
                hn[k] = (1 - zg) * ng + zg * hp[k]
                let dn = (1 - zg) * (1 - ng * ng)
                let dr = dn * at[2 * u + k] * rg * (1 - rg)
                let dz = (hp[k] - ng) * zg * (1 - zg)
                d[k * 3] = dr; d[k * 3 + 1] = dz; d[k * 3 + 2] = dn
                e[k * 3] = dr; e[k * 3 + 1] = dz; e[k * 3 + 2] = dn * rg
                sc[k] = zg
            }
        }
    }

    /// `TWᵀ Delta_h_{m+1}`, then `h_{m+1} = (1 - z) ⊙ n + z ⊙ h_m`: `dh_m += z_{m+1} ⊙ dh_{m+1}`,
    /// downward in `m`.
    static func addRecurrentStateError<Scalar: RNNScalar>(_ bptt: TruncatedBPTT<Scalar>, layer l: Int,
                                                          dh x: UnsafeMutablePointer<Scalar>, from r0: Int, to t: Int) {
        bptt.addMatrixRecurrenceError(layer: l, dh: x, from: r0, to: t)
        let network = bptt.network
        let b = network.lanes, u = network.spec.layers[l].units
        let aw = network.auxWidth[l]
        for m in stride(from: t - 1, through: r0, by: -1) {
            let gates = UnsafePointer(network.auxSlot(l, m + 1))
            let dm = x + (m - r0) * b * u, next = UnsafePointer(dm + b * u)
            for r in 0..<b {
                let z = gates + r * aw + u
                for j in 0..<u { dm[r * u + j] += z[j] * next[r * u + j] }
            }
        }
    }

    /// `scratch = h_{m-1} · TWᵀ` (B, 3U), then the cell (float32 on AVX-512: one vectorised pass).
    @inline(__always)
    static func forwardStep<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, step m: Int,
                                               biasSum: UnsafePointer<Scalar>?, vectorised: Bool) {
        let b = network.lanes, u = network.spec.layers[l].units, gu = 3 * u
        let e = network.layout.entries[l]
        let w = network.params.baseAddress!
        let g = network.auxSlot(l, m)                                           // (B, aw)
        let hPrev = UnsafePointer(network.slot(network.h[l], l, m - 1))         // (B, U)
        let hOut = network.slot(network.h[l], l, m)                             // (B, U)
        let scratch = network.gatedScratch.baseAddress!                         // TW·h_{m-1}, (B, 3U)
        GatedLayer.recurrentProduct(network, layer: l, hPrev, into: scratch, ldc: gu, accumulate: false)
        GRUCell.forward(g, recurrent: UnsafePointer(scratch), recurrentStride: gu, bt: UnsafePointer(w + e.bt!),
                        hPrev: hPrev, h: hOut, lanes: b, units: u, stride: network.auxWidth[l], vectorised: vectorised)
    }

    @inline(__always)
    static func backwardStep<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, step m: Int,
                                                delta dm: UnsafeMutablePointer<Scalar>, deltaStride dw: Int,
                                                dhNext: UnsafeMutablePointer<Scalar>, dcNext: UnsafeMutablePointer<Scalar>,
                                                biasGradient: UnsafeMutablePointer<Scalar>?, vectorised: Bool) {
        GRUCell.backward(gates: UnsafePointer(network.auxSlot(l, m)), hPrev: UnsafePointer(network.slot(network.h[l], l, m - 1)),
                         delta: dm, deltaStride: dw, dhNext: dhNext, lanes: network.lanes,
                         units: network.spec.layers[l].units, stride: network.auxWidth[l], vectorised: vectorised)
    }
}

/// The GRU cell of one step over `B` lanes, after the input side and the recurrence product are
/// formed. Rows of `g` (B, stride ≥ 4U): `[r z n | TW_n·h_{m-1} + b_tn]`; on entry the first 3U
/// columns hold `SW·x_m + b_s` plus `b_t` on r and z; `s` (B, 3U, stride ls) holds `TW·h_{m-1}`.
/// ```
/// forward:  r = σ(·_r + s_r);  z = σ(·_z + s_z);  n = tanh(·_n + r ⊙ (s_n + b_tn));  h_m = (1 − z)⊙n + z⊙h_{m-1}
/// backward: dh = E + dhNext;  delta_{n,x} = dh ⊙ (1 − z) ⊙ (1 − n²);  delta_{n,h} = delta_{n,x} ⊙ r
///           delta_r = delta_{n,x} ⊙ (TW_n·h_{m-1} + b_tn) ⊙ σ'(r);  delta_z = dh ⊙ (h_{m-1} − n) ⊙ σ'(z)
///           dhNext ← dh ⊙ z   (the direct path; the caller adds `TWᵀ Delta_h` for step m − 1)
/// ```
/// Delta rows: `[r z n_h n_x]`. `vectorised` as for `LSTMCell` (`rnn_gru_forward_f32`, `rnn_gru_backward_f32`).
enum GRUCell<Scalar: RNNScalar> {
    @inline(__always)
    static func forward(_ g: UnsafeMutablePointer<Scalar>, recurrent s: UnsafePointer<Scalar>, recurrentStride ls: Int,
                        bt: UnsafePointer<Scalar>, hPrev: UnsafePointer<Scalar>, h hOut: UnsafeMutablePointer<Scalar>,
                        lanes b: Int, units u: Int, stride aw: Int, vectorised: Bool) {
        if vectorised {
            rnn_gru_forward_f32(b, u, f32(g), aw, f32(s), ls, f32(bt + 2 * u), f32(hPrev), f32(hOut), u)
            return
        }
        for r in 0..<b {
            let row = g + r * aw, sr = s + r * ls
            for j in 0..<(2 * u) { row[j] += sr[j] }
            GateSigmoid<Scalar>.apply(row, count: 2 * u)          // r, z
            let hn = row + 3 * u                                  // TW_n·h_{m-1} + b_tn
            for j in 0..<u {
                hn[j] = sr[2 * u + j] + bt[2 * u + j]
                row[2 * u + j] += row[j] * hn[j]
            }
            Scalar.tanhInPlace(row + 2 * u, count: u)             // n
            let hp = hPrev + r * u, hr = hOut + r * u
            for j in 0..<u {
                let z = row[u + j]
                hr[j] = (1 - z) * row[2 * u + j] + z * hp[j]
            }
        }
    }

    @inline(__always)
    static func backward(gates g: UnsafePointer<Scalar>, hPrev: UnsafePointer<Scalar>,
                         delta dm: UnsafeMutablePointer<Scalar>, deltaStride dw: Int,
                         dhNext: UnsafeMutablePointer<Scalar>, lanes b: Int, units u: Int, stride aw: Int,
                         vectorised: Bool) {
        if vectorised {
            rnn_gru_backward_f32(b, u, f32(g), aw, f32(hPrev), u, f32(dm), dw, f32(dhNext))
            return
        }
        for r in 0..<b {
            let row = g + r * aw, dr = dm + r * dw
            let hp = hPrev + r * u, dhr = dhNext + r * u
            for j in 0..<u {
                let rg = row[j], z = row[u + j], nv = row[2 * u + j], hn = row[3 * u + j]
                let dh = dr[j] + dhr[j]
                let dnx = dh * (1 - z) * (1 - nv * nv)
                dr[j] = dnx * hn * rg * (1 - rg)
                dr[u + j] = dh * (hp[j] - nv) * z * (1 - z)
                dr[2 * u + j] = dnx * rg
                dr[3 * u + j] = dnx
                dhr[j] = dh * z
            }
        }
    }
}
