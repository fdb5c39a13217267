import Foundation
import RNNCore

/// `copy` (copy-memory task): `length` symbols from `symbols` classes, then `delay` blanks, then a
/// go marker, then `length` blanks during which the symbols must be reproduced in order. Inputs are
/// one-hot over `symbols + 2` (the symbols, blank, go); targets exist only at the recall steps.
/// Cross-entropy, metric: accuracy on recall steps. Baseline: a memoryless guess, `ln(symbols)`.
///
/// The geometry of one sequence (0-based steps, `S = length`, `D = delay`):
/// ```
/// steps 0 … S−1            the symbols (input), no target
/// steps S … S+D−1          blanks, no target
/// step  S+D                the go marker, no target
/// steps S+D+1 … 2S+D       blanks in, target = symbol k at step S+D+1+k
/// ```
/// so every symbol is recalled `S + D + 1` steps after it was shown (the recall lag), and a
/// sequence has `2S + D + 1` steps.
public enum CopyMemory: GeneratedDatasetKind {
    public static let kind = DatasetKind.copy
    public static let layout = DatasetLayout.sequences
    static let defaultSymbols = 8, defaultLength = 5, defaultDelay = 10
    /// The largest alphabet (one-hot inputs of `symbols + 2`).
    static let maxSymbols = 10_000
    public static let keys = DatasetKey.sizes(train: 2000, validation: 500) + [
        .integer("symbols", \.symbols, in: 1...maxSymbols, default: defaultSymbols),
        .integer("length", \.length, in: 1...DatasetLimits.sequenceLength, default: defaultLength),
        .integer("delay", \.delay, in: 0...DatasetLimits.sequenceLength, default: defaultDelay),
    ]
    /// Frozen: `length` before `symbols`, as in every run id written so far.
    public static let canonicalKeyOrder = ["train", "validation", "length", "symbols", "delay"]

    static func symbols(_ c: DatasetConfig) -> Int { c.symbols ?? defaultSymbols }
    static func length(_ c: DatasetConfig) -> Int { c.length ?? defaultLength }
    static func delay(_ c: DatasetConfig) -> Int { c.delay ?? defaultDelay }

    /// `S + D + 1`: steps from a symbol to its recall.
    static func recallLag(_ c: DatasetConfig) -> Int { length(c) + delay(c) + 1 }

    /// `2S + D + 1`: the symbols, the blanks, the go marker, the recall.
    static func steps(_ c: DatasetConfig) -> Int { recallLag(c) + length(c) }

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: symbols(c) + 2, outputs: symbols(c), loss: .crossEntropy, metric: .accuracy, layout: layout)
    }

    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .exact(steps(c)) }

    /// The recall lag `length + delay + 1`, the same for every symbol.
    public static func dependencyLags(_ c: DatasetConfig) -> DependencyLags? { .exact([recallLag(c)]) }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let symbols = symbols(c), length = length(c)
        let blank = Int32(symbols), go = Int32(symbols + 1)
        let lag = recallLag(c), steps = steps(c)
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let shown = (0..<length).map { _ in Int32(rng.nextInt(below: symbols)) }
            var x = [Int32](repeating: blank, count: steps)
            var t = [Int32](repeating: 0, count: steps)
            var mask = [Bool](repeating: false, count: steps)
            for k in 0..<length { x[k] = shown[k] }
            x[lag - 1] = go
            for k in 0..<length {
                t[k + lag] = shown[k]
                mask[k + lag] = true
            }
            return SequenceSample(length: steps, inputs: .oneHot(x), targets: .classes(t), mask: mask)
        }
        let (train, validation) = splits(train: c.train ?? 0, validation: c.validation ?? 0, one)
        return Dataset(kind: kind, shape: shape(parameters: c), train: train, validation: validation,
                       baseline: (Foundation.log(Double(symbols)), "memoryless guess, ln(symbols)"))
    }
}
