import RNNCore

/// `adding` (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015): `length` steps of
/// (value ~ U[0,1], marker); one marker in the first half, one in the second; the target at the last
/// step is the sum of the two marked values. Baseline: predicting 1 costs Var = 1/6 ≈ 0.167 (MSE).
///
/// With `h = ⌊length/2⌋`, the first marker sits at a step in `[0, h)` and the second in `[h, length)`.
public enum AddingProblem: GeneratedDatasetKind {
    public static let kind = DatasetKind.adding
    public static let layout = DatasetLayout.sequences
    static let defaultLength = 50
    /// Two markers need two steps.
    static let minLength = 2
    public static let keys = DatasetKey.sizes(train: 2000, validation: 500) + [
        .integer("length", \.length, in: minLength...DatasetLimits.sequenceLength, default: defaultLength),
    ]

    static func length(_ c: DatasetConfig) -> Int { max(c.length ?? defaultLength, minLength) }

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: 2, outputs: 1, loss: .mse, metric: .none, layout: layout)
    }

    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .exact(length(c)) }

    /// The markers' distance to the target at step `length − 1`: the first marker's lag lies in
    /// `[length − h, length − 1]`, the second's in `[0, length − 1 − h]`, with `h = ⌊length/2⌋`.
    public static func dependencyLags(_ c: DatasetConfig) -> DependencyLags? {
        let length = length(c), half = length / 2
        return DependencyLags(ranges: [0...(length - 1 - half), (length - half)...(length - 1)])
    }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let length = length(c)
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            var x = [Double](repeating: 0, count: 2 * length)
            for n in 0..<length { x[2 * n] = rng.nextUnit() }
            let half = length / 2
            let first = rng.nextInt(below: half), second = half + rng.nextInt(below: length - half)
            x[2 * first + 1] = 1
            x[2 * second + 1] = 1
            var t = [Double](repeating: 0, count: length)
            t[length - 1] = x[2 * first] + x[2 * second]
            return SequenceSample(length: length, inputs: .dense(x), targets: .values(t),
                                  mask: (0..<length).map { $0 == length - 1 })
        }
        let (train, validation) = splits(train: c.train ?? 0, validation: c.validation ?? 0, one)
        return Dataset(kind: kind, shape: shape(parameters: c), train: train, validation: validation,
                       baseline: (1.0 / 6.0, "predict 1 (constant)"))
    }
}
