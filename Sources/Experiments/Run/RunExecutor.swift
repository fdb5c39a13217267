import Foundation
import RNNCore
import RNNDatasets

/// Trains one run: builds the dataset and the training algorithm, evaluates epoch 0, then trains
/// `epochs` epochs, evaluating the validation split after each (SPEC section 6). With checkpoints,
/// it saves its progress after every epoch and when stopped, and continues from a saved one.
public enum RunExecutor {
    /// - Parameters:
    ///   - onEpoch: called after every epoch with its record (progress, per-epoch files).
    ///   - shouldStop: polled between batches; true stops the run as `.interrupted` (after
    ///     `checkpoint` saved where it stopped).
    ///   - resume: a checkpoint of this run to continue from, or the final state of a finished run
    ///     whose configuration differs only in fewer `epochs` (nil: start at epoch 0).
    ///   - checkpoint: called with the run's progress after every epoch and at a stop.
    public static func execute(_ config: ExperimentConfig, datasets: DatasetCatalog,
                               onEpoch: (EpochRecord) -> Void = { _ in },
                               shouldStop: () -> Bool = { false },
                               resume: Checkpoint? = nil,
                               checkpoint: (Checkpoint) -> Void = { _ in }) -> RunOutcome {
        switch config.precision {
        case .float32:
            return run(Float.self, config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop,
                       resume: resume, checkpoint: checkpoint)
        case .float64:
            return run(Double.self, config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop,
                       resume: resume, checkpoint: checkpoint)
        }
    }

    /// The run's life: set up, start (epoch 0) or resume, train epoch after epoch, finish. Every
    /// exit goes through `RunTrainer.finish`.
    static func run<Scalar: RNNScalar>(_: Scalar.Type, _ config: ExperimentConfig, datasets: DatasetCatalog,
                                       onEpoch: (EpochRecord) -> Void, shouldStop: () -> Bool,
                                       resume: Checkpoint?, checkpoint: (Checkpoint) -> Void) -> RunOutcome {
        let trainer: RunTrainer<Scalar>
        do { trainer = try RunTrainer(config, datasets: datasets) } catch {
            return RunOutcome(status: .failed(reason: error.description), records: [], initialParameters: [],
                              finalParameters: [], spec: config.networkSpec)
        }
        var position: RunTrainer<Scalar>.Position
        if let c = resume, let resumed = trainer.resume(from: c) {
            position = resumed
        } else {
            let first = trainer.start()
            onEpoch(first.record)
            if let problem = first.problem { return trainer.finish(.diverged(epoch: 0, reason: problem)) }
            position = .init(epoch: 1)
            checkpoint(trainer.checkpoint(at: position))
        }
        while position.epoch <= config.epochs {
            switch trainer.trainEpoch(from: position, shouldStop: shouldStop, checkpoint: checkpoint) {
            case .stopped:
                return trainer.finish(.interrupted)
            case .diverged(let reason):
                return trainer.finish(.diverged(epoch: position.epoch, reason: reason))
            case .finished(let record):
                onEpoch(record)
                if let v = record.valLoss, !v.isFinite {
                    return trainer.finish(.diverged(epoch: position.epoch, reason: "validation loss is \(v)"))
                }
                position = .init(epoch: position.epoch + 1)
                if position.epoch <= config.epochs { checkpoint(trainer.checkpoint(at: position)) }
            }
        }
        return trainer.finish(.done)
    }
}

/// One run in training: its dataset, its training algorithm (`Algorithm.make`), the epochs done so
/// far and the gradient diagnostics recorded. `start` (epoch 0) or `resume`, then `trainEpoch`
/// per epoch, then `finish` once, whatever the ending.
final class RunTrainer<Scalar: RNNScalar> {
    /// Where training goes on: epoch `epoch`, whose first `batchesDone` batches are trained with
    /// running sums `sums`.
    struct Position {
        var epoch: Int
        var batchesDone = 0
        var sums = Checkpoint.EpochSums()
    }

