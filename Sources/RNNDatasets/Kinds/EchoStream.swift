import Foundation
import RNNCore

/// `echo` (stream; Pitis 2016, "Recurrent neural networks in TensorFlow I"): Bernoulli(½) inputs
/// and a class target that echoes them at fixed lags,
/// ```
/// x_t ~ Bernoulli(1/2)
/// y_t ~ Bernoulli(p_t),   p_t = base + Σ_i weights_i · x_{t − lags_i}
/// ```
/// with defaults `lags: [3, 8]`, `weights: [0.5, -0.25]`, `base: 0.5`. One input (x_t as 0 or 1),
/// two classes, cross-entropy, metric: accuracy. Repeated lags add their weights.
///
/// **Before enough history exists** (the first `max(lags)` steps of a stream, `t < max(lags)`)
/// there is no target: the mask is false there, so every scored step has its full history and the
/// losses below are exact expectations for it. The training and the validation streams are drawn
/// one after the other from the run seed, and each starts without history.
///
/// **Baseline and floor** (natural logs, `H(p) = −p ln p − (1 − p) ln(1 − p)`), with the `k`
/// distinct lags `L_j` and their summed weights `w_j`:
/// ```
/// baseline_loss = H(base + Σ_j w_j / 2)                        no information: the marginal P(y = 1)
/// floor_loss    = 2^−k Σ_{x ∈ {0,1}^k} H(base + Σ_j w_j x_j)   every lagged input known
/// ```
/// For the defaults: `H(0.625) = 0.661563` and `(H(0.5) + H(1) + H(0.25) + H(0.75)) / 4 = 0.454454`
/// (SPEC 4 quotes 0.6616 and, cut rather than rounded, 0.4544).
/// The floor enumerates the `2^k` configurations, so `k` is capped at `maxDistinctLags`.
public enum EchoStream: GeneratedDatasetKind {
    public static let kind = DatasetKind.echo
    public static let layout = DatasetLayout.stream
    static let defaultLags = [3, 8], defaultWeights = [0.5, -0.25], defaultBase = 0.5, defaultTrain = 10_000
    /// The largest number of distinct lags: the floor sums over `2^k` input configurations.
    public static let maxDistinctLags = 20
    /// Rounding slack for the `[0, 1]` check (`0.1 + 0.2 + 0.7` is not exactly 1 in binary).
    static let probabilitySlack = 1e-12

    public static let keys = DatasetKey.sizes(train: defaultTrain, validation: 1000) + [
        .integers("lags", \.lags, in: 1...DatasetLimits.sequenceLength, default: defaultLags),
        .reals("weights", \.weights, in: -1...1, default: defaultWeights),
        .real("base", \.base, in: 0...1, default: defaultBase),
    ]

    /// The distinct lags in ascending order, each with the sum of its weights.
    public static func terms(_ c: DatasetConfig) -> [(lag: Int, weight: Double)] {
        var sum: [Int: Double] = [:]
        for (lag, w) in zip(c.lags ?? defaultLags, c.weights ?? defaultWeights) { sum[lag, default: 0] += w }
        return sum.keys.sorted().map { ($0, sum[$0] ?? 0) }
    }

    static func base(_ c: DatasetConfig) -> Double { c.base ?? defaultBase }

    /// The first step with a full history: `max(lags)`.
    static func longestLag(_ c: DatasetConfig) -> Int { (c.lags ?? defaultLags).max() ?? 0 }

