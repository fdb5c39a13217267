import Foundation
import RNNCore
import RNNDatasets

/// Trains one run: builds the dataset and the model, evaluates epoch 0, then trains `epochs`
/// epochs, evaluating the validation split after each (SPEC section 6).
public enum RunExecutor {
    /// - Parameters:
    ///   - onEpoch: called after every epoch with its record (progress, per-epoch files).
    ///   - shouldStop: polled between batches; true stops the run as `.interrupted`.
    public static func execute(_ config: ExperimentConfig, datasets: DatasetShapeCache,
                               onEpoch: (EpochRecord) -> Void = { _ in },
                               shouldStop: () -> Bool = { false }) -> RunOutcome {
        switch config.precision {
        case .float32: return Engine<Float>.execute(config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop)
        case .float64: return Engine<Double>.execute(config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop)
        }
    }

    enum Engine<Scalar: RNNScalar> {
        static func execute(_ config: ExperimentConfig, datasets: DatasetShapeCache,
                            onEpoch: (EpochRecord) -> Void, shouldStop: () -> Bool) -> RunOutcome {
            let spec = config.networkSpec
            let start = Date()
            var outcome = RunOutcome(status: .done, records: [], initialParameters: [], finalParameters: [], spec: spec)
            let setup: RunSetup
            do { setup = try RunSetup.prepare(config, datasets: datasets) } catch {
                outcome.status = .failed(reason: error.description)
                return outcome
            }
            let dataset = setup.dataset
            outcome.baseline = dataset.baseline
            let trainer = TruncatedBPTT<Scalar>(spec: spec, parameters: setup.initialParameters, truncation: config.truncation,
                                                optimizer: config.optimizer, clipNorm: config.clipNorm)
            outcome.initialParameters = trainer.parameters
            outcome.finalParameters = outcome.initialParameters

            func batches(_ split: [SequenceSample], epoch: Int, shuffle: Bool) -> [SequenceBatch<Scalar>] {
                setup.batches(split, config, epoch: epoch, shuffle: shuffle)
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
