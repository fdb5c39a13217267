/// Elementwise nonlinearity `h = sigma(z)` of a layer, and its backward map.
///
/// Every derivative is written in terms of the stored output `h` (not `z`), so the forward pass
/// keeps one buffer per layer and step:
/// ```
/// tanh:     sigma'(z) = 1 - h²
/// sigmoid:  sigma'(z) = h (1 - h)
/// relu:     sigma'(z) = [h > 0]
/// identity: sigma'(z) = 1
/// softmax:  J(z)ᵀ g = h ⊙ (g - <h, g>)      (row-wise; output layer only)
/// ```
public enum Activation: String, Sendable, CaseIterable, Codable {
    case tanh, sigmoid, relu, identity, softmax

    /// Applies `sigma` in place to `count` values (one row of `width` for softmax, repeated).
    @inline(__always)
    func forward<Scalar: RNNScalar>(_ z: UnsafeMutablePointer<Scalar>, rows: Int, width: Int) {
        let count = rows * width
        switch self {
        case .tanh:
            Scalar.tanhInPlace(z, count: count)
        case .sigmoid:
            Scalar.sigmoidInPlace(z, count: count)
        case .relu:
            for i in 0..<count where z[i] < 0 { z[i] = 0 }
        case .identity:
            break
        case .softmax:
            for r in 0..<rows {
                let row = z + r * width
                var maxValue = row[0]
                for j in 1..<width where row[j] > maxValue { maxValue = row[j] }
                let inv = 1 / Scalar.expInPlace(row, count: width, shift: maxValue)
                for j in 0..<width { row[j] *= inv }
            }
        }
    }

    /// `g ← sigma'(z) ⊙ g` (softmax: `g ← J(z)ᵀ g`), computed from the stored outputs `h`.
    @inline(__always)
    func backward<Scalar: RNNScalar>(
        h: UnsafePointer<Scalar>, g: UnsafeMutablePointer<Scalar>, rows: Int, width: Int
    ) {
        let count = rows * width
        switch self {
        case .tanh:
            for i in 0..<count { g[i] *= 1 - h[i] * h[i] }
        case .sigmoid:
            for i in 0..<count { g[i] *= h[i] * (1 - h[i]) }
        case .relu:
            for i in 0..<count where !(h[i] > 0) { g[i] = 0 }
        case .identity:
            break
        case .softmax:
            for r in 0..<rows {
                let hr = h + r * width, gr = g + r * width
                var dot: Scalar = 0
                for j in 0..<width { dot += hr[j] * gr[j] }
                for j in 0..<width { gr[j] = hr[j] * (gr[j] - dot) }
            }
        }
    }
}
