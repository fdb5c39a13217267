import Foundation
import RNNCore

/// `binary-addition`: two `bits`-bit numbers fed least significant bit first (2 inputs), one extra
/// step for the carry; the target at every step is that bit of the sum. Binary cross-entropy,
/// metric: sequence accuracy (every bit right). Baseline: predicting 0.5 for every bit costs ln 2.
public enum BinaryAddition: GeneratedDatasetKind {
    public static let kind = DatasetKind.binaryAddition
    public static let layout = DatasetLayout.sequences
    static let defaultBits = 8
    /// At most 30 bits, so that the sum of two numbers fits an `Int` on every platform.
    static let maxBits = 30
    public static let keys = DatasetKey.sizes(train: 2000, validation: 500) + [
        .integer("bits", \.bits, in: 1...maxBits, default: defaultBits),
    ]

    static func bits(_ c: DatasetConfig) -> Int { c.bits ?? defaultBits }

    /// `bits + 1`: the last step holds the final carry.
    static func steps(_ c: DatasetConfig) -> Int { bits(c) + 1 }

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: 2, outputs: 1, loss: .binaryCrossEntropy, metric: .sequenceAccuracy, layout: layout)
    }

    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .exact(steps(c)) }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let bits = bits(c)
        let steps = steps(c)
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let a = rng.nextInt(below: 1 << bits), b = rng.nextInt(below: 1 << bits)
            let sum = a + b
            var x: [Double] = [], t: [Double] = []
            for k in 0..<steps {
                x.append(Double((a >> k) & 1))
                x.append(Double((b >> k) & 1))
                t.append(Double((sum >> k) & 1))
            }
            return SequenceSample(length: steps, inputs: .dense(x), targets: .values(t),
                                  mask: [Bool](repeating: true, count: steps))
        }
        let (train, validation) = splits(train: c.train ?? 0, validation: c.validation ?? 0, one)
        return Dataset(kind: kind, shape: shape(parameters: c), train: train, validation: validation,
                       baseline: (Foundation.log(2.0), "predict 0.5 for every bit"))
    }
}