    /// How an epoch ended.
    enum EpochEnd {
        /// Trained and evaluated: its record (the caller checks the validation loss).
        case finished(EpochRecord)
        /// `shouldStop` answered true between batches; the checkpoint is saved.
        case stopped
        /// The loss, a gradient or a weight became NaN or infinite.
        case diverged(String)
    }

    let config: ExperimentConfig
    let setup: RunSetup
    let algorithm: any TrainingAlgorithm<Scalar>
    let recorder: DiagnosticsRecorder?
    let validation: [SequenceBatch<Scalar>]
    private var outcome: RunOutcome
    /// When the run started (moved back by the time a checkpoint had already trained).
    private var started = Date()
    /// A stop is honoured only after this execution trained a batch, so a run that is stopped as
    /// soon as it starts (a Slurm task signalled at once) still progresses.
    private var trainedABatch = false

    init(_ config: ExperimentConfig, datasets: DatasetCatalog) throws(RunSetup.Failure) {
        self.config = config
        setup = try RunSetup.prepare(config, datasets: datasets)
        let spec = config.networkSpec
        do {
            algorithm = try config.algorithm.make(
                spec: spec, parameters: setup.initialParameters, optimizer: config.optimizer,
                clipNorm: config.clipNorm, diagnostics: config.diagnostics, seed: UInt64(config.seed), as: Scalar.self)
        } catch {
            throw RunSetup.Failure(description: "\(error)")
        }
        recorder = config.diagnostics.isOff ? nil : DiagnosticsRecorder(spec: spec)
        let initial = algorithm.parameters
        outcome = RunOutcome(status: .done, records: [], initialParameters: initial, finalParameters: initial, spec: spec)
        outcome.baseline = setup.dataset.baseline
        outcome.floor = setup.dataset.floor
        validation = setup.batches(setup.dataset.validation, config, epoch: 0, shuffle: false)
    }

    /// Epoch 0: the initial weights on both splits; `problem` when a loss is not finite.
    func start() -> (record: EpochRecord, problem: String?) {
        let train0 = evaluate(setup.batches(setup.dataset.train, config, epoch: 0, shuffle: false))
        let val0 = evaluate(validation)
        let record = EpochRecord(epoch: 0, updates: 0, trainLoss: train0.loss ?? .nan, valLoss: val0.loss, metric: val0.metric,
                                 gradNorm: nil, wallSeconds: Date().timeIntervalSince(started), sampleStepsPerSecond: nil)
        outcome.records.append(record)
        let finite = (train0.loss ?? 0).isFinite && (val0.loss ?? 0).isFinite
        return (record, finite ? nil : "the initial loss is not finite")
    }

    /// Continues from `c`: the epochs done, then epoch e + 1 from its first untrained batch; nil
    /// (nothing changed) when the checkpoint has no epoch or does not fit the algorithm.
    func resume(from c: Checkpoint) -> Position? {
        guard let last = c.records.last, algorithm.restore(c.trainer) else { return nil }
        outcome.records = c.records
        let position = Position(epoch: last.epoch + 1, batchesDone: c.batchesDone, sums: c.partial)
        recorder?.restore(c.diagnostics, epochInProgress: position.epoch)
        started = Date(timeIntervalSinceNow: -c.elapsedSeconds)
        return position
    }

