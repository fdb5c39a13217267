import Foundation
import Testing
import RNNCore
import RNNKernels
import RNNTestSupport

/// The LSTM and GRU cell kernels of `RNNKernels` (one step of B rows: gate nonlinearities, cell, h;
/// and the cell's backward), the AVX-512 versions against their naive twins and the twins against
/// the equations in float64, on awkward widths (1, a prime, one vector, one past it, several
/// vectors with a tail) and row strides wider than the data, which must stay untouched.
@Suite("Gated cell kernels")
struct GatedCellKernelTests {
    static let shapes: [(b: Int, u: Int)] = [(1, 1), (3, 5), (2, 16), (4, 17), (1, 33), (5, 48), (32, 128)]

    struct Case {
        let b: Int, u: Int, aw: Int, dw: Int
        var gates: [Float], cPrev: [Float], h: [Float], delta: [Float], dhNext: [Float], dcNext: [Float]

        init(b: Int, u: Int, _ rng: inout Xoshiro256) {
            self.b = b; self.u = u
            aw = 6 * u + 3; dw = 4 * u + 2  // padded strides: the padding must survive
            gates = (0..<(b * aw)).map { _ in Float(rng.uniform(-4, 4)) }
            cPrev = (0..<(b * aw)).map { _ in Float(rng.uniform(-2, 2)) }
            h = (0..<(b * u + 1)).map { _ in Float(rng.uniform(-1, 1)) }
            delta = (0..<(b * dw)).map { _ in Float(rng.uniform(-1, 1)) }
            dhNext = (0..<(b * u)).map { _ in Float(rng.uniform(-1, 1)) }
            dcNext = (0..<(b * u)).map { _ in Float(rng.uniform(-1, 1)) }
        }

        /// Forward then backward through the C kernels (`naive`: the twins). The backward runs on
        /// the forward's stored activations, with c_prev at column 4u of its rows as in the engine.
        func run(naive: Bool) -> Case {
            var out = self
            let cp = cPrev.map { $0 }
            out.gates.withUnsafeMutableBufferPointer { g in
                cp.withUnsafeBufferPointer { c in
                    out.h.withUnsafeMutableBufferPointer { h in
                        let c4 = c.baseAddress! + 4 * u
                        if naive { rnn_lstm_forward_naive(b, u, g.baseAddress!, aw, c4, h.baseAddress!, u, nil) }
                        else { rnn_lstm_forward_f32(b, u, g.baseAddress!, aw, c4, h.baseAddress!, u, nil) }
                    }
                    out.delta.withUnsafeMutableBufferPointer { d in
                        out.dcNext.withUnsafeMutableBufferPointer { dc in
                            let c4 = c.baseAddress! + 4 * u
                            if naive {
                                rnn_lstm_backward_naive(b, u, g.baseAddress!, aw, c4, d.baseAddress!, dw, dhNext, dc.baseAddress!, nil)
                            } else {
                                rnn_lstm_backward_f32(b, u, g.baseAddress!, aw, c4, d.baseAddress!, dw, dhNext, dc.baseAddress!, nil)
                            }
                        }
                    }
                }
            }
            return out
        }

        /// The same step from the equations in float64: (gates, h, delta, dcNext).
        func exact() -> (gates: [Double], h: [Double], delta: [Double], dcNext: [Double]) {
            var g = gates.map(Double.init), h = self.h.map(Double.init)
            var d = delta.map(Double.init), dcn = dcNext.map(Double.init)
            func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
            for r in 0..<b {
                for j in 0..<u {
                    let o = r * aw
                    let si = sigmoid(g[o + j]), sf = sigmoid(g[o + u + j])
                    let tg = Foundation.tanh(g[o + 2 * u + j]), so = sigmoid(g[o + 3 * u + j])
                    let c = sf * Double(cPrev[o + 4 * u + j]) + si * tg, tc = Foundation.tanh(c)
                    (g[o + j], g[o + u + j], g[o + 2 * u + j], g[o + 3 * u + j]) = (si, sf, tg, so)
                    (g[o + 4 * u + j], g[o + 5 * u + j]) = (c, tc)
                    h[r * u + j] = so * tc
                    let dh = d[r * dw + j] + Double(dhNext[r * u + j])
                    let dc = dcn[r * u + j] + dh * so * (1 - tc * tc)
                    d[r * dw + j] = dc * tg * si * (1 - si)
                    d[r * dw + u + j] = dc * Double(cPrev[o + 4 * u + j]) * sf * (1 - sf)
                    d[r * dw + 2 * u + j] = dc * si * (1 - tg * tg)
                    d[r * dw + 3 * u + j] = dh * tc * so * (1 - so)
                    dcn[r * u + j] = dc * sf
                }
            }
            return (g, h, d, dcn)
        }
    }

