import RNNKernels

/// The LSTM cell of one step over `B` lanes, after the gate pre-activations are formed (SPEC
/// notation as in `TruncatedBPTT+Gated.swift`). Shared by every algorithm that runs a gated layer
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

/// `p[i] = σ(p[i])` for the gates: float32 through the AVX2 kernel of `RNNKernels` (the rnn
/// path's sigmoid activation keeps `FastMath.sigmoid`, so its results stay as they were).
enum GateSigmoid<Scalar: RNNScalar> {
    @inline(__always)
    static func apply(_ p: UnsafeMutablePointer<Scalar>, count: Int) {
        if Scalar.self == Float.self {
            rnn_sigmoid_f32(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count)
        } else {
            Scalar.sigmoidInPlace(p, count: count)
        }
    }
}

/// Float32 views of `Scalar` pointers, for the C kernels (callers ensure `Scalar == Float`).
@inline(__always)
func f32<Scalar>(_ p: UnsafePointer<Scalar>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inline(__always)
func f32<Scalar>(_ p: UnsafeMutablePointer<Scalar>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}
