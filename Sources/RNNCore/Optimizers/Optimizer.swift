import Foundation

/// Applies one optimizer step to the contiguous parameter buffer, with PyTorch's update rules
/// (`torch.optim.SGD`, `Adam`, `RMSprop`, single-tensor implementations, `maximize=False`).
///
/// With `g` the (clipped) gradient and `wd` the weight decay, `g ← g + wd · p` first, then:
/// ```
/// sgd:      buf ← g (first step) | momentum · buf + g;   g ← nesterov ? g + momentum · buf : buf
///           p ← p - lr · g
/// adam:     m ← m + (1 - beta1)(g - m);   v ← beta2 · v + (1 - beta2) g²
///           p ← p - lr / (1 - beta1^t) · m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// rmsprop:  v ← alpha · v + (1 - alpha) g²;   a ← sqrt(v) + eps
///           momentum > 0:  buf ← momentum · buf + g / a;  p ← p - lr · buf
///           else:          p ← p - lr · g / a
/// ```
final class Optimizer<Scalar: RNNScalar> {
    let settings: OptimizerSettings
    let count: Int
    // Internal (not private) so that checkpoints can save and restore them (ParameterUpdate).
    var step = 0
    var first: UnsafeMutableBufferPointer<Scalar>   // momentum buffer / exp_avg
    var second: UnsafeMutableBufferPointer<Scalar>  // exp_avg_sq / square_avg

    /// Whether the rule keeps a first-moment (momentum) buffer and a second-moment buffer.
    var needsFirst: Bool { Self.needsFirst(settings) }
    var needsSecond: Bool { Self.needsSecond(settings) }
    static func needsFirst(_ s: OptimizerSettings) -> Bool { s.name == .adam || s.momentum != 0 }
    static func needsSecond(_ s: OptimizerSettings) -> Bool { s.name != .sgd }

    init(settings: OptimizerSettings, count: Int) {
        self.settings = settings
        self.count = count
        // State only where the rule needs it: plain SGD keeps none.
        first = .allocate(capacity: Self.needsFirst(settings) ? max(count, 1) : 1)
        second = .allocate(capacity: Self.needsSecond(settings) ? max(count, 1) : 1)
        first.initialize(repeating: 0)
        second.initialize(repeating: 0)
    }

    deinit {
        first.deallocate()
        second.deallocate()
    }

    func update(parameters p: UnsafeMutablePointer<Scalar>, gradients g: UnsafeMutablePointer<Scalar>) {
        step += 1
        let lr = Scalar(settings.lr)
        let wd = Scalar(settings.weightDecay)
        if settings.weightDecay != 0 {
            for i in 0..<count { g[i] += wd * p[i] }
        }
        let m = first.baseAddress!, v = second.baseAddress!
        switch settings.name {
        case .sgd:
            let mu = Scalar(settings.momentum)
            if settings.momentum != 0 {
                if step == 1 {
                    for i in 0..<count { m[i] = g[i] }
                } else {
                    for i in 0..<count { m[i] = mu * m[i] + g[i] }
                }
                if settings.nesterov {
                    for i in 0..<count { p[i] -= lr * (g[i] + mu * m[i]) }
                } else {
                    for i in 0..<count { p[i] -= lr * m[i] }
                }
            } else {
                for i in 0..<count { p[i] -= lr * g[i] }
            }
        case .adam:
            let b1 = Scalar(settings.beta1), b2 = Scalar(settings.beta2), eps = Scalar(settings.eps)
            let bc1 = 1 - Scalar(pow(settings.beta1, Double(step)))
            let bc2 = 1 - Scalar(pow(settings.beta2, Double(step)))
            let stepSize = lr / bc1
            let bc2Sqrt = Scalar.sqrt(bc2)
            for i in 0..<count {
                m[i] += (1 - b1) * (g[i] - m[i])
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                let denom = Scalar.sqrt(v[i]) / bc2Sqrt + eps
                p[i] -= stepSize * (m[i] / denom)
            }
        case .rmsprop:
            let alpha = Scalar(settings.alpha), eps = Scalar(settings.eps), mu = Scalar(settings.momentum)
            for i in 0..<count {
                v[i] = alpha * v[i] + (1 - alpha) * g[i] * g[i]
                let avg = Scalar.sqrt(v[i]) + eps
                if settings.momentum > 0 {
                    m[i] = mu * m[i] + g[i] / avg
                    p[i] -= lr * m[i]
                } else {
                    p[i] -= lr * (g[i] / avg)
                }
            }
        }
    }
}
