import RNNKernels

/// `lstm`: PyTorch `nn.LSTM` (one layer), gates in the order i, f, g, o (SPEC 2). Parameters
/// `W_s` (4U × I), `W_t` (4U × U), `b_s`, `b_t` (4U): PyTorch's `weight_ih_l0`, `weight_hh_l0`,
/// `bias_ih_l0`, `bias_hh_l0`; initialisation uniform in `±1/sqrt(U)` (PyTorch's default). The
/// recurrent state is `[h; c]` (S = 2U); `h_0 = c_0 = 0`.
/// ```
/// i,f,g,o = split(SW·x_m + b_s + TW·h_{m-1} + b_t)
/// c_m = σ(f)⊙c_{m-1} + σ(i)⊙tanh(g);   h_m = σ(o)⊙tanh(c_m)
/// ```
/// Backward (the cell's step; `GatedLayer` adds `TWᵀ delta_{m+1}` and the weight gradients):
/// ```
/// dh_m = E^l_m + TWᵀ delta_{m+1}
/// dc_m = dc_{m+1} ⊙ σ(f_{m+1}) + dh_m ⊙ σ(o) ⊙ (1 − tanh²(c_m))
/// delta_i = dc ⊙ tanh(g) ⊙ σ'(i)   delta_f = dc ⊙ c_{m-1} ⊙ σ'(f)
/// delta_g = dc ⊙ σ(i) ⊙ (1 − tanh²(g))   delta_o = dh ⊙ tanh(c_m) ⊙ σ'(o)
/// ```
/// `Delta_x = Delta_h = (delta_i, delta_f, delta_g, delta_o)`. Truncation cuts `c` with `h`.
enum LSTMLayer: GatedLayerDefinition {
    static let traits = LayerTraits(gates: 4, isRecurrent: true, isGated: true, statePerUnit: 2, auxPerUnit: 6,
                                    deltaPerUnit: 4, directDependence: .sameUnitCell,
                                    inputDeltaBlocks: .contiguous)
    static var foldsBiasInCell: Bool { true }
    static func recurrentBiasColumnsBeforeCell(units u: Int) -> Int { 4 * u }
    static var recurrentErrorAccumulates: Bool { false }

    /// Online step (`OnlineGradient`): the gates from `b_s + b_t + x W_sᵀ + h_{n-1} W_tᵀ`, the cell,
    /// `h`, and per unit `k` the local derivatives
    /// `dc = [g σ'(i), c_{n-1} σ'(f), σ(i) tanh'(g), 0]`, `dh = σ(o) tanh'(c) dc + [0, 0, 0, tanh(c) σ'(o)]`,
    /// `Ds = Dt = [dh; dc]`, `self[h_k] = σ(o) tanh'(c_k) σ(f_k)`, `self[c_k] = σ(f_k)` (on `c_{n-1,k}`).
    static func onlineStep<Scalar: RNNScalar>(_ engine: OnlineGradient<Scalar>, layer l: Int, _ w: UnsafePointer<Scalar>) {
        let layers = engine.layers, sh = engine.shapes[l]
        let b = engine.lanes, u = sh.units, i = sh.inputs, r = sh.rows
        let x = UnsafePointer(engine.layerInput(l))
        let p = layers.pre[l]  // (B, 2R): [pre (4U) | tanh(c) (U)]
        let w2 = 2 * r
        for lane in 0..<b {
            let row = p + lane * w2
            for j in 0..<r { row[j] = w[sh.b + j] + w[sh.bt + j] }
        }
        engine.timesWeightsTransposed(l, recurrent: false, m: b, a: x, lda: i, w, beta: 1, c: p, ldc: w2)
        engine.timesWeightsTransposed(l, recurrent: true, m: b, a: UnsafePointer(layers.hPrev[l]), lda: u, w, beta: 1,
                               c: p, ldc: w2)
        let s = sh.stateSize
        for lane in 0..<b {
            let row = p + lane * w2
            Scalar.sigmoidInPlace(row, count: 2 * u)
            Scalar.tanhInPlace(row + 2 * u, count: u)
            Scalar.sigmoidInPlace(row + 3 * u, count: u)
            let cp = layers.cPrev[l] + lane * u, cn = layers.c[l] + lane * u, hn = layers.h[l] + lane * u
            let tc = row + 4 * u
            for k in 0..<u {
                let cv = row[u + k] * cp[k] + row[k] * row[2 * u + k]
                cn[k] = cv
                tc[k] = cv
            }
            Scalar.tanhInPlace(tc, count: u)
            let d = layers.ds[l] + lane * s * 4, e = layers.dt[l] + lane * s * 4, sc = layers.selfCoef[l] + lane * s
            for k in 0..<u {
                let ig = row[k], fg = row[u + k], gg = row[2 * u + k], og = row[3 * u + k], t = tc[k]
                hn[k] = og * t
                let dcI = gg * ig * (1 - ig), dcF = cp[k] * fg * (1 - fg), dcG = ig * (1 - gg * gg)
                let dhdc = og * (1 - t * t)
                let hRow = d + k * 4, cRow = d + (u + k) * 4
                hRow[0] = dhdc * dcI; hRow[1] = dhdc * dcF; hRow[2] = dhdc * dcG; hRow[3] = t * og * (1 - og)
                cRow[0] = dcI; cRow[1] = dcF; cRow[2] = dcG; cRow[3] = 0
                for g in 0..<4 { e[k * 4 + g] = hRow[g]; e[(u + k) * 4 + g] = cRow[g] }
                sc[k] = dhdc * fg
                sc[u + k] = fg
            }
        }
    }

