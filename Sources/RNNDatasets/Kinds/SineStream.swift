import Foundation
import RNNCore

/// `sine` (stream): next-step prediction of `x_t = (1/W) Σ_k a_k sin(2π f_k t + φ_k) + noise`, with
/// `W = waves` components, `a_k ~ U[0.5, 1]`, `f_k ~ U[0.01, 0.1]` cycles per step, `φ_k ~ U[0, 2π)`,
/// Gaussian noise of standard deviation `noise`. Input `x_t`, target `x_{t+1}`; validation continues
/// the series. Baseline: predicting `x_{t+1} = x_t` (its MSE on the validation split).
public enum SineStream: GeneratedDatasetKind {
    public static let kind = DatasetKind.sine
    public static let layout = DatasetLayout.stream
    static let defaultWaves = 3, defaultNoise = 0.05, defaultTrain = 20_000
    static let maxWaves = 1000
    static let maxNoise = 1e6
    public static let keys = DatasetKey.sizes(train: defaultTrain, validation: 2000) + [
        .integer("waves", \.waves, in: 1...maxWaves, default: defaultWaves),
        .real("noise", \.noise, in: 0...maxNoise, default: defaultNoise),
    ]

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: 1, outputs: 1, loss: .mse, metric: .none, layout: layout)
    }

    /// The training stream: `train` steps.
    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .exact(c.train ?? defaultTrain) }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let trainSteps = c.train ?? 0, validationSteps = c.validation ?? 0, noise = c.noise ?? defaultNoise
        var rng = dataGenerator(seed)
        let waves = max(c.waves ?? defaultWaves, 1)
        let comps = (0..<waves).map { _ in (rng.uniform(0.5, 1), rng.uniform(0.01, 0.1), rng.uniform(0, 2 * Double.pi)) }
        let total = trainSteps + validationSteps + 2
        let series = (0..<total).map { t -> Double in
            var v = 0.0
            for (a, f, phi) in comps { v += a * Foundation.sin(2 * Double.pi * f * Double(t) + phi) }
            return v / Double(waves) + noise * rng.nextNormal()
        }
        func stream(_ from: Int, _ count: Int) -> [SequenceSample] {
            guard count > 0 else { return [] }
            return [SequenceSample(length: count, inputs: .dense(Array(series[from..<(from + count)])),
                                   targets: .values(Array(series[(from + 1)...(from + count)])),
                                   mask: [Bool](repeating: true, count: count))]
        }
        let v0 = trainSteps + 1
        var persistence = 0.0
        for t in v0..<(v0 + validationSteps) { persistence += (series[t + 1] - series[t]) * (series[t + 1] - series[t]) }
        return Dataset(kind: kind, shape: shape(parameters: c),
                       train: stream(0, trainSteps), validation: stream(v0, validationSteps),
                       baseline: (persistence / Double(max(validationSteps, 1)), "predict x_{t+1} = x_t"))
    }
}
