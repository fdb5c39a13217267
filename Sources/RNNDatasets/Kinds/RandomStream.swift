import Foundation
import RNNCore

/// `random` (stream, for benchmarks): N(0, 1) inputs of size `inputs`, uniform class targets over
/// `classes`. Cross-entropy; baseline `ln(classes)`.
public enum RandomStream: GeneratedDatasetKind {
    public static let kind = DatasetKind.random
    public static let layout = DatasetLayout.stream
    static let defaultInputs = 16, defaultClasses = 16, defaultTrain = 10_000
    public static let keys = DatasetKey.sizes(train: defaultTrain, validation: 1000) + [
        .integer("inputs", \.inputs, in: 1...DatasetLimits.width, default: defaultInputs),
        .integer("classes", \.classes, in: 2...DatasetLimits.width, default: defaultClasses),
    ]

    static func inputs(_ c: DatasetConfig) -> Int { c.inputs ?? defaultInputs }
    static func classes(_ c: DatasetConfig) -> Int { c.classes ?? defaultClasses }

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: inputs(c), outputs: classes(c), loss: .crossEntropy, metric: .none, layout: layout)
    }

    /// The training stream: `train` steps.
    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .exact(c.train ?? defaultTrain) }

    /// `inputs` values per step: the input vector dominates.
    public static func valuesPerStep(_ c: DatasetConfig) -> Int { max(1, inputs(c)) }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        var rng = dataGenerator(seed)
        let i = inputs(c), k = classes(c)
        func stream(_ count: Int) -> [SequenceSample] {
            guard count > 0 else { return [] }
            let x = (0..<(count * i)).map { _ in rng.nextNormal() }
            let t = (0..<count).map { _ in Int32(rng.nextInt(below: k)) }
            return [SequenceSample(length: count, inputs: .dense(x), targets: .classes(t),
                                   mask: [Bool](repeating: true, count: count))]
        }
        let train = stream(c.train ?? 0)
        let validation = stream(c.validation ?? 0)
        return Dataset(kind: kind, shape: shape(parameters: c), train: train, validation: validation,
                       baseline: (Foundation.log(Double(k)), "uniform guess, ln(classes)"))
    }
}