    /// `g[:, 0 ..< 4U] += h_{m-1} · TWᵀ`, then the cell (float32 on AVX-512, packed panels: the
    /// whole cell in one vectorised pass).
    @inline(__always)
    static func forwardStep<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, step m: Int,
                                               biasSum: UnsafePointer<Scalar>?, vectorised: Bool) {
        let b = network.lanes, u = network.spec.layers[l].units
        let aw = network.auxWidth[l]
        let g = network.auxSlot(l, m)                                           // (B, aw)
        let gPrev = UnsafePointer(network.auxSlot(l, m - 1))                    // (B, aw)
        let hPrev = UnsafePointer(network.slot(network.h[l], l, m - 1))         // (B, U)
        let hOut = network.slot(network.h[l], l, m)                             // (B, U)
        GatedLayer.recurrentProduct(network, layer: l, hPrev, into: g, ldc: aw, accumulate: true)
        LSTMCell.forward(g, previous: gPrev, h: hOut, lanes: b, units: u, stride: aw, bias: biasSum, vectorised: vectorised)
    }

    @inline(__always)
    static func backwardStep<Scalar: RNNScalar>(_ network: Network<Scalar>, layer l: Int, step m: Int,
                                                delta dm: UnsafeMutablePointer<Scalar>, deltaStride dw: Int,
                                                dhNext: UnsafeMutablePointer<Scalar>, dcNext: UnsafeMutablePointer<Scalar>,
                                                biasGradient: UnsafeMutablePointer<Scalar>?, vectorised: Bool) {
        let u = network.spec.layers[l].units
        LSTMCell.backward(gates: UnsafePointer(network.auxSlot(l, m)), previous: UnsafePointer(network.auxSlot(l, m - 1)),
                          delta: dm, deltaStride: dw, dhNext: dhNext, dcNext: dcNext, lanes: network.lanes, units: u,
                          stride: network.auxWidth[l], biasGradient: biasGradient, vectorised: vectorised)
    }
}

