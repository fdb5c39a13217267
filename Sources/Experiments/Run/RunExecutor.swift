import Foundation
import RNNCore
import RNNDatasets

/// One row of a run's `metrics.csv`.
public struct EpochRecord: Sendable, Equatable {
    public var epoch: Int
    /// Optimizer steps so far, cumulative.
    public var updates: Int
    public var trainLoss: Double
    public var valLoss: Double?
    public var metric: Double?
    /// Mean pre-clip gradient norm over the epoch's updates (nil for epoch 0).
    public var gradNorm: Double?
    /// Seconds since the run started.
    public var wallSeconds: Double
    /// Training sample-steps (lane steps) per second in this epoch (nil for epoch 0).
    public var sampleStepsPerSecond: Double?
}

/// How a run ended.
public enum RunStatus: Sendable, Equatable {
    case done
    /// NaN or infinity appeared in epoch `epoch`; training stopped there.
    case diverged(epoch: Int, reason: String)
    case failed(reason: String)
    /// Stopped by a signal; nothing is recorded, the run starts over next time.
    case interrupted

    /// The text of the `status` file: `done`, `diverged: epoch 3: ...`, `failed: ...`.
    public var fileText: String {
        switch self {
        case .done: return "done\n"
        case .diverged(let e, let r): return "diverged: epoch \(e): \(r)\n"
        case .failed(let r): return "failed: \(r)\n"
        case .interrupted: return "interrupted\n"
        }
    }

    public var word: String {
        switch self {
        case .done: return "done"
        case .diverged: return "diverged"
        case .failed: return "failed"
        case .interrupted: return "interrupted"
        }
    }

    public static func parse(_ text: String) -> RunStatus? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if t == "done" { return .done }
        if t.hasPrefix("diverged") {
            let parts = t.split(separator: ":", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
            let epoch = parts.count > 1 ? Int(parts[1].replacingOccurrences(of: "epoch ", with: "")) ?? 0 : 0
            return .diverged(epoch: epoch, reason: parts.count > 2 ? parts[2] : "")
        }
        if t.hasPrefix("failed") { return .failed(reason: String(t.dropFirst("failed".count)).trimmingCharacters(in: CharacterSet(charactersIn: ": "))) }
        return nil
    }
}

/// What a run produced.
public struct RunOutcome: Sendable {
    public var status: RunStatus
    public var records: [EpochRecord]
    public var initialParameters: [Double]
    public var finalParameters: [Double]
    public var spec: NetworkSpec
    public var baseline: (loss: Double, description: String)?
}

/// Trains one run: builds the dataset and the model, evaluates epoch 0, then trains `epochs`
/// epochs, evaluating the validation split after each (SPEC section 6).
public enum RunExecutor {
    /// - Parameters:
    ///   - onEpoch: called after every epoch with its record (progress, per-epoch files).
    ///   - shouldStop: polled between batches; true stops the run as `.interrupted`.
    public static func execute(_ config: ExperimentConfig, datasets: DatasetCatalog,
                               onEpoch: (EpochRecord) -> Void = { _ in },
                               shouldStop: () -> Bool = { false }) -> RunOutcome {
        switch config.precision {
        case .float32: return Engine<Float>.execute(config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop)
        case .float64: return Engine<Double>.execute(config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop)
        }
    }

