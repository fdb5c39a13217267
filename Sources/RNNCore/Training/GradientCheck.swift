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
/// 2e-3).
///
/// Pass criterion, per tensor (as `torch.autograd.gradcheck`'s `atol` + `rtol`, with the absolute
/// part scaled by the tensor's largest difference quotient): every checked entry `i` has
/// ```
/// |g_i - fd_i| <= atol · S + rtol · |fd_i|,   S = max(max_j |fd_j|, 1e-4)
/// atol = rtol = 1e-6, scale floor 1e-4 (`Tolerance.standard`)
/// ```
/// `ratio_i = |g_i - fd_i| / (atol · S + rtol · |fd_i|)`; a tensor passes when its worst ratio is
/// at most 1. The floor is for tensors whose exact gradient is 0 (`W_t` at the first step, where
/// `h_0 = 0`): their difference quotients are pure noise (~1e-13), so their own largest entry is
/// no scale; with the floor they must stay within 1e-10 absolute. A per-entry relative error alone flags entries of ~1e-6 whose
/// difference quotients carry ~1e-12 of rounding noise (the noise of `f(x ± e)` over `12e`),
/// although they are exact to 1e-6 of the tensor's scale; the `atol` term absorbs that noise,
/// while an entry near the tensor's scale still has to agree to ~2e-6 relative, so a gradient
/// off by 1e-4 there fails. `worstError`, `|g - fd| / max(|g|, |fd|, 1e-6)` (swift-numerics'
/// scaled comparison), is reported beside it.
public enum GradientCheck {
    /// `atol` and `rtol` of the pass criterion above.
    public struct Tolerance: Sendable, Equatable {
        public var absolute: Double
        public var relative: Double
        /// The least scale `S` the absolute part is taken of.
        public var scaleFloor: Double
        public init(absolute: Double, relative: Double, scaleFloor: Double) {
            self.absolute = absolute
            self.relative = relative
            self.scaleFloor = scaleFloor
        }
        /// atol = rtol = 1e-6: float64 central differences of the fourth-order stencil agree with an
        /// exact gradient to ~1e-10 of the tensor's scale on the examples, so 1e-6 leaves four
        /// orders of margin for their noise and still catches a gradient wrong by 1e-4.
        public static let standard = Tolerance(absolute: 1e-6, relative: 1e-6, scaleFloor: 1e-4)
        /// The criterion as text, e.g. `|g - fd| <= 1e-6·max(max|fd|, 1e-4) + 1e-6·|fd|`.
        public var text: String {
            "|g - fd| <= \(Self.short(absolute))·max(max|fd|, \(Self.short(scaleFloor))) + \(Self.short(relative))·|fd|"
        }

        /// `1e-6` and `1e-4` rather than Swift's `1e-06` and `0.0001`.
        public static func short(_ x: Double) -> String {
            if x > 0 && x < 1 {  // 10^-k: its inverse is the integer 10...0
                let inverse = (1 / x).rounded()
                let digits = inverse < 1e15 ? String(Int(inverse)) : ""
                if abs(inverse * x - 1) < 1e-12, digits.first == "1", digits.dropFirst().allSatisfy({ $0 == "0" }) {
                    return "1e-\(digits.count - 1)"
                }
            }
            let parts = "\(x)".split(separator: "e")
            guard parts.count == 2, let exponent = Int(parts[1]) else { return "\(x)" }
            return "\(parts[0])e\(exponent)"
        }

        /// `|g - fd| / (atol · max(scale, floor) + rtol · |fd|)` (`scale` = the tensor's `max |fd|`);
        /// 0 when both agree exactly, infinite when they differ where the bound is 0, NaN propagates.
        public func ratio(analytic g: Double, numeric fd: Double, scale: Double) -> Double {
            let difference = abs(g - fd)
            let bound = absolute * max(scale, scaleFloor) + relative * abs(fd)
            if difference == 0 { return 0 }
            return bound > 0 ? difference / bound : (difference.isNaN ? .nan : .infinity)
        }
    }

    public struct TensorResult: Sendable {
        public var name: String
        /// The worst `|g - fd| / max(|g|, |fd|, 1e-6)` over the checked entries (informative).
        public var worstError: Double
        public var worstIndex: Int
        public var analytic: Double
        public var numeric: Double
        public var checked: Int
        public var count: Int
        /// `max |fd|` over the checked entries: the scale of the absolute tolerance.
        public var scale: Double = 0
        /// The worst `ratio` (see `Tolerance`) and its entry; the tensor passes when at most 1.
        public var worstRatio: Double = 0
        public var worstRatioIndex: Int = -1
        public var ratioAnalytic: Double = 0
        public var ratioNumeric: Double = 0
    }