    static func gap(_ x: [Float], _ y: [Float]) -> Double { zip(x, y).map { abs(Double($0) - Double($1)) }.max() ?? 0 }
    static func gap(_ x: [Float], _ y: [Double]) -> Double { zip(x, y).map { abs(Double($0) - $1) }.max() ?? 0 }

    @Test func fastKernelsMatchTwinsAndFloat64() {
        var rng = Xoshiro256(seed: 21)
        for s in Self.shapes {
            let input = Case(b: s.b, u: s.u, &rng)
            let fast = input.run(naive: false), twin = input.run(naive: true)
            let exact = input.exact()
            // Activations are within a few 1e-7 (polynomial tanh/exp, estimate-and-Newton reciprocal);
            // the deltas are products of up to five such factors of size ≤ 4.
            for (name, f, t, e, bound) in [("gates", fast.gates, twin.gates, exact.gates, 2e-6),
                                           ("h", fast.h, twin.h, exact.h, 2e-6),
                                           ("delta", fast.delta, twin.delta, exact.delta, 1e-5),
                                           ("dc_next", fast.dcNext, twin.dcNext, exact.dcNext, 1e-5)] {
                #expect(Self.gap(f, t) <= bound, "\(s) \(name): fast vs twin \(Self.gap(f, t))")
                #expect(Self.gap(t, e) <= bound, "\(s) \(name): twin vs float64 \(Self.gap(t, e))")
            }
            // Padding columns (past 6u of a gates row, past 4u of a delta row, past B·u of h) untouched.
            for r in 0..<s.b {
                for j in (6 * s.u)..<input.aw { #expect(fast.gates[r * input.aw + j] == input.gates[r * input.aw + j]) }
                for j in (4 * s.u)..<input.dw { #expect(fast.delta[r * input.dw + j] == input.delta[r * input.dw + j]) }
            }
            #expect(fast.h.last == input.h.last)
        }
    }

    /// Folded bias work of the LSTM kernels (fast and twin): the forward with `bias` gives bit for
    /// bit what it gives on rows that already hold pre-activation + bias (the same float32 sum);
    /// the backward with `dbias` writes the same deltas and carries as without it and adds to
    /// `dbias` exactly the column sums of the delta rows it wrote, lane by lane in order.
    @Test func foldedBiasMatchesUnfolded() {
        var rng = Xoshiro256(seed: 23)
        for s in Self.shapes {
            let input = Case(b: s.b, u: s.u, &rng)
            let (b, u, aw, dw) = (input.b, input.u, input.aw, input.dw)
            let bias = (0..<(4 * u)).map { _ in Float(rng.uniform(-1, 1)) }
            let dbias0 = (0..<(4 * u)).map { _ in Float(rng.uniform(-1, 1)) }
            var biased = input
            for r in 0..<b { for j in 0..<(4 * u) { biased.gates[r * aw + j] += bias[j] } }
            for naive in [false, true] {
                let reference = biased.run(naive: naive)  // bias already in the rows, none folded
                var g = input.gates, h = input.h, d = input.delta, dc = input.dcNext, db = dbias0
                let c4 = Array(input.cPrev[(4 * u)...])
                if naive {
                    rnn_lstm_forward_naive(b, u, &g, aw, c4, &h, u, bias)
                    rnn_lstm_backward_naive(b, u, g, aw, c4, &d, dw, input.dhNext, &dc, &db)
                } else {
                    rnn_lstm_forward_f32(b, u, &g, aw, c4, &h, u, bias)
                    rnn_lstm_backward_f32(b, u, g, aw, c4, &d, dw, input.dhNext, &dc, &db)
                }
                #expect(g == reference.gates && h == reference.h, "\(s) naive \(naive): forward")
                #expect(d == reference.delta && dc == reference.dcNext, "\(s) naive \(naive): backward")
                var sums = dbias0
                for r in 0..<b { for j in 0..<(4 * u) { sums[j] += d[r * dw + j] } }
                #expect(db == sums, "\(s) naive \(naive): bias gradient")
            }
        }
    }

    /// GRU: forward then backward, fast against twin and both against the equations in float64.
    @Test func gruKernelsMatchTwinsAndFloat64() {
        var rng = Xoshiro256(seed: 22)
        for (b, u) in Self.shapes {
            let aw = 4 * u + 3, dw = 4 * u + 2, lds = 3 * u + 1
            let gates0 = (0..<(b * aw)).map { _ in Float(rng.uniform(-3, 3)) }
            let s = (0..<(b * lds)).map { _ in Float(rng.uniform(-2, 2)) }
            let btn = (0..<u).map { _ in Float(rng.uniform(-1, 1)) }
            let hPrev = (0..<(b * u)).map { _ in Float(rng.uniform(-1, 1)) }
            let delta0 = (0..<(b * dw)).map { _ in Float(rng.uniform(-1, 1)) }
            let dhNext0 = (0..<(b * u)).map { _ in Float(rng.uniform(-1, 1)) }
            func run(naive: Bool) -> (gates: [Float], h: [Float], delta: [Float], dhNext: [Float]) {
                var g = gates0, h = [Float](repeating: 9, count: b * u + 1), d = delta0, dh = dhNext0
                if naive {
                    rnn_gru_forward_naive(b, u, &g, aw, s, lds, btn, hPrev, &h, u)
                    rnn_gru_backward_naive(b, u, g, aw, hPrev, u, &d, dw, &dh)
                } else {
                    rnn_gru_forward_f32(b, u, &g, aw, s, lds, btn, hPrev, &h, u)
                    rnn_gru_backward_f32(b, u, g, aw, hPrev, u, &d, dw, &dh)
                }
                return (g, h, d, dh)
            }
            let fast = run(naive: false), twin = run(naive: true)
            var g = gates0.map(Double.init), h = [Double](repeating: 9, count: b * u + 1)
            var d = delta0.map(Double.init), dhn = dhNext0.map(Double.init)
            func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
            for r in 0..<b {
                for j in 0..<u {
                    let o = r * aw, sr = r * lds
                    let rg = sigmoid(g[o + j] + Double(s[sr + j])), z = sigmoid(g[o + u + j] + Double(s[sr + u + j]))
                    let hn = Double(s[sr + 2 * u + j]) + Double(btn[j])
                    let n = Foundation.tanh(g[o + 2 * u + j] + rg * hn)
                    (g[o + j], g[o + u + j], g[o + 2 * u + j], g[o + 3 * u + j]) = (rg, z, n, hn)
                    let hp = Double(hPrev[r * u + j])
                    h[r * u + j] = (1 - z) * n + z * hp
                    let dh = d[r * dw + j] + dhn[r * u + j]
                    let dnx = dh * (1 - z) * (1 - n * n)
                    d[r * dw + j] = dnx * hn * rg * (1 - rg)
                    d[r * dw + u + j] = dh * (hp - n) * z * (1 - z)
                    d[r * dw + 2 * u + j] = dnx * rg
                    d[r * dw + 3 * u + j] = dnx
                    dhn[r * u + j] = dh * z
                }
            }
            for (name, f, t, e, bound) in [("gates", fast.gates, twin.gates, g, 2e-6), ("h", fast.h, twin.h, h, 2e-6),
                                           ("delta", fast.delta, twin.delta, d, 1e-5),
                                           ("dh_next", fast.dhNext, twin.dhNext, dhn, 1e-5)] {
                #expect(Self.gap(f, t) <= bound, "gru \(b)x\(u) \(name): fast vs twin \(Self.gap(f, t))")
                #expect(Self.gap(t, e) <= bound, "gru \(b)x\(u) \(name): twin vs float64 \(Self.gap(t, e))")
            }
            for r in 0..<b {
                for j in (4 * u)..<aw { #expect(fast.gates[r * aw + j] == gates0[r * aw + j]) }
                for j in (4 * u)..<dw { #expect(fast.delta[r * dw + j] == delta0[r * dw + j]) }
            }
            #expect(fast.h.last == 9)
        }
    }

    /// Saturated gates (|pre-activation| up to 100) give exact 0/1 and ±1 without NaN or overflow.
    @Test func saturatedGatesStayFinite() {
        let u = 19
        var g = [Float](repeating: 0, count: 6 * u)
        for j in 0..<(4 * u) { g[j] = j % 2 == 0 ? 100 : -100 }
        let cPrev = [Float](repeating: 3, count: 6 * u)
        var h = [Float](repeating: 0, count: u)
        rnn_lstm_forward_f32(1, u, &g, 6 * u, Array(cPrev[(4 * u)...]), &h, u, nil)
        #expect(g.allSatisfy { $0.isFinite } && h.allSatisfy { $0.isFinite })
        for j in 0..<(4 * u) where j / u != 2 { #expect(g[j] == (j % 2 == 0 ? 1 : 0) || abs(g[j] - (j % 2 == 0 ? 1 : 0)) < 1e-30) }
        for j in (2 * u)..<(3 * u) { #expect(g[j] == (j % 2 == 0 ? 1 : -1)) }
    }
}
