import RNNCore

/// `count-ones`: the seed's training set. Binary inputs (0/1) of `length` steps; the target, at the
/// last step only, is the number of ones. With one identity `rnn` unit, `SW = TW = 1`, `b = 0`
/// solves it exactly. Baseline: predicting the mean `length/2` costs `length/4` (MSE).
public enum CountOnes: GeneratedDatasetKind {
    public static let kind = DatasetKind.countOnes
    public static let layout = DatasetLayout.sequences
    static let defaultLength = 10
    public static let keys = DatasetKey.sizes(train: 1000, validation: 200) + [
        .integer("length", \.length, in: 1...DatasetLimits.sequenceLength, default: defaultLength),
    ]

    static func length(_ c: DatasetConfig) -> Int { c.length ?? defaultLength }

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: 1, outputs: 1, loss: .mse, metric: .none, layout: layout)
    }

    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .exact(length(c)) }

    /// Every lag `0 … length − 1`: the count at the last step sums every input of the sequence.
    public static func dependencyLags(_ c: DatasetConfig) -> DependencyLags? { .every(0...(length(c) - 1)) }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let length = length(c)
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let x = (0..<length).map { _ in Double(rng.nextInt(below: 2)) }
            var t = [Double](repeating: 0, count: length)
            t[length - 1] = x.reduce(0, +)
            return SequenceSample(length: length, inputs: .dense(x), targets: .values(t),
                                  mask: (0..<length).map { $0 == length - 1 })
        }
        let (train, validation) = splits(train: c.train ?? 0, validation: c.validation ?? 0, one)
        return Dataset(kind: kind, shape: shape(parameters: c), train: train, validation: validation,
                       baseline: (Double(length) / 4, "predict length/2"))
    }
}