    enum Engine<Scalar: RNNScalar> {
        static func execute(_ config: ExperimentConfig, datasets: DatasetCatalog,
                            onEpoch: (EpochRecord) -> Void, shouldStop: () -> Bool) -> RunOutcome {
            let spec = config.networkSpec
            let start = Date()
            var outcome = RunOutcome(status: .done, records: [], initialParameters: [], finalParameters: [], spec: spec)
            let seed = UInt64(config.seed)
            let dataset: Dataset
            do { dataset = try datasets.dataset(config.dataset, seed: seed) } catch {
                outcome.status = .failed(reason: error.description)
                return outcome
            }
            outcome.baseline = dataset.baseline
            var initial = spec.initialParameters(seed: seed)
            if let path = config.initFrom {
                guard let data = FileManager.default.contents(atPath: path) else {
                    outcome.status = .failed(reason: "cannot read \(path)")
                    return outcome
                }
                switch Safetensors.decode(data, spec: spec) {
                case .success(let p): initial = p
                case .failure(let e):
                    outcome.status = .failed(reason: "\(path): \(e)")
                    return outcome
                }
            }
            let trainer = TruncatedBPTT<Scalar>(spec: spec, parameters: initial, truncation: config.truncation,
                                                optimizer: config.optimizer, clipNorm: config.clipNorm)
            outcome.initialParameters = trainer.parameters
            outcome.finalParameters = outcome.initialParameters
            let inputs = dataset.inputSize, outputs = spec.outputs

            func batches(_ split: [SequenceSample], epoch: Int, shuffle: Bool) -> [SequenceBatch<Scalar>] {
                Batcher.batches(split, layout: dataset.layout, batch: config.batch, shuffle: shuffle,
                                seed: seed, epoch: epoch, inputSize: inputs, outputSize: outputs)
            }
            let validationBatches = batches(dataset.validation, epoch: 0, shuffle: false)
            func evaluate(_ list: [SequenceBatch<Scalar>]) -> (loss: Double?, metric: Double?) {
                var metric = MetricAccumulator(kind: dataset.metric)
                var sum = 0.0, count = 0
                for b in list {
                    let (s, c) = trainer.evaluate(b, metric: &metric)
                    sum += s
                    count += c
                }
                guard count > 0 else { return (nil, nil) }
                let mean = sum / Double(count)
                return (mean, metric.value(meanLoss: mean))
            }

            // Epoch 0: the initial weights on both splits.
            let train0 = evaluate(batches(dataset.train, epoch: 0, shuffle: false))
            let val0 = evaluate(validationBatches)
            let first = EpochRecord(epoch: 0, updates: 0, trainLoss: train0.loss ?? .nan, valLoss: val0.loss, metric: val0.metric,
                                    gradNorm: nil, wallSeconds: Date().timeIntervalSince(start), sampleStepsPerSecond: nil)
            outcome.records.append(first)
            onEpoch(first)
            if !(train0.loss ?? 0).isFinite || !(val0.loss ?? 0).isFinite {
                outcome.status = .diverged(epoch: 0, reason: "the initial loss is not finite")
                return outcome
            }

            for epoch in 1...config.epochs {
                let epochStart = Date()
                var lossSum = 0.0, elements = 0, gradSum = 0.0, updates = 0, steps = 0
                for batch in batches(dataset.train, epoch: epoch, shuffle: config.shuffle) {
                    if shouldStop() {
                        outcome.status = .interrupted
                        return outcome
                    }
                    let r = trainer.train(batch)
                    lossSum += r.lossSum
                    elements += r.elements
                    gradSum += r.gradNormSum
                    updates += r.updates
                    steps += batch.lengths.reduce(0, +)
                    if let reason = r.divergence {
                        outcome.status = .diverged(epoch: epoch, reason: reason)
                        outcome.finalParameters = trainer.parameters
                        return outcome
                    }
                }
                let seconds = Date().timeIntervalSince(epochStart)
                let val = evaluate(validationBatches)
                let trainLoss = elements > 0 ? lossSum / Double(elements) : .nan
                let record = EpochRecord(epoch: epoch, updates: trainer.updates, trainLoss: trainLoss, valLoss: val.loss,
                                         metric: val.metric, gradNorm: updates > 0 ? gradSum / Double(updates) : nil,
                                         wallSeconds: Date().timeIntervalSince(start),
                                         sampleStepsPerSecond: seconds > 0 ? Double(steps) / seconds : nil)
                outcome.records.append(record)
                onEpoch(record)
                if let v = val.loss, !v.isFinite {
                    outcome.status = .diverged(epoch: epoch, reason: "validation loss is \(v)")
                    outcome.finalParameters = trainer.parameters
                    return outcome
                }
            }
            outcome.finalParameters = trainer.parameters
            return outcome
        }
    }
}
