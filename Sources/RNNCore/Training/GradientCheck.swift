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

    /// Which entries of each tensor are differenced. Each entry costs four window losses, so a
    /// large model (a 128-unit text model has 32,000 weights) is checked on a sample by default.
    public enum EntrySelection: Sendable, Equatable {
        /// Every entry of every tensor (`gradcheck --all-entries`).
        case all
        /// Per tensor at most `perTensor` entries (all of a smaller tensor): the `largest` entries
        /// of largest `|g|` (where a wrong gradient is most visible against the tensor's scale),
        /// up to `zeros` entries whose `g` is exactly 0 (where a gradient the code forgot to
        /// accumulate hides), the rest drawn uniformly from the others with `seed`.
        case sample(perTensor: Int, largest: Int, zeros: Int, seed: UInt64)

        /// The default of `gradcheck`: 64 entries per tensor, the 8 largest `|g|`, up to 4 zeros.
        public static func sample(seed: UInt64) -> EntrySelection {
            .sample(perTensor: 64, largest: 8, zeros: 4, seed: seed)
        }

        /// The indices (`ParameterLayout` order, ascending) to difference, given the analytic
        /// gradient `g` and the tensors' ranges. A pure function of its arguments.
        public func indices(gradient g: [Double], tensors: [Range<Int>]) -> [Int] {
            switch self {
            case .all:
                return tensors.flatMap { Array($0) }.sorted()
            case .sample(let perTensor, let largest, let zeros, let seed):
                var chosen: [Int] = []
                for (t, range) in tensors.enumerated() {
                    guard range.count > perTensor else {
                        chosen += range
                        continue
                    }
                    var picked = Set<Int>()
                    let byMagnitude = range.sorted { abs(g[$0]) != abs(g[$1]) ? abs(g[$0]) > abs(g[$1]) : $0 < $1 }
                    for i in byMagnitude.prefix(min(largest, perTensor)) where g[i] != 0 { picked.insert(i) }
                    var rng = Xoshiro256(seed: seed, stream: SeedStream.gradientCheckSample &+ UInt64(t))
                    var zeroEntries = range.filter { g[$0] == 0 }
                    rng.shuffle(&zeroEntries)
                    for i in zeroEntries.prefix(min(zeros, perTensor - picked.count)) { picked.insert(i) }
                    var rest = range.filter { !picked.contains($0) }
                    rng.shuffle(&rest)
                    for i in rest.prefix(perTensor - picked.count) { picked.insert(i) }
                    chosen += picked
                }
                return chosen.sorted()
            }
        }
    }

    /// - Parameters:
    ///   - entries: which entries are differenced (default: every entry).
    ///   - epsilon: the difference step; nil for the default above.
    ///   - tolerance: `atol` and `rtol` of the pass criterion.
    public static func run(spec: NetworkSpec, parameters: [Double], batch: SequenceBatch<Double>,
                           truncation: Truncation, entries: EntrySelection = .all, epsilon: Double? = nil,
                           tolerance: Tolerance = .standard) -> Report? {
        run(spec: spec, parameters: parameters, batch: batch, algorithm: .bptt(truncation), entries: entries,
            epsilon: epsilon, tolerance: tolerance)
    }

    /// The same for any algorithm whose updates follow the exact gradient
    /// (`Algorithm.exactGradient`); nil when it has none, or the batch has no such update.
    ///
    /// `step`: the update at that step; nil for the default update (`defaultUpdate`). The weights
    /// never change (SGD with lr 0), so every update's gradient is that of its own window loss.
    public static func run(spec: NetworkSpec, parameters: [Double], batch: SequenceBatch<Double>,
                           algorithm: Algorithm, step: Int? = nil, entries: EntrySelection = .all,
                           epsilon: Double? = nil, tolerance: Tolerance = .standard) -> Report? {
        guard algorithm.exactGradient else { return nil }
        guard let trainer: any TrainingAlgorithm<Double> = try? algorithm.make(
            spec: spec, parameters: parameters, optimizer: OptimizerSettings(name: .sgd, lr: 0)) else { return nil }
        let layout = ParameterLayout(spec)
        let tensors = layout.namedTensors(spec).map { ($0.name, $0.range) }
        var choice = UpdateChoice(step: step, tensors: tensors.map(\.1))
        _ = trainer.train(batch) { e in choice.observe(e) }
        guard let first = choice.chosen else { return nil }
        let indices = entries.indices(gradient: first.grad, tensors: tensors.map(\.1))
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
        let results = compare(analytic: first.grad, numeric: numeric, checked: checked, tensors: tensors,
                              tolerance: tolerance)
        return Report(step: first.n, previousStep: first.p, windowStart: first.a, tensors: results,
                      analytic: first.grad, numeric: numeric)
    }

    /// Picks the update to check from the updates of a batch, in order. With a `step`, the update
    /// at that step. Otherwise the default: the first update whose window truncation cuts
    /// (`a > 1`) and where every tensor's gradient has a nonzero entry; else the first where every
    /// tensor's gradient is nonzero (an online algorithm's windows always reach the start; its
    /// first update, at step 1, has `W_t`'s gradient exactly 0 since `h_0 = 0`, which checks
    /// nothing of the recurrence); else the first that truncation cuts; else the first.
    struct UpdateChoice {
        typealias Update = (n: Int, p: Int, a: Int, grad: [Double])
        let step: Int?
        let tensors: [Range<Int>]
        var first: Update? = nil, firstCut: Update? = nil, firstNonzero: Update? = nil, best: Update? = nil

        init(step: Int?, tensors: [Range<Int>]) {
            self.step = step
            self.tensors = tensors
        }

        var chosen: Update? {
            if step != nil { return best }
            return best ?? firstNonzero ?? firstCut ?? first
        }

        mutating func observe(_ e: UpdateEvent<Double>) {
            guard best == nil else { return }
            let g = e.gradients
            func update() -> Update { (e.step, e.previousStep, e.windowStart, Array(g)) }
            if let step {
                if e.step == step { best = update() }
                return
            }
            let nonzero = tensors.allSatisfy { range in range.contains { g[$0] != 0 } }
            let cut = e.windowStart > 1
            if first == nil { first = update() }
            if cut && firstCut == nil { firstCut = update() }
            if nonzero && firstNonzero == nil { firstNonzero = update() }
            if cut && nonzero { best = update() }
        }
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
