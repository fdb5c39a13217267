import RNNCore

/// `csv`: the user's own sequences (SPEC section 4.1). One row per time step; rows with the same
/// value in the `sequence` column form one sequence, in file order (sequences in order of first
/// appearance). An empty target cell means "no target at this step". `validation: N` takes the
/// last N sequences; `validation_path` names a second file instead.
public enum CSVDataset: DatasetKindDescriptor {
    public static let kind = DatasetKind.csv
    public static let layout = DatasetLayout.sequences
    static let whenMissing = "missing (a csv dataset needs path, sequence, inputs and targets)"
    public static let keys = DatasetKey.sizes(train: nil, validation: 0) + [
        .file("path", \.path, whenMissing: whenMissing),
        .name("sequence", \.sequence, whenMissing: whenMissing),
        .names("inputs", \.inputColumns, whenMissing: whenMissing),
        .names("targets", \.targetColumns, whenMissing: whenMissing),
        .choice("target_type", \.targetType, what: "target type", default: TargetType.real),
        .file("validation_path", \.validationPath),
        .integers("lags", \.lags, in: 0...DatasetLimits.sequenceLength),
    ]
    public static let readsFiles = true

    /// `lags` declares what the data's targets depend on, for `explain`, the report and the
    /// predicted frontier; it changes no run, so it stays out of the canonical config (and the run id).
    public static var annotationKeys: [String] { ["lags"] }

    /// The lags the file declares (SPEC 3.2), if any.
    public static func dependencyLags(_ c: DatasetConfig) -> DependencyLags? {
        guard let lags = c.lags, !lags.isEmpty else { return nil }
        return .exact(lags)
    }

    /// Known only from the file (the number of classes).
    public static func shape(_ config: DatasetConfig) -> DatasetShape? { nil }

    /// Unknown until the file is read: counted as 1.
    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .estimate(1) }

    /// With class targets, the output layer may be wider than the largest class id in the file.
    public static func acceptsExtraOutputUnits(_ c: DatasetConfig) -> Bool { c.targetType == .class }

    public static func make(_ config: DatasetConfig, seed: UInt64) throws(DatasetError) -> Dataset { try load(config) }

    public static func load(_ config: DatasetConfig) throws(DatasetError) -> Dataset {
        let c = config.resolved()
        guard let path = c.path else { throw DatasetError(file: "csv", "dataset.path is missing") }
        let targetType = c.targetType ?? .real
        var train = try readSequences(path: path, config: c, targetType: targetType)
        var validation: [SequenceSample] = []
        if let vp = c.validationPath {
            validation = try readSequences(path: vp, config: c, targetType: targetType)
        } else if let n = c.validation, n > 0 {
            guard n < train.count else {
                throw DatasetError(file: path, "validation: \(n) takes every sequence of the file (it has \(train.count)); leave some for training")
            }
            validation = Array(train.suffix(n))
            train.removeLast(n)
        }
        if let t = c.train, t < train.count { train = Array(train.prefix(t)) }
        let outputs: Int
        switch targetType {
        case .class:
            var maxID: Int32 = 0
            for s in train + validation { if case .classes(let ids) = s.targets { maxID = max(maxID, ids.max() ?? 0) } }
            outputs = c.classes ?? Int(maxID) + 1
        case .real, .binary:
            outputs = c.targetColumns?.count ?? 1
        }
        let loss: Loss = targetType == .class ? .crossEntropy : targetType == .binary ? .binaryCrossEntropy : .mse
        let metric: MetricKind = targetType == .real ? .none : .accuracy
        return Dataset(kind: kind, layout: layout, inputSize: c.inputColumns?.count ?? 0, outputSize: outputs,
                       defaultLoss: loss, metric: metric, train: train, validation: validation)
    }
}
