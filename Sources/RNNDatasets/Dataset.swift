import CSV
import RNNCore

/// How a dataset's time steps relate (SPEC section 3).
public enum DatasetLayout: String, Sendable, Codable {
    /// Independent sequences: the state resets to zero at each sequence start.
    case sequences
    /// One long stream, cut into `batch` contiguous lanes; the state carries over across update
    /// windows for the whole epoch and resets each epoch.
    case stream
}

/// Data ready for the engine: the training and validation splits, and what the task declares
/// about itself (layout, sizes, default loss, metric, trivial baseline).
public struct Dataset: Sendable {
    public let kind: DatasetKind
    public let layout: DatasetLayout
    /// Input size I (the one-hot width for symbol inputs).
    public let inputSize: Int
    /// Output size O: real targets per step, or the number of classes.
    public let outputSize: Int
    public let defaultLoss: Loss
    public let metric: MetricKind
    /// Training split: sequences, or one stream sample.
    public let train: [SequenceSample]
    /// Validation split: sequences, or one stream sample (possibly empty).
    public let validation: [SequenceSample]
    /// The loss of the best input-independent prediction, where the task defines one (adding: 0.167).
    public let baseline: (loss: Double, description: String)?
    /// The lowest expected loss any predictor can reach, where the task knows it (echo: the
    /// expected entropy of the target given every lagged input).
    public let floor: (loss: Double, description: String)?
    /// Vocabulary of a text dataset (index → character), for reports.
    public let vocabulary: [Character]

    public init(kind: DatasetKind, layout: DatasetLayout, inputSize: Int, outputSize: Int, defaultLoss: Loss,
                metric: MetricKind, train: [SequenceSample], validation: [SequenceSample],
                baseline: (loss: Double, description: String)? = nil, floor: (loss: Double, description: String)? = nil,
                vocabulary: [Character] = []) {
        self.kind = kind
        self.layout = layout
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.defaultLoss = defaultLoss
        self.metric = metric
        self.train = train
        self.validation = validation
        self.baseline = baseline
        self.floor = floor
        self.vocabulary = vocabulary
    }

    /// A dataset of the shape its descriptor declares.
    init(kind: DatasetKind, shape: DatasetShape, train: [SequenceSample], validation: [SequenceSample],
         baseline: (loss: Double, description: String)? = nil, floor: (loss: Double, description: String)? = nil,
         vocabulary: [Character] = []) {
        self.init(kind: kind, layout: shape.layout, inputSize: shape.inputs, outputSize: shape.outputs,
                  defaultLoss: shape.loss, metric: shape.metric, train: train, validation: validation,
                  baseline: baseline, floor: floor, vocabulary: vocabulary)
    }

    /// The shape of the data as generated or read.
    public var shape: DatasetShape {
        DatasetShape(inputs: inputSize, outputs: outputSize, loss: defaultLoss, metric: metric, layout: layout)
    }

    /// Builds a dataset from its configuration, deterministically from `seed`.
    public static func load(_ config: DatasetConfig, seed: UInt64) throws(DatasetError) -> Dataset {
        try config.kind.descriptor.make(config, seed: seed)
    }

    /// The shape a configuration gives: from the parameters for the generated kinds, by reading the
    /// data for `text` and `csv`. (The experiments read shapes through `DatasetCatalog.shape`,
    /// which keeps the data it read; this one is for callers without a catalog.)
    public static func shape(for config: DatasetConfig) throws(DatasetError) -> DatasetShape {
        let descriptor = config.kind.descriptor
        if let shape = descriptor.shape(config.resolved()) { return shape }
        return try descriptor.make(config, seed: 0).shape
    }
}

/// A problem with a data file, located at its line and column (1-based; 0 when unknown).
public typealias DatasetError = DataFileError