    public static func problems(_ c: DatasetConfig) -> [DatasetConfigProblem] {
        let lags = c.lags ?? defaultLags, weights = c.weights ?? defaultWeights
        guard lags.count == weights.count else {
            return [DatasetConfigProblem(["weights", "lags"],
                                         "weights has \(weights.count) value\(weights.count == 1 ? "" : "s") but lags has \(lags.count): give one weight per lag")]
        }
        var problems: [DatasetConfigProblem] = []
        let terms = terms(c), base = base(c)
        if terms.count > maxDistinctLags {
            problems.append(DatasetConfigProblem(["lags"], "\(terms.count) distinct lags are too many (at most \(maxDistinctLags): the loss floor sums over 2^lags input patterns)"))
        }
        // p = base + Σ w_j x_j is smallest with x_j = 1 exactly where w_j < 0, largest where w_j > 0.
        let lowest = base + terms.reduce(0) { $0 + min(0, $1.weight) }
        let highest = base + terms.reduce(0) { $0 + max(0, $1.weight) }
        if lowest < -probabilitySlack || highest > 1 + probabilitySlack {
            problems.append(DatasetConfigProblem(["weights", "base"],
                                                 "P(y = 1) = base + Σ weights·x ranges over [\(lowest), \(highest)] for inputs x in {0, 1}; it must stay within [0, 1]"))
        }
        let longest = longestLag(c)
        if let train = c.train, train <= longest {
            problems.append(DatasetConfigProblem(["train", "lags"], "the training stream (\(train) steps) must be longer than the largest lag (\(longest)): steps before it have no target"))
        }
        if let validation = c.validation, validation > 0, validation <= longest {
            problems.append(DatasetConfigProblem(["validation", "lags"], "the validation stream (\(validation) steps) must be 0 or longer than the largest lag (\(longest)): steps before it have no target"))
        }
        return problems
    }

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: 1, outputs: 2, loss: .crossEntropy, metric: .accuracy, layout: layout)
    }

    /// The training stream: `train` steps.
    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .exact(c.train ?? defaultTrain) }

    /// Its `lags`.
    public static func dependencyLags(_ c: DatasetConfig) -> DependencyLags? { .exact(terms(c).map(\.lag)) }

    /// The entropy of a Bernoulli(p) variable in nats, `−p ln p − (1 − p) ln(1 − p)` (0 at 0 and 1).
    public static func entropy(_ p: Double) -> Double {
        func term(_ q: Double) -> Double { q > 0 ? -q * Foundation.log(q) : 0 }
        return term(p) + term(1 - p)
    }

    /// `H(base + Σ_j w_j / 2)`: the loss of the best prediction that ignores the inputs.
    public static func baselineLoss(_ c: DatasetConfig) -> Double {
        entropy(base(c) + terms(c).reduce(0) { $0 + $1.weight / 2 })
    }

    /// `2^−k Σ_x H(base + Σ_j w_j x_j)`: the expected loss of the true `p_t` (no predictor does better).
    public static func floorLoss(_ c: DatasetConfig) -> Double {
        let terms = terms(c), base = base(c)
        let patterns = 1 << terms.count
        var sum = 0.0
        for pattern in 0..<patterns {
            var p = base
            for (j, term) in terms.enumerated() where pattern & (1 << j) != 0 { p += term.weight }
            sum += entropy(min(max(p, 0), 1))
        }
        return sum / Double(patterns)
    }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let terms = terms(c), base = base(c), longest = longestLag(c)
        var rng = dataGenerator(seed)
        func stream(_ count: Int) -> [SequenceSample] {
            guard count > 0 else { return [] }
            var x = [Double](repeating: 0, count: count)
            var y = [Int32](repeating: 0, count: count)
            var mask = [Bool](repeating: false, count: count)
            for t in 0..<count {
                x[t] = Double(rng.nextInt(below: 2))
                guard t >= longest else { continue }  // no target before the history exists
                var p = base
                for term in terms { p += term.weight * x[t - term.lag] }
                y[t] = rng.nextUnit() < p ? 1 : 0
                mask[t] = true
            }
            return [SequenceSample(length: count, inputs: .dense(x), targets: .classes(y), mask: mask)]
        }
        let train = stream(c.train ?? 0)
        let validation = stream(c.validation ?? 0)
        return Dataset(kind: kind, shape: shape(parameters: c), train: train, validation: validation,
                       baseline: (baselineLoss(c), "entropy of the marginal P(y = 1), no input known"),
                       floor: (floorLoss(c), "expected entropy of y given every lagged input"))
    }
}
