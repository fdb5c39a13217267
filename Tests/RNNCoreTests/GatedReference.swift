import Foundation
import RNNTestSupport
import RNNCore

extension NaiveReference {
    /// One step of an LSTM or GRU layer in plain scalar loops, written from PyTorch's documented
    /// equations (gate order i, f, g, o and r, z, n; parameters `W_s, W_t, b_s, b_t`):
    /// ```
    /// LSTM: i,f,g,o = split(W_s x + b_s + W_t h + b_t);  c' = σ(f) c + σ(i) tanh(g);  h' = σ(o) tanh(c')
    /// GRU:  r = σ(W_sr x + b_sr + W_tr h + b_tr);  z = σ(W_sz x + b_sz + W_tz h + b_tz)
    ///       n = tanh(W_sn x + b_sn + r (W_tn h + b_tn));  h' = (1 - z) n + z h
    /// ```
    /// - Returns: the new `h` and `c` (the GRU returns its `c` unchanged).
    static func gatedStep(_ layer: LayerSpec, _ e: ParameterLayout.Entry, _ w: [Double], _ x: [Double],
                          _ h: [Double], _ c: [Double]) -> (h: [Double], c: [Double]) {
        let u = layer.units, rows = layer.kind.gates * u
        guard let tw = e.tw, let bt = e.bt else { fatalError("test setup: gated layer without W_t or b_t") }
        // Input side and hidden side of every gate row, kept apart (the GRU needs them apart).
        var xs = [Double](repeating: 0, count: rows), hs = xs
        for j in 0..<rows {
            var s = w[e.b + j]
            for k in 0..<layer.inputs { s += w[e.sw + j * layer.inputs + k] * x[k] }
            xs[j] = s
            var t = w[bt + j]
            for k in 0..<u { t += w[tw + j * u + k] * h[k] }
            hs[j] = t
        }
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        var hOut = [Double](repeating: 0, count: u), cOut = c
        switch layer.kind {
        case .lstm:
            for j in 0..<u {
                let i = sigmoid(xs[j] + hs[j]), f = sigmoid(xs[u + j] + hs[u + j])
                let g = Foundation.tanh(xs[2 * u + j] + hs[2 * u + j]), o = sigmoid(xs[3 * u + j] + hs[3 * u + j])
                cOut[j] = f * c[j] + i * g
                hOut[j] = o * Foundation.tanh(cOut[j])
            }
        case .gru:
            for j in 0..<u {
                let r = sigmoid(xs[j] + hs[j]), z = sigmoid(xs[u + j] + hs[u + j])
                let n = Foundation.tanh(xs[2 * u + j] + r * hs[2 * u + j])
                hOut[j] = (1 - z) * n + z * h[j]
            }
        case .rnn, .dense, .indrnn, .lru:
            fatalError("test setup: not a gated layer")
        }
        return (hOut, cOut)
    }
}