/// The LSTM cell of one step over `B` lanes, after the gate pre-activations are formed (SPEC
/// notation as above). Shared by every algorithm that runs a gated layer
/// step by step (truncated BPTT's chunks; the online algorithms' single steps).
///
/// Rows of `g` (B, stride ≥ 6U): `[i f g o | c | tanh(c)]`; on entry the first 4U columns hold
/// `SW·x_m + b_s + TW·h_{m-1} + b_t`.
/// ```
/// forward:  c_m = σ(f)⊙c_{m-1} + σ(i)⊙tanh(g);   h_m = σ(o)⊙tanh(c_m)
/// backward: dh = E + dhNext;   dc = dcNext + dh ⊙ σ(o) ⊙ (1 − tanh²(c_m))
///           delta_i = dc ⊙ tanh(g) ⊙ σ'(i)   delta_f = dc ⊙ c_{m-1} ⊙ σ'(f)
///           delta_g = dc ⊙ σ(i) ⊙ (1 − tanh²(g))   delta_o = dh ⊙ tanh(c_m) ⊙ σ'(o);   dcNext ← dc ⊙ σ(f)
/// ```
/// `vectorised` (float32 only, AVX-512 CPUs: where `RecurrenceProduct.packed` is in use) runs the
/// cell as one C pass (`rnn_lstm_forward_f32`, `rnn_lstm_backward_f32`, tested against naive
/// twins); otherwise the generic loops below (float64, and float32 elsewhere).
///
/// Folded bias work (optional): with `bias` (4U) the rows hold `SW·x_m + TW·h_{m-1}` on entry and
/// the cell adds `b = b_s + b_t` first, `pre = (SW·x + TW·h) + b` (the caller skips filling every
/// row with the bias); with `biasGradient` (4U) the backward adds each delta row to it,
/// `Δb += Σ_lanes delta` (the bias gradient while the deltas are at hand, instead of a pass of
/// column sums over the window's rows).
enum LSTMCell<Scalar: RNNScalar> {
    /// The step forward: gates, cell and `h` (B, U) from `g` and the previous step's rows `gPrev`
    /// (whose column 4U holds `c_{m-1}`).
    @inline(__always)
    static func forward(_ g: UnsafeMutablePointer<Scalar>, previous gPrev: UnsafePointer<Scalar>,
                        h hOut: UnsafeMutablePointer<Scalar>, lanes b: Int, units u: Int, stride aw: Int,
                        bias: UnsafePointer<Scalar>? = nil, vectorised: Bool) {
        if vectorised {
            rnn_lstm_forward_f32(b, u, f32(g), aw, f32(gPrev + 4 * u), f32(hOut), u, bias.map { f32($0) })
            return
        }
        for r in 0..<b {
            let row = g + r * aw
            if let bias { for j in 0..<(4 * u) { row[j] += bias[j] } }
            GateSigmoid<Scalar>.apply(row, count: 2 * u)          // σ(i), σ(f)
            Scalar.tanhInPlace(row + 2 * u, count: u)             // tanh(g)
            GateSigmoid<Scalar>.apply(row + 3 * u, count: u)      // σ(o)
            let c = row + 4 * u, tc = row + 5 * u
            let cPrev = gPrev + r * aw + 4 * u
            for j in 0..<u {
                let cj = row[u + j] * cPrev[j] + row[j] * row[2 * u + j]
                c[j] = cj
                tc[j] = cj
            }
            Scalar.tanhInPlace(tc, count: u)
            let hr = hOut + r * u
            for j in 0..<u { hr[j] = row[3 * u + j] * tc[j] }
        }
    }

    /// The step backward: on entry the first U columns of the delta rows `dm` (B, stride dw) hold
    /// `E`, `dhNext`/`dcNext` (B, U) the carries from step m + 1 (dhNext: `TWᵀ delta_{m+1}`);
    /// on exit `dm` holds the gate deltas `[i f g o]` and `dcNext` the carry `dc ⊙ σ(f)`.
    @inline(__always)
    static func backward(gates g: UnsafePointer<Scalar>, previous gPrev: UnsafePointer<Scalar>,
                         delta dm: UnsafeMutablePointer<Scalar>, deltaStride dw: Int,
                         dhNext: UnsafeMutablePointer<Scalar>, dcNext: UnsafeMutablePointer<Scalar>,
                         lanes b: Int, units u: Int, stride aw: Int,
                         biasGradient: UnsafeMutablePointer<Scalar>? = nil, vectorised: Bool) {
        if vectorised {
            rnn_lstm_backward_f32(b, u, f32(g), aw, f32(gPrev + 4 * u), f32(dm), dw, f32(UnsafePointer(dhNext)), f32(dcNext),
                                  biasGradient.map { f32($0) })
            return
        }
        for r in 0..<b {
            let row = g + r * aw, dr = dm + r * dw
            let cPrev = gPrev + r * aw + 4 * u
            let dhr = dhNext + r * u, dcr = dcNext + r * u
            for j in 0..<u {
                let si = row[j], sf = row[u + j], tg = row[2 * u + j], so = row[3 * u + j]
                let tc = row[5 * u + j]
                let dh = dr[j] + dhr[j]
                let dc = dcr[j] + dh * so * (1 - tc * tc)
                dr[j] = dc * tg * si * (1 - si)
                dr[u + j] = dc * cPrev[j] * sf * (1 - sf)
                dr[2 * u + j] = dc * si * (1 - tg * tg)
                dr[3 * u + j] = dh * tc * so * (1 - so)
                dcr[j] = dc * sf
            }
            if let biasGradient { for j in 0..<(4 * u) { biasGradient[j] += dr[j] } }
        }
    }
}
