/// Compares the BPTT gradient of one update with central finite differences (float64).
///
/// The update checked is the first one that happens on `batch`. Its window loss, as a function of
/// the weights `W`, runs steps `1 ..< a` with the unperturbed weights (so `h_{a-1}` is a constant,
/// as truncation demands) and steps `a ... n` with `W`, and averages the loss of the injected steps
/// `(p, n]`. With no earlier update, the stored activations were computed with the same weights,
/// so the BPTT gradient is exactly this function's gradient.
///
/// Differences use the fourth-order stencil `(-f(x+2e) + 8f(x+e) - 8f(x-e) + f(x-2e)) / 12e`,
/// `e = 1e-4` (`e = 2e-3` when the stack has an LSTM or GRU layer: their longer chains of
/// operations put ~1e-12 of rounding noise on the difference at `e = 1e-4`, as large as 1e-6 of
/// the smallest gradient entries; the stencil's `e⁴` truncation error stays below that at
/// 2e-3); errors are `|a - b| / max(|a|, |b|, 1e-6)` (swift-numerics' scaled comparison).
public enum GradientCheck {
    public struct TensorResult: Sendable {
        public var name: String
        public var worstError: Double
        public var worstIndex: Int
        public var analytic: Double
        public var numeric: Double
        public var checked: Int
        public var count: Int
    }

    public struct Report: Sendable {
        /// The update checked: injected `(previousStep, step]`, window start `windowStart`.
        public var step: Int
        public var previousStep: Int
        public var windowStart: Int
        public var tensors: [TensorResult]
        public var worstError: Double { tensors.map(\.worstError).max() ?? 0 }
    }

    /// - Parameters:
    ///   - maxChecks: at most this many parameters are differenced (a seeded sample beyond).
    ///   - epsilon: the difference step; nil for the default above.
    public static func run(spec: NetworkSpec, parameters: [Double], batch: SequenceBatch<Double>,
                           truncation: Truncation, maxChecks: Int = 20_000, epsilon: Double? = nil) -> Report? {
        let trainer = TruncatedBPTT<Double>(spec: spec, parameters: parameters, truncation: truncation,
                                            optimizer: OptimizerSettings(name: .sgd, lr: 0))
        var first: (n: Int, p: Int, a: Int, grad: [Double])? = nil
        _ = trainer.train(batch) { e in
            if first == nil { first = (e.step, e.previousStep, e.windowStart, Array(e.gradients)) }
        }
        guard let first else { return nil }
        let layout = ParameterLayout(spec)
        var indices = Array(0..<layout.count)
        if indices.count > maxChecks {
            var rng = Xoshiro256(seed: SeedStream.gradientCheckSample)
            rng.shuffle(&indices)
            indices = Array(indices.prefix(maxChecks)).sorted()
        }
        let checked = Set(indices)
        var w = parameters
        let eps = epsilon ?? (spec.layers.contains { $0.isGated } ? 2e-3 : 1e-4)
        var numeric = [Double](repeating: .nan, count: layout.count)
        for i in indices {
            let x = w[i]
            func f(_ v: Double) -> Double {
                w[i] = v
                return trainer.windowLoss(batch, weights: w, frozen: parameters, a: first.a, p: first.p, n: first.n)
            }
            let g = (-f(x + 2 * eps) + 8 * f(x + eps) - 8 * f(x - eps) + f(x - 2 * eps)) / (12 * eps)
            w[i] = x
            numeric[i] = g
        }
        var tensors: [TensorResult] = []
        for t in layout.namedTensors(spec) {
            var r = TensorResult(name: t.name, worstError: 0, worstIndex: -1, analytic: 0, numeric: 0, checked: 0, count: t.range.count)
            for i in t.range where checked.contains(i) {
                r.checked += 1
                let a = first.grad[i], b = numeric[i]
                let e = abs(a - b) / max(abs(a), abs(b), 1e-6)
                if e > r.worstError || r.worstIndex < 0 {
                    r.worstError = e
                    r.worstIndex = i - t.range.lowerBound
                    r.analytic = a
                    r.numeric = b
                }
            }
            tensors.append(r)
        }
        return Report(step: first.n, previousStep: first.p, windowStart: first.a, tensors: tensors)
    }
}

extension TruncatedBPTT {
    /// Mean loss of steps `(p, n]` when steps `1 ..< a` run with `frozen` and `a ... n` with
    /// `weights` (the function `GradientCheck` differentiates). Leaves the parameters as they were.
    func windowLoss(_ batch: SequenceBatch<Scalar>, weights: [Double], frozen: [Double], a: Int, p: Int, n: Int) -> Double {
        let saved = (0..<layout.count).map { params[$0] }
        defer { for i in 0..<layout.count { params[i] = saved[i] } }
        prepare(lanes: batch.lanes, slots: n + 1, windowRows: 0, chunkRows: n)
        return batch.withView { view in
            for i in 0..<layout.count { params[i] = Scalar(frozen[i]) }
            if a > 1 { forward(view, from: 0, to: a - 1) }
            for i in 0..<layout.count { params[i] = Scalar(weights[i]) }
            forward(view, from: a - 1, to: n)
            let (sum, count) = lossAndInjection(view, from: p, to: n, inject: false)
            return count > 0 ? sum / Double(count) : 0
        }
    }
}
