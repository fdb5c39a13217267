import CSV
import Foundation
import RNNCore

/// A run's progress, saved after every epoch, inside an epoch at most every
/// `CheckpointSchedule.interval` seconds (at a batch or update boundary), and when a run is
/// stopped (at its next update) (SPEC 6): enough for a restarted run to end bit-identical to an
/// uninterrupted one (weights and every metrics row, timing columns aside).
///
/// What it holds: the trainer's state (parameters, optimizer step and moments), the records of
/// the epochs done, and the position inside the next epoch: the batches already trained, the
/// epoch's running sums, and — when it was written inside a batch (a stream epoch is one batch) —
/// that batch's progress (`BatchProgress`: the step reached, the batch's sums so far and what the
/// algorithm carries: stored activations, hidden and cell states, an online algorithm's
/// influence, UORO's pair and `|θ̃|²`). The data order needs no state of its own: epoch `e`'s
/// shuffle is a pure function of (seed, e), a stream's lanes start from zero at every epoch, and
/// UORO's noise and random truncation's points are pure functions of where they fall.
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
    /// Batch `batchesDone` of epoch e + 1 partly trained, when the checkpoint fell inside it (nil at
    /// a batch boundary; format 3).
    public var batch: BatchProgress? = nil

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

    /// The format written: version 3 may hold a batch in progress (`batch`: `name=value` pairs,
    /// `batch_numbers`, and the `carry.*` tensors); without one it is version 2's layout.
    static let format = "rnn-exp checkpoint 3"
    /// Version 2 (before 2027-01) named its progress numbers (`progress`: `name=value` pairs); it
    /// is still read.
    static let formatVersion2 = "rnn-exp checkpoint 2"
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
        var metadata = ["format": Self.format, "config": canonicalConfig, "progress": progressText,
                        "records": ResultsStore.metricsCSV(records, metric: metric, diagnostics: true, windows: true, adaptive: true),
                        "gradient_rows": ResultsStore.csv(diagnostics.gradientRows, GradientRow.columns),
                        "credit_rows": ResultsStore.csv(diagnostics.creditRows, CreditRow.columns),
                        "credit_partial": diagnostics.partialText]
        var carried: [Safetensors.Tensor] = []
        if let b = batch {
            metadata["batch"] = Self.batchText(b)
            metadata["batch_numbers"] = b.numbers.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.exact($0.value))" }
                .joined(separator: " ")
            carried = b.tensors.sorted { $0.key < $1.key }.map {
                Safetensors.Tensor(name: Self.carryPrefix + $0.key, shape: [$0.value.count], values: $0.value)
            }
        }
        return Safetensors.encode(tensors + carried, precision: .float64, metadata: metadata)
    }

    /// Reads a checkpoint back; a plain sentence when the file is damaged or not a checkpoint.
    static func decode(_ data: Data, metric: MetricKind) -> Result<Checkpoint, SafetensorsError> {
        let file: Safetensors.File
        switch Safetensors.decode(data) {
        case .success(let f): file = f
        case .failure(let e): return .failure(e)
        }
        let m = file.metadata
        guard let version = m["format"], version == format || version == formatVersion2 || version == formatVersion1 else {
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
        if let text = m["batch"] {
            guard version == format, let progress = Self.batchProgress(text, numbers: m["batch_numbers"] ?? "",
                                                                       tensors: file.tensors) else {
                return .failure(.init("the checkpoint's batch in progress is damaged"))
            }
            checkpoint.batch = progress
        }
        guard let partialCredit = DiagnosticsState.partial(m["credit_partial"] ?? "") else {
            return .failure(.init("the checkpoint's diagnostics are damaged"))
        }
        checkpoint.diagnostics = DiagnosticsState(
            gradientRows: ResultsStore.rows(m["gradient_rows"].map { Data($0.utf8) }, file: "checkpoint", GradientRow.init(fields:)),
            creditRows: ResultsStore.rows(m["credit_rows"].map { Data($0.utf8) }, file: "checkpoint", CreditRow.init(fields:)),
            creditSum: partialCredit.sum, creditCount: partialCredit.count)
        return .success(checkpoint)
    }

    /// Names of the carried tensors in the file: `carry.` and the `BatchProgress` name.
    static let carryPrefix = "carry."

    /// The batch in progress's numbers as `name=value` text (reals as the hex of their bits).
    static func batchText(_ b: BatchProgress) -> String {
        let r = b.result
        return "step=\(b.step) loss_sum=\(exact(r.lossSum)) grad_norm_sum=\(exact(r.gradNormSum)) elements=\(r.elements) "
            + "updates=\(r.updates) window_steps=\(r.windowStepsSum) longest_window=\(r.longestWindow)"
    }

    /// `name=value` words (nil: a word without `=`, or a name twice).
    static func pairs(_ text: String) -> [String: String]? {
        var out: [String: String] = [:]
        for word in text.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, out[parts[0]] == nil else { return nil }
            out[parts[0]] = parts[1]
        }
        return out
    }

    /// The batch in progress from its metadata and the `carry.*` tensors (nil: damaged — a name
    /// missing, unknown or repeated, a count not a count).
    static func batchProgress(_ text: String, numbers: String, tensors: [String: Safetensors.Tensor]) -> BatchProgress? {
        let counts = ["step", "elements", "updates", "window_steps", "longest_window"]
        guard let words = pairs(text), Set(words.keys) == Set(counts + ["loss_sum", "grad_norm_sum"]),
              let lossSum = words["loss_sum"].flatMap(real), let gradNormSum = words["grad_norm_sum"].flatMap(real) else { return nil }
        var n: [String: Int] = [:]
        for name in counts {
            guard let v = words[name].flatMap({ Int($0) }), v >= 0 else { return nil }
            n[name] = v
        }
        var result = BatchResult()
        result.lossSum = lossSum
        result.gradNormSum = gradNormSum
        result.elements = n["elements"] ?? 0
        result.updates = n["updates"] ?? 0
        result.windowStepsSum = n["window_steps"] ?? 0
        result.longestWindow = n["longest_window"] ?? 0
        guard let numberWords = pairs(numbers) else { return nil }
        var values: [String: Double] = [:]
        for (name, word) in numberWords {
            guard let v = real(word) else { return nil }
            values[name] = v
        }
        var carried: [String: [Double]] = [:]
        for (name, tensor) in tensors where name.hasPrefix(carryPrefix) {
            carried[String(name.dropFirst(carryPrefix.count))] = tensor.values
        }
        return BatchProgress(step: n["step"] ?? 0, result: result, tensors: carried, numbers: values)
    }

    static func exact(_ d: Double) -> String { String(d.bitPattern, radix: 16) }
    static func real(_ s: String) -> Double? { UInt64(s, radix: 16).map(Double.init(bitPattern:)) }
}
