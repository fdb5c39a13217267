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
        /// The updates' window lengths, summed, and the longest (`BatchResult`).
        public var windowSteps = 0
        public var longestWindow = 0
        /// Seconds spent in this epoch's training so far.
        public var seconds = 0.0
        public init() {}

        /// Adds one trained batch: its `BatchResult` and the steps its lanes hold.
        public mutating func add(_ batch: BatchResult, sampleSteps steps: Int) {
            lossSum += batch.lossSum
            elements += batch.elements
            gradNormSum += batch.gradNormSum
            updates += batch.updates
            sampleSteps += steps
            windowSteps += batch.windowStepsSum
            longestWindow = max(longestWindow, batch.longestWindow)
        }

        /// The epoch's mean training loss over its target elements (NaN when none).
        public var meanLoss: Double { elements > 0 ? lossSum / Double(elements) : .nan }
        /// The mean gradient norm over the epoch's updates (nil when none).
        public var meanGradNorm: Double? { updates > 0 ? gradNormSum / Double(updates) : nil }
        /// Sample steps trained per second (nil before any time passed).
        public var sampleStepsPerSecond: Double? { seconds > 0 ? Double(sampleSteps) / seconds : nil }
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

    /// The format written: version 2 names its progress numbers (`progress`: `name=value` pairs).
    static let format = "rnn-exp checkpoint 2"
    /// Version 1 (before 2026-12-01) wrote the same numbers by position, in `Progress.version1Order`;
    /// it is still read.
    static let formatVersion1 = "rnn-exp checkpoint 1"

    /// The progress numbers of the metadata's `progress` entry, by name. Reals are written as the
    /// hex of their bits (they read back exactly), counts in decimal.
    enum Progress: String, CaseIterable {
        case lossSum = "loss_sum", gradNormSum = "grad_norm_sum", epochSeconds = "epoch_seconds"
        case elapsedSeconds = "elapsed_seconds"
        case elements, updates, sampleSteps = "sample_steps", batchesDone = "batches_done"
        case optimizerStep = "optimizer_step"
        case windowSteps = "window_steps", longestWindow = "longest_window"
        /// Adaptive tau_max's window in force and its ρ (`TrainerState.adaptive`; K 0: none).
        case adaptiveK = "adaptive_k", adaptiveRho = "adaptive_rho"

        var isReal: Bool { [.lossSum, .gradNormSum, .epochSeconds, .elapsedSeconds, .adaptiveRho].contains(self) }
        /// Written since random truncation (2026-12-08; adaptive's since adaptive tau_max): a
        /// checkpoint without them reads them as 0.
        var isOptional: Bool { [.windowSteps, .longestWindow, .adaptiveK, .adaptiveRho].contains(self) }
        /// Version 1's positions: nine numbers, the four reals first.
        static let version1Order: [Progress] = [.lossSum, .gradNormSum, .epochSeconds, .elapsedSeconds,
                                                .elements, .updates, .sampleSteps, .batchesDone, .optimizerStep]
    }

    /// The progress numbers as `name=value` text.
    var progressText: String {
        let reals: [Progress: Double] = [.lossSum: partial.lossSum, .gradNormSum: partial.gradNormSum,
                                         .epochSeconds: partial.seconds, .elapsedSeconds: elapsedSeconds,
                                         .adaptiveRho: trainer.adaptive?.rho ?? 0]
        let counts: [Progress: Int] = [.elements: partial.elements, .updates: partial.updates, .sampleSteps: partial.sampleSteps,
                                       .batchesDone: batchesDone, .optimizerStep: trainer.optimizerStep,
                                       .windowSteps: partial.windowSteps, .longestWindow: partial.longestWindow,
                                       .adaptiveK: trainer.adaptive?.k ?? 0]
        // Adaptive tau_max's fields only where it is on: other checkpoints read as before.
        return Progress.allCases.filter { trainer.adaptive != nil || ($0 != .adaptiveK && $0 != .adaptiveRho) }.map { field in
            "\(field.rawValue)=" + (field.isReal ? Self.exact(reals[field] ?? 0) : String(counts[field] ?? 0))
        }.joined(separator: " ")
    }

    /// The progress numbers of a checkpoint of `format` (nil: missing, unknown, repeated or
    /// damaged; never a number under another name). Reals as `Double`s' bit patterns, counts >= 0.
    static func progress(_ text: String, format: String) -> [Progress: Double]? {
        let words = text.split(separator: " ").map(String.init)
        var pairs: [(Progress, String)] = []
        if format == formatVersion1 {
            guard words.count == Progress.version1Order.count else { return nil }
            pairs = Array(zip(Progress.version1Order, words))
        } else {
            for word in words {
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let field = Progress(rawValue: parts[0]) else { return nil }
                pairs.append((field, parts[1]))
            }
        }
        var values: [Progress: Double] = [:]
        for (field, word) in pairs {
            guard values[field] == nil else { return nil }
            if field.isReal {
                guard let v = real(word) else { return nil }
                values[field] = v
            } else {
                guard let v = Int(word), v >= 0 else { return nil }
                values[field] = Double(v)
            }
        }
        return Progress.allCases.allSatisfy({ values[$0] != nil || $0.isOptional }) ? values : nil
    }

    /// One safetensors file: the state as F64 tensors, the rest as metadata (numbers as the hex
    /// of their bits, so they read back exactly).
    func encoded(metric: MetricKind) -> Data {
        let p = trainer.parameters.count
        let tensors = [
            Safetensors.Tensor(name: "parameters", shape: [p], values: trainer.parameters),
            Safetensors.Tensor(name: "optimizer.first", shape: [trainer.optimizerFirst.count], values: trainer.optimizerFirst),
            Safetensors.Tensor(name: "optimizer.second", shape: [trainer.optimizerSecond.count], values: trainer.optimizerSecond),
        ]
        let metadata = ["format": Self.format, "config": canonicalConfig, "progress": progressText,
                        "records": ResultsStore.metricsCSV(records, metric: metric, diagnostics: true, windows: true, adaptive: true),
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
        guard let version = m["format"], version == format || version == formatVersion1 else {
            return .failure(.init("not an rnn-exp checkpoint (format \(m["format"] ?? "missing"))"))
        }
        guard let config = m["config"], let progressText = m["progress"], let recordsText = m["records"] else {
            return .failure(.init("the checkpoint's metadata is incomplete"))
        }
        guard let progress = Self.progress(progressText, format: version) else {
            return .failure(.init("the checkpoint's progress numbers are damaged"))
        }
        func count(_ field: Progress) -> Int { Int(progress[field] ?? 0) }
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
        partial.lossSum = progress[.lossSum] ?? 0
        partial.gradNormSum = progress[.gradNormSum] ?? 0
        partial.seconds = progress[.epochSeconds] ?? 0
        partial.elements = count(.elements)
        partial.updates = count(.updates)
        partial.sampleSteps = count(.sampleSteps)
        partial.windowSteps = count(.windowSteps)
        partial.longestWindow = count(.longestWindow)
        var trainer = TrainerState(parameters: parameters, optimizerStep: count(.optimizerStep),
                                   optimizerFirst: first, optimizerSecond: second)
        if count(.adaptiveK) > 0 { trainer.adaptive = AdaptiveChoice(k: count(.adaptiveK), rho: progress[.adaptiveRho] ?? 0) }
        var checkpoint = Checkpoint(canonicalConfig: config, trainer: trainer, records: records,
                                    batchesDone: count(.batchesDone), partial: partial,
                                    elapsedSeconds: progress[.elapsedSeconds] ?? 0)
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
