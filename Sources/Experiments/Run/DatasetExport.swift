import CSV
import Foundation
import RNNCore
import RNNDatasets

/// `rnn-exp dataset export FILE`: the dataset of the file's first grid point in the `csv` kind's
/// format (SPEC 4.1, 7), so that a run can be checked outside the tool and re-imported.
///
/// One row per step: `sequence` (0, 1, … in order: the training sequences, then the validation
/// ones), the inputs `x0 … x{I-1}` (a one-hot input as I columns of 0 and 1), then the target —
/// `y` (a class id) or `y0 … y{O-1}` (real or 0/1 values) — empty where the step has none. A stream
/// is written as the `batch` lanes its training (and validation) split is cut into, so that a csv
/// experiment with the same `batch` and `shuffle: false` sees the same batches. Numbers are
/// written in their shortest round-trip form: a csv experiment reads back exactly these values.
public struct DatasetExport: Sendable {
    /// The file's text.
    public let csv: String
    /// Sequences written for training, then for validation.
    public let trainSequences: Int
    public let validationSequences: Int
    public let inputColumns: [String]
    public let targetColumns: [String]
    public let targetType: TargetType
    /// Whether the source is a stream (cut into lanes: re-import with `shuffle: false`).
    public let fromStream: Bool
    /// The run's output units, when a csv experiment would infer fewer (classes absent from the data).
    public let outputUnits: Int?
    public let runID: String
    public let batch: Int

    public static func export(_ plan: ExperimentPlan) throws(RunSetup.Failure) -> DatasetExport {
        guard let run = plan.runs.first else { throw RunSetup.Failure(description: "\(plan.file): the grid has no valid point") }
        let config = run.config
        let dataset: Dataset
        do { dataset = try plan.datasets.dataset(config.dataset, seed: UInt64(config.seed)) } catch {
            throw RunSetup.Failure(description: error.description)
        }
        let outputs = config.networkSpec.outputs
        var train = dataset.train, validation = dataset.validation
        let stream = dataset.layout == .stream
        if stream {
            func lanes(_ split: [SequenceSample]) -> [SequenceSample] {
                split.flatMap { Batcher.lanes(of: $0, count: config.batch, inputSize: dataset.inputSize, outputSize: dataset.outputSize) }
            }
            train = lanes(train)
            validation = lanes(validation)
        }
        let targetType: TargetType
        switch (dataset.train.first?.targets, dataset.defaultLoss) {
        case (.classes?, _): targetType = .class
        case (_, .binaryCrossEntropy): targetType = .binary
        default: targetType = .real
        }
        let inputs = (0..<dataset.inputSize).map { "x\($0)" }
        let targets = targetType == .class ? ["y"] : (0..<dataset.outputSize).map { "y\($0)" }
        var w = CSVWriter(header: ["sequence"] + inputs + targets)
        var largestClass: Int32 = -1
        for (k, s) in (train + validation).enumerated() {
            let id = String(k)
            for n in 0..<s.length {
                var row = [id]
                switch s.inputs {
                case .dense(let x):
                    for i in 0..<dataset.inputSize { row.append(NumberText.format(x[n * dataset.inputSize + i])) }
                case .oneHot(let hot):
                    for i in 0..<dataset.inputSize { row.append(Int(hot[n]) == i ? "1" : "0") }
                }
                switch s.targets {
                case .classes(let ids):
                    row.append(s.mask[n] ? String(ids[n]) : "")
                    if s.mask[n] { largestClass = max(largestClass, ids[n]) }
                case .values(let y):
                    for o in 0..<dataset.outputSize { row.append(s.mask[n] ? NumberText.format(y[n * dataset.outputSize + o]) : "") }
                }
                w.append(row)
            }
        }
        let inferred = targetType == .class ? Int(largestClass) + 1 : dataset.outputSize
        return DatasetExport(csv: w.text, trainSequences: train.count, validationSequences: validation.count,
                             inputColumns: inputs, targetColumns: targets, targetType: targetType, fromStream: stream,
                             outputUnits: inferred != outputs ? outputs : nil, runID: run.id, batch: config.batch)
    }

    /// The `dataset:` block (and the settings) of a csv experiment on the written file at `path`.
    public func yaml(path: String) -> String {
        func list(_ xs: [String]) -> String { "[" + xs.joined(separator: ", ") + "]" }
        var lines = ["dataset: {kind: csv, path: \(YAMLText.quote(path)), sequence: sequence, inputs: \(list(inputColumns)), "
                     + "targets: \(list(targetColumns)), target_type: \(targetType.rawValue), validation: \(validationSequences)}"]
        if fromStream {
            lines.append("training: {batch: \(batch), shuffle: false}   # the stream's \(batch) lanes, in order")
        }
        if let units = outputUnits {
            lines.append("# the last layer: units: \(units) (the run's output units; the file's classes alone give fewer)")
        }
        return lines.joined(separator: "\n")
    }
}
