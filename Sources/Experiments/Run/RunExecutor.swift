import Foundation
import RNNCore
import RNNDatasets

/// Trains one run: builds the dataset and the model, evaluates epoch 0, then trains `epochs`
/// epochs, evaluating the validation split after each (SPEC section 6). With checkpoints, it
/// saves its progress after every epoch and when stopped, and continues from a saved one.
public enum RunExecutor {
    /// - Parameters:
    ///   - onEpoch: called after every epoch with its record (progress, per-epoch files).
    ///   - shouldStop: polled between batches; true stops the run as `.interrupted` (after
    ///     `checkpoint` saved where it stopped).
    ///   - resume: a checkpoint of this run to continue from (nil: start at epoch 0).
    ///   - checkpoint: called with the run's progress after every epoch and at a stop.
    public static func execute(_ config: ExperimentConfig, datasets: DatasetCatalog,
                               onEpoch: (EpochRecord) -> Void = { _ in },
                               shouldStop: () -> Bool = { false },
                               resume: Checkpoint? = nil,
                               checkpoint: (Checkpoint) -> Void = { _ in }) -> RunOutcome {
        switch config.precision {
        case .float32:
            return Engine<Float>.execute(config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop,
                                         resume: resume, checkpoint: checkpoint)
        case .float64:
            return Engine<Double>.execute(config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop,
                                          resume: resume, checkpoint: checkpoint)
        }
    }

    enum Engine<Scalar: RNNScalar> {
        static func execute(_ config: ExperimentConfig, datasets: DatasetCatalog, onEpoch: (EpochRecord) -> Void,
                            shouldStop: () -> Bool, resume: Checkpoint?, checkpoint: (Checkpoint) -> Void) -> RunOutcome {
            let spec = config.networkSpec
            var start = Date()
            var outcome = RunOutcome(status: .done, records: [], initialParameters: [], finalParameters: [], spec: spec)
            let setup: RunSetup
            do { setup = try RunSetup.prepare(config, datasets: datasets) } catch {
                outcome.status = .failed(reason: error.description)
                return outcome
            }
            let dataset = setup.dataset
            outcome.baseline = dataset.baseline
            outcome.floor = dataset.floor
            let trainer = TruncatedBPTT<Scalar>(spec: spec, parameters: setup.initialParameters, truncation: config.truncation,
                                                optimizer: config.optimizer, clipNorm: config.clipNorm,
                                                diagnostics: config.diagnostics)
            let recorder = config.diagnostics.isOff ? nil : DiagnosticsRecorder(spec: spec)
            func finishDiagnostics() {
                outcome.gradientRows = recorder?.gradientRows ?? []
                outcome.creditRows = recorder?.creditRows ?? []
            }
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

            func save(_ batchesDone: Int, _ sums: Checkpoint.EpochSums) {
                var c = Checkpoint(canonicalConfig: "", trainer: trainer.exportState(), records: outcome.records,
                                   batchesDone: batchesDone, partial: sums, elapsedSeconds: Date().timeIntervalSince(start))
                c.diagnostics = recorder?.state ?? DiagnosticsState()
                checkpoint(c)
            }

            var firstEpoch = 1, skipBatches = 0, resumed = Checkpoint.EpochSums()
            // A stop is honoured only after this execution trained a batch, so a run that is
            // stopped as soon as it starts (a Slurm task signalled at once) still progresses.
            var trainedABatch = false
            if let c = resume, let last = c.records.last, trainer.restore(c.trainer) {
                // Continue: the epochs done, then epoch e + 1 from its first untrained batch.
                outcome.records = c.records
                firstEpoch = last.epoch + 1
                skipBatches = c.batchesDone
                resumed = c.partial
                recorder?.restore(c.diagnostics, epochInProgress: firstEpoch)
                start = Date(timeIntervalSinceNow: -c.elapsedSeconds)
            } else {
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
                save(0, Checkpoint.EpochSums())
            }

            for epoch in firstEpoch...max(firstEpoch, config.epochs) where epoch <= config.epochs {
                var sums = epoch == firstEpoch ? resumed : Checkpoint.EpochSums()
                let skip = epoch == firstEpoch ? skipBatches : 0
                var clock = Date()
                for (index, batch) in batches(dataset.train, epoch: epoch, shuffle: config.shuffle).enumerated() where index >= skip {
                    if trainedABatch && shouldStop() {
                        sums.seconds += Date().timeIntervalSince(clock)
                        save(index, sums)
                        outcome.status = .interrupted
                        return outcome
                    }
                    let r = trainer.train(batch) { event in
                        if let d = event.diagnostics { recorder?.record(epoch: epoch, d, gradients: config.diagnostics.gradientEvery > 0) }
                    }
                    trainedABatch = true
                    sums.lossSum += r.lossSum
                    sums.elements += r.elements
                    sums.gradNormSum += r.gradNormSum
                    sums.updates += r.updates
                    sums.sampleSteps += batch.lengths.reduce(0, +)
                    if let reason = r.divergence {
                        outcome.status = .diverged(epoch: epoch, reason: reason)
                        outcome.finalParameters = trainer.parameters
                        finishDiagnostics()
                        return outcome
                    }
                }
                sums.seconds += Date().timeIntervalSince(clock)
                clock = Date()
                let val = evaluate(validationBatches)
                let trainLoss = sums.elements > 0 ? sums.lossSum / Double(sums.elements) : .nan
                let gradient = recorder?.endEpoch(epoch)
                let record = EpochRecord(epoch: epoch, updates: trainer.updates, trainLoss: trainLoss, valLoss: val.loss,
                                         metric: val.metric, gradNorm: sums.updates > 0 ? sums.gradNormSum / Double(sums.updates) : nil,
                                         wallSeconds: Date().timeIntervalSince(start),
                                         sampleStepsPerSecond: sums.seconds > 0 ? Double(sums.sampleSteps) / sums.seconds : nil,
                                         gradCos: gradient?.cos, gradRelBias: gradient?.relBias)
                outcome.records.append(record)
                onEpoch(record)
                if let v = val.loss, !v.isFinite {
                    outcome.status = .diverged(epoch: epoch, reason: "validation loss is \(v)")
                    outcome.finalParameters = trainer.parameters
                    finishDiagnostics()
                    return outcome
                }
                if epoch < config.epochs { save(0, Checkpoint.EpochSums()) }
            }
            outcome.finalParameters = trainer.parameters
            finishDiagnostics()
            return outcome
        }
    }
}
