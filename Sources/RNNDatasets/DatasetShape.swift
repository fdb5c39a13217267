import RNNCore

/// What a dataset declares about itself: its sizes, the loss its targets call for, its metric and
/// its layout. Known from the parameters alone for the generated kinds (`DatasetKindDescriptor.shape`),
/// and from the data for `text` and `csv`.
public struct DatasetShape: Sendable, Equatable, CustomStringConvertible {
    /// Input size I (the one-hot width for symbol inputs).
    public var inputs: Int
    /// Output size O: real targets per step, or the number of classes.
    public var outputs: Int
    /// The loss the targets call for (class targets: cross-entropy).
    public var loss: Loss
    public var metric: MetricKind
    public var layout: DatasetLayout

    public init(inputs: Int, outputs: Int, loss: Loss, metric: MetricKind, layout: DatasetLayout) {
        self.inputs = inputs
        self.outputs = outputs
        self.loss = loss
        self.metric = metric
        self.layout = layout
    }

    public var description: String {
        "\(inputs) in, \(outputs) out, \(loss.rawValue), metric \(metric.rawValue), \(layout.rawValue)"
    }
}