    /// Trains epoch `position.epoch` from its batch `position.batchesDone` on, then evaluates the
    /// validation split. At a stop, saves the position through `checkpoint` first.
    func trainEpoch(from position: Position, shouldStop: () -> Bool, checkpoint: (Checkpoint) -> Void) -> EpochEnd {
        let epoch = position.epoch
        var sums = position.sums
        let clock = Date()
        let batches: [SequenceBatch<Scalar>] = setup.batches(setup.dataset.train, config, epoch: epoch, shuffle: config.shuffle)
        let sampleGradients = config.diagnostics.gradientEvery > 0
        let estimated = (algorithm as? TruncatedBPTT<Scalar>)?.adaptiveSeconds ?? 0
        for (index, batch) in batches.enumerated() where index >= position.batchesDone {
            if trainedABatch && shouldStop() {
                sums.seconds += Date().timeIntervalSince(clock)
                checkpoint(self.checkpoint(at: Position(epoch: epoch, batchesDone: index, sums: sums)))
                return .stopped
            }
            let result = algorithm.train(batch, at: BatchPosition(epoch: epoch, index: index)) { [recorder] event in
                if let d = event.diagnostics { recorder?.record(epoch: epoch, d, gradients: sampleGradients) }
            }
            trainedABatch = true
            sums.add(result, sampleSteps: batch.lengths.reduce(0, +))
            if let reason = result.divergence { return .diverged(reason) }
        }
        sums.seconds += Date().timeIntervalSince(clock)
        let val = evaluate(validation)
        let gradient = recorder?.endEpoch(epoch)
        var record = EpochRecord(epoch: epoch, updates: algorithm.updates, trainLoss: sums.meanLoss, valLoss: val.loss,
                                 metric: val.metric, gradNorm: sums.meanGradNorm,
                                 wallSeconds: Date().timeIntervalSince(started),
                                 sampleStepsPerSecond: sums.sampleStepsPerSecond,
                                 gradCos: gradient?.cos, gradRelBias: gradient?.relBias)
        if config.training.randomTruncation, sums.updates > 0 {
            record.meanWindow = Double(sums.windowSteps) / Double(sums.updates)
            record.longestWindow = Double(sums.longestWindow)
        }
        if let adaptive = config.adaptiveTruncation, let choice = algorithm.exportState().adaptive {
            record.chosenTauMax = Double(adaptive.rule.window(choice.k).tauMax)
            record.rho = choice.rho
            record.estimateSeconds = ((algorithm as? TruncatedBPTT<Scalar>)?.adaptiveSeconds ?? 0) - estimated
        }
        outcome.records.append(record)
        return .finished(record)
    }

    /// The run's progress at `position`, for a checkpoint (`ResultsStore.saveCheckpoint` stamps
    /// the configuration).
    func checkpoint(at position: Position) -> Checkpoint {
        var c = Checkpoint(canonicalConfig: "", trainer: algorithm.exportState(), records: outcome.records,
                           batchesDone: position.batchesDone, partial: position.sums,
                           elapsedSeconds: Date().timeIntervalSince(started))
        c.diagnostics = recorder?.state ?? DiagnosticsState()
        return c
    }

    /// The outcome with `status`: the records so far, the current weights, the diagnostics rows,
    /// and, for a run that is `done`, its final state (a checkpoint at the end of its last epoch:
    /// what a longer run of the same configuration continues from).
    func finish(_ status: RunStatus) -> RunOutcome {
        var o = outcome
        o.status = status
        if status == .done, let last = outcome.records.last {
            o.finalState = checkpoint(at: Position(epoch: last.epoch + 1))
        }
        o.finalParameters = algorithm.parameters
        o.gradientRows = recorder?.gradientRows ?? []
        o.creditRows = recorder?.creditRows ?? []
        return o
    }

    /// Mean loss and metric of `batches` with the current weights (nil, nil without targets).
    private func evaluate(_ batches: [SequenceBatch<Scalar>]) -> (loss: Double?, metric: Double?) {
        var metric = MetricAccumulator(kind: setup.dataset.metric)
        var sum = 0.0, count = 0
        for b in batches {
            let (s, c) = algorithm.evaluate(b, metric: &metric)
            sum += s
            count += c
        }
        guard count > 0 else { return (nil, nil) }
        let mean = sum / Double(count)
        return (mean, metric.value(meanLoss: mean))
    }
}
