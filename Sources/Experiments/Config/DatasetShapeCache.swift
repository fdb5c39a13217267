import Foundation
import RNNCore
import RNNDatasets

/// What a dataset declares about itself, known before any data is generated.
public struct DatasetShape: Sendable, Equatable {
    public var inputs: Int
    public var outputs: Int
    public var loss: Loss
    public var metric: MetricKind
    public var layout: DatasetLayout
}

/// Shapes of datasets, computed from their parameters for the generated kinds and by reading the
/// file once for `text` and `csv` (the loaded data is kept for the runs that follow).
public final class DatasetShapeCache: @unchecked Sendable {
    private let lock = NSLock()
    private var loaded: [String: Dataset] = [:]

    public init() {}

    static func key(_ c: DatasetConfig) -> String { "\(c)" }

    /// The dataset of a file-backed config (text, csv), read once; generated kinds are not cached
    /// (they depend on the seed and are cheap to make).
    public func dataset(_ c: DatasetConfig, seed: UInt64) throws(DatasetError) -> Dataset {
        guard c.kind == .text || c.kind == .csv else { return try Dataset.load(c, seed: seed) }
        let k = Self.key(c)
        lock.lock()
        if let d = loaded[k] { lock.unlock(); return d }
        lock.unlock()
        let d = try Dataset.load(c, seed: seed)
        lock.lock()
        loaded[k] = d
        lock.unlock()
        return d
    }

    public func shape(_ c: DatasetConfig) throws(DatasetError) -> DatasetShape {
        switch c.kind {
        case .countOnes: return DatasetShape(inputs: 1, outputs: 1, loss: .mse, metric: .none, layout: .sequences)
        case .binaryAddition:
            return DatasetShape(inputs: 2, outputs: 1, loss: .binaryCrossEntropy, metric: .sequenceAccuracy, layout: .sequences)
        case .adding: return DatasetShape(inputs: 2, outputs: 1, loss: .mse, metric: .none, layout: .sequences)
        case .copy:
            let s = c.symbols ?? 8
            return DatasetShape(inputs: s + 2, outputs: s, loss: .crossEntropy, metric: .accuracy, layout: .sequences)
        case .sine: return DatasetShape(inputs: 1, outputs: 1, loss: .mse, metric: .none, layout: .stream)
        case .reber: return DatasetShape(inputs: 7, outputs: 7, loss: .binaryCrossEntropy, metric: .accuracy, layout: .sequences)
        case .random:
            return DatasetShape(inputs: c.inputs ?? 16, outputs: c.classes ?? 16, loss: .crossEntropy, metric: .none, layout: .stream)
        case .text, .csv:
            let d = try dataset(c, seed: 0)
            return DatasetShape(inputs: d.inputSize, outputs: d.outputSize, loss: d.defaultLoss, metric: d.metric, layout: d.layout)
        }
    }

    /// Steps of one sequence (streams: the training split), for memory estimates.
    static func stepsPerSequence(_ c: DatasetConfig) -> Int {
        switch c.kind {
        case .countOnes, .adding: return c.length ?? 10
        case .binaryAddition: return (c.bits ?? 8) + 1
        case .copy: return 2 * (c.length ?? 5) + (c.delay ?? 10) + 1
        case .reber: return 40
        case .sine, .random, .text: return c.train ?? 1
        case .csv: return 1
        }
    }
}