    public struct Report: Sendable {
        /// The update checked: injected `(previousStep, step]`, window start `windowStart`.
        public var step: Int
        public var previousStep: Int
        public var windowStart: Int
        public var tensors: [TensorResult]
        /// The update's gradient `g` and the difference quotients `fd` (NaN where not checked),
        /// `ParameterLayout` order.
        public var analytic: [Double]
        public var numeric: [Double]
        public var worstError: Double { tensors.map(\.worstError).max() ?? 0 }
        /// The worst ratio over all tensors (NaN counts as infinite).
        public var worstRatio: Double { tensors.map { $0.worstRatio.isNaN ? .infinity : $0.worstRatio }.max() ?? 0 }
        /// Every tensor within the tolerance it was compared with.
        public var passed: Bool { worstRatio <= 1 }
    }

    /// - Parameters:
    ///   - maxChecks: at most this many parameters are differenced (a seeded sample beyond).
    ///   - epsilon: the difference step; nil for the default above.
    ///   - tolerance: `atol` and `rtol` of the pass criterion.
    public static func run(spec: NetworkSpec, parameters: [Double], batch: SequenceBatch<Double>,
                           truncation: Truncation, maxChecks: Int = 20_000, epsilon: Double? = nil,
                           tolerance: Tolerance = .standard) -> Report? {
        run(spec: spec, parameters: parameters, batch: batch, algorithm: .bptt(truncation), maxChecks: maxChecks,
            epsilon: epsilon, tolerance: tolerance)
    }

    /// The same for any algorithm whose updates follow the exact gradient
    /// (`Algorithm.exactGradient`); nil when it has none, or the batch has no such update.
    ///
    /// `step`: the update at that step; nil for the first update whose window truncation cuts
    /// (`a > 1`), else the first update (SPEC 7). The weights never change (SGD with lr 0), so
    /// every update's gradient is that of its own window loss.
    public static func run(spec: NetworkSpec, parameters: [Double], batch: SequenceBatch<Double>,
                           algorithm: Algorithm, step: Int? = nil, maxChecks: Int = 20_000, epsilon: Double? = nil,
                           tolerance: Tolerance = .standard) -> Report? {
        guard algorithm.exactGradient else { return nil }
        guard let trainer: any TrainingAlgorithm<Double> = try? algorithm.make(
            spec: spec, parameters: parameters, optimizer: OptimizerSettings(name: .sgd, lr: 0)) else { return nil }
        var earliest: (n: Int, p: Int, a: Int, grad: [Double])? = nil
        var chosen: (n: Int, p: Int, a: Int, grad: [Double])? = nil
        _ = trainer.train(batch) { e in
            guard chosen == nil else { return }
            let update = (e.step, e.previousStep, e.windowStart, Array(e.gradients))
            if earliest == nil { earliest = update }
            if let step { if e.step == step { chosen = update } } else if e.windowStart > 1 { chosen = update }
        }
        guard let first = chosen ?? (step == nil ? earliest : nil) else { return nil }
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
        let tensors = compare(analytic: first.grad, numeric: numeric, checked: checked,
                              tensors: layout.namedTensors(spec).map { ($0.name, $0.range) }, tolerance: tolerance)
        return Report(step: first.n, previousStep: first.p, windowStart: first.a, tensors: tensors,
                      analytic: first.grad, numeric: numeric)
    }

    /// Per tensor, the analytic gradient against the difference quotients over the `checked`
    /// indices (both in `ParameterLayout` order): worst relative error and worst ratio.
    public static func compare(analytic: [Double], numeric: [Double], checked: Set<Int>,
                               tensors: [(name: String, range: Range<Int>)],
                               tolerance: Tolerance = .standard) -> [TensorResult] {
        tensors.map { t in
            var r = TensorResult(name: t.name, worstError: 0, worstIndex: -1, analytic: 0, numeric: 0, checked: 0, count: t.range.count)
            for i in t.range where checked.contains(i) { r.scale = max(r.scale, abs(numeric[i])) }
            for i in t.range where checked.contains(i) {
                r.checked += 1
                let a = analytic[i], b = numeric[i]
                let e = abs(a - b) / max(abs(a), abs(b), 1e-6)
                if e > r.worstError || r.worstIndex < 0 {
                    r.worstError = e
                    r.worstIndex = i - t.range.lowerBound
                    r.analytic = a
                    r.numeric = b
                }
                let q = tolerance.ratio(analytic: a, numeric: b, scale: r.scale)
                if q > r.worstRatio || q.isNaN || r.worstRatioIndex < 0 {
                    r.worstRatio = q.isNaN ? .infinity : q
                    r.worstRatioIndex = i - t.range.lowerBound
                    r.ratioAnalytic = a
                    r.ratioNumeric = b
                }
            }
            return r
        }
    }
}

extension TruncatedBPTT {
    /// Mean loss of steps `(p, n]` when steps `1 ..< a` run with `frozen` and `a ... n` with
    /// `weights` (the function `GradientCheck` differentiates). Leaves the parameters as they were.
    public func windowLoss(_ batch: SequenceBatch<Scalar>, weights: [Double], frozen: [Double], a: Int, p: Int, n: Int) -> Double {
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
