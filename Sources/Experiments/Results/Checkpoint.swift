import CSV
import Foundation
import RNNCore

/// A run's progress, saved after every epoch and when a run is stopped between batches (SPEC 6):
/// enough for a restarted run to end bit-identical to an uninterrupted one (weights and every
/// metrics row, timing columns aside).
///
/// What it holds: the trainer's state (parameters, optimizer step and moments), the records of
/// the epochs done, and the position inside the next epoch: the batches already trained and the
/// epoch's running sums. The data order needs no state of its own: epoch `e`'s shuffle is a pure
/// function of (seed, e), and a stream's lanes start from zero at every epoch, which is where a
/// stream epoch (one batch of all lanes) is checkpointed.
public struct Checkpoint: Sendable, Equatable {
    /// The run's canonical configuration (stamped by `ResultsStore.saveCheckpoint`): a
    /// checkpoint of another configuration is not used.
    public var canonicalConfig: String
    public var trainer: TrainerState
    /// Epochs 0 ... e, done.
    public var records: [EpochRecord]
    /// Batches of epoch e + 1 already trained (0 at an epoch boundary).
    public var batchesDone: Int
    /// Epoch e + 1's running sums over those batches.
    public var partial: EpochSums
    /// Seconds the run had trained before the checkpoint (so `wall_s` goes on counting).
    public var elapsedSeconds: Double
    /// Gradient diagnostics recorded so far (empty when off).
    public var diagnostics = DiagnosticsState()

    /// Running sums of one epoch's batches.
    public struct EpochSums: Sendable, Equatable {
        public var lossSum = 0.0
        public var elements = 0
        public var gradNormSum = 0.0
        public var updates = 0
        public var sampleSteps = 0
        /// Seconds spent in this epoch's training so far.
        public var seconds = 0.0
        public init() {}
    }

    public init(canonicalConfig: String, trainer: TrainerState, records: [EpochRecord], batchesDone: Int,
                partial: EpochSums, elapsedSeconds: Double) {
        self.canonicalConfig = canonicalConfig
        self.trainer = trainer
        self.records = records
        self.batchesDone = batchesDone
        self.partial = partial
        self.elapsedSeconds = elapsedSeconds
    }

    static let format = "rnn-exp checkpoint 1"

    /// One safetensors file: the state as F64 tensors, the rest as metadata (numbers as the hex
    /// of their bits, so they read back exactly).
    func encoded(metric: MetricKind) -> Data {
        let p = trainer.parameters.count
        let tensors = [
            Safetensors.Tensor(name: "parameters", shape: [p], values: trainer.parameters),
            Safetensors.Tensor(name: "optimizer.first", shape: [trainer.optimizerFirst.count], values: trainer.optimizerFirst),
            Safetensors.Tensor(name: "optimizer.second", shape: [trainer.optimizerSecond.count], values: trainer.optimizerSecond),
        ]
        let sums = [partial.lossSum, partial.gradNormSum, partial.seconds, elapsedSeconds].map(Self.exact)
            + [partial.elements, partial.updates, partial.sampleSteps, batchesDone, trainer.optimizerStep].map(String.init)
        let metadata = ["format": Self.format, "config": canonicalConfig, "progress": sums.joined(separator: " "),
                        "records": ResultsStore.metricsCSV(records, metric: metric, diagnostics: true),
                        "gradient_rows": ResultsStore.csv(diagnostics.gradientRows, GradientRow.columns),
                        "credit_rows": ResultsStore.csv(diagnostics.creditRows, CreditRow.columns),
                        "credit_partial": diagnostics.partialText]
        return Safetensors.encode(tensors, precision: .float64, metadata: metadata)
    }

    /// Reads a checkpoint back; a plain sentence when the file is damaged or not a checkpoint.
    static func decode(_ data: Data, metric: MetricKind) -> Result<Checkpoint, SafetensorsError> {
        let file: Safetensors.File
        switch Safetensors.decode(data) {
        case .success(let f): file = f
        case .failure(let e): return .failure(e)
        }
        let m = file.metadata
        guard m["format"] == format else { return .failure(.init("not an rnn-exp checkpoint (format \(m["format"] ?? "missing"))")) }
        guard let config = m["config"], let progress = m["progress"]?.split(separator: " ").map(String.init),
              progress.count == 9, let recordsText = m["records"] else {
            return .failure(.init("the checkpoint's metadata is incomplete"))
        }
        let reals = progress[0..<4].compactMap(Self.real), ints = progress[4..<9].compactMap { Int($0) }
        guard reals.count == 4, ints.count == 5, ints.allSatisfy({ $0 >= 0 }) else {
            return .failure(.init("the checkpoint's progress numbers are damaged"))
        }
        guard let parameters = file.tensors["parameters"]?.values, let first = file.tensors["optimizer.first"]?.values,
              let second = file.tensors["optimizer.second"]?.values else {
            return .failure(.init("the checkpoint lacks its parameter or optimizer tensors"))
        }
        guard let table = try? CSVTable.parse(Data(recordsText.utf8), file: "checkpoint records") else {
            return .failure(.init("the checkpoint's epoch records are damaged"))
        }
        let records = table.rows.compactMap { EpochRecord(fields: $0, header: table.header, metric: metric) }
        guard records.count == table.rows.count, !records.isEmpty,
              records.enumerated().allSatisfy({ $0.offset == $0.element.epoch }) else {
            return .failure(.init("the checkpoint's epoch records are damaged"))
        }
        var partial = EpochSums()
        partial.lossSum = reals[0]; partial.gradNormSum = reals[1]; partial.seconds = reals[2]
        partial.elements = ints[0]; partial.updates = ints[1]; partial.sampleSteps = ints[2]
        let trainer = TrainerState(parameters: parameters, optimizerStep: ints[4], optimizerFirst: first, optimizerSecond: second)
        var checkpoint = Checkpoint(canonicalConfig: config, trainer: trainer, records: records, batchesDone: ints[3],
                                    partial: partial, elapsedSeconds: reals[3])
        guard let partialCredit = DiagnosticsState.partial(m["credit_partial"] ?? "") else {
            return .failure(.init("the checkpoint's diagnostics are damaged"))
        }
        checkpoint.diagnostics = DiagnosticsState(
            gradientRows: ResultsStore.rows(m["gradient_rows"].map { Data($0.utf8) }, file: "checkpoint", GradientRow.init(fields:)),
            creditRows: ResultsStore.rows(m["credit_rows"].map { Data($0.utf8) }, file: "checkpoint", CreditRow.init(fields:)),
            creditSum: partialCredit.sum, creditCount: partialCredit.count)
        return .success(checkpoint)
    }

    static func exact(_ d: Double) -> String { String(d.bitPattern, radix: 16) }
    static func real(_ s: String) -> Double? { UInt64(s, radix: 16).map(Double.init(bitPattern:)) }
}
