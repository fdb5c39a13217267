import Foundation
import RNNCore
import RNNDatasets

/// Trains one run: builds the dataset and the training algorithm, evaluates epoch 0, then trains
/// `epochs` epochs, evaluating the validation split after each (SPEC section 6). With checkpoints,
/// it saves its progress after every epoch, inside epochs as `CheckpointSchedule` says, and when
/// stopped, and continues from a saved one.
public enum RunExecutor {
    /// - Parameters:
    ///   - onEpoch: called after every epoch with its record (progress, per-epoch files).
    ///   - shouldStop: polled after every update (and between batches) — keep it cheap, an atomic
    ///     flag read; true stops the run as `.interrupted` at that update boundary (after
    ///     `checkpoint` saved where it stopped, inside the batch if need be).
    ///   - resume: a checkpoint of this run to continue from, or the final state of a finished run
    ///     whose configuration differs only in fewer `epochs` (nil: start at epoch 0).
    ///   - checkpoints: how often a checkpoint is written inside an epoch.
    ///   - checkpoint: called with the run's progress after every epoch, when `checkpoints` says,
    ///     and at a stop.
    public static func execute(_ config: ExperimentConfig, datasets: DatasetCatalog,
                               onEpoch: (EpochRecord) -> Void = { _ in },
                               shouldStop: () -> Bool = { false },
                               resume: Checkpoint? = nil,
                               checkpoints: CheckpointSchedule = CheckpointSchedule(),
                               checkpoint: (Checkpoint) -> Void = { _ in }) -> RunOutcome {
        switch config.precision {
        case .float32:
            return run(Float.self, config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop,
                       resume: resume, checkpoints: checkpoints, checkpoint: checkpoint)
        case .float64:
            return run(Double.self, config, datasets: datasets, onEpoch: onEpoch, shouldStop: shouldStop,
                       resume: resume, checkpoints: checkpoints, checkpoint: checkpoint)
        }
    }

    /// The run's life: set up, start (epoch 0) or resume, train epoch after epoch, finish. Every
    /// exit goes through `RunTrainer.finish`.
    static func run<Scalar: RNNScalar>(_: Scalar.Type, _ config: ExperimentConfig, datasets: DatasetCatalog,
                                       onEpoch: (EpochRecord) -> Void, shouldStop: () -> Bool,
                                       resume: Checkpoint?, checkpoints: CheckpointSchedule,
                                       checkpoint save: (Checkpoint) -> Void) -> RunOutcome {
        let clock = CheckpointClock(checkpoints)
        // Every write is timed, so that the next one inside an epoch waits long enough (`CheckpointClock`).
        func checkpoint(_ c: Checkpoint) {
            let start = DispatchTime.now().uptimeNanoseconds
            save(c)
            clock.written(seconds: Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9)
        }
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
            switch trainer.trainEpoch(from: position, shouldStop: shouldStop, due: clock, checkpoint: checkpoint) {
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
    /// running sums `sums`, and batch `batchesDone` from `batch` when it is partly trained.
    struct Position {
        var epoch: Int
        var batchesDone = 0
        var sums = Checkpoint.EpochSums()
        var batch: BatchProgress? = nil
    }

    /// How an epoch ended.
    enum EpochEnd {
        /// Trained and evaluated: its record (the caller checks the validation loss).
        case finished(EpochRecord)
        /// `shouldStop` answered true at an update or batch boundary; the checkpoint is saved.
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
    /// A stop is honoured only after this execution trained something (an update, or a piece of
    /// a long online window), so a run that is stopped as soon as it starts (a Slurm task
    /// signalled at once) still progresses.
    private var progressed = false

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

    /// Continues from `c`: the epochs done, then epoch e + 1 from its first untrained batch (or
    /// from inside it); nil (nothing changed) when the checkpoint has no epoch or does not fit the
    /// algorithm or the batch it was written inside.
    func resume(from c: Checkpoint) -> Position? {
        guard let last = c.records.last else { return nil }
        if let progress = c.batch {
            let epoch = last.epoch + 1
            let batches: [SequenceBatch<Scalar>] = setup.batches(setup.dataset.train, config, epoch: epoch, shuffle: config.shuffle)
            guard c.batchesDone < batches.count,
                  algorithm.problem(resuming: progress, in: batches[c.batchesDone],
                                    at: BatchPosition(epoch: epoch, index: c.batchesDone)) == nil else { return nil }
        }
        guard algorithm.restore(c.trainer) else { return nil }
        outcome.records = c.records
        let position = Position(epoch: last.epoch + 1, batchesDone: c.batchesDone, sums: c.partial, batch: c.batch)
        recorder?.restore(c.diagnostics, epochInProgress: position.epoch)
        started = Date(timeIntervalSinceNow: -c.elapsedSeconds)
        return position
    }

    /// Trains epoch `position.epoch` from its batch `position.batchesDone` on (from inside it when
    /// `position.batch` says so), then evaluates the validation split. Between batches and at
    /// every update boundary inside one it asks `shouldStop` and `due`: at a stop it saves the
    /// position through `checkpoint` and returns; when a checkpoint is due it saves and goes on.
    func trainEpoch(from position: Position, shouldStop: () -> Bool, due: CheckpointClock,
                    checkpoint: (Checkpoint) -> Void) -> EpochEnd {
        let epoch = position.epoch
        var sums = position.sums
        let clock = Date()
        /// The sums with the seconds trained so far, for a checkpoint written now.
        func sumsNow() -> Checkpoint.EpochSums {
            var s = sums
            s.seconds += Date().timeIntervalSince(clock)
            return s
        }
        let batches: [SequenceBatch<Scalar>] = setup.batches(setup.dataset.train, config, epoch: epoch, shuffle: config.shuffle)
        let sampleGradients = config.diagnostics.gradientEvery > 0
        let estimated = (algorithm as? TruncatedBPTT<Scalar>)?.adaptiveSeconds ?? 0
        var carried = position.batch
        for (index, batch) in batches.enumerated() where index >= position.batchesDone {
            if carried == nil {  // a batch boundary
                let stop = progressed && shouldStop()
                if stop || (progressed && due.isDue) {
                    checkpoint(self.checkpoint(at: Position(epoch: epoch, batchesDone: index, sums: sumsNow())))
                    if stop { return .stopped }
                }
            }
            let at = BatchPosition(epoch: epoch, index: index)
            while true {
                let end = algorithm.train(batch, at: at, resuming: carried, pause: { shouldStop() || due.isDue }) { [recorder] event in
                    if let d = event.diagnostics { recorder?.record(epoch: epoch, d, gradients: sampleGradients) }
                }
                progressed = true
                guard case .paused(let progress) = end else {
                    carried = nil
                    if case .finished(let result) = end {
                        sums.add(result, sampleSteps: batch.lengths.reduce(0, +))
                        if let reason = result.divergence { return .diverged(reason) }
                    }
                    break
                }
                // Inside the batch: save, then stop or go on from the same progress (bit-identical
                // to not pausing: the progress is everything the algorithm carries).
                checkpoint(self.checkpoint(at: Position(epoch: epoch, batchesDone: index, sums: sumsNow(), batch: progress)))
                if shouldStop() { return .stopped }
                carried = progress
            }
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
        c.batch = position.batch
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

/// How often a run writes a checkpoint inside an epoch (besides after every epoch and at a stop):
/// at the first batch or update boundary once `interval` seconds have passed since the last
/// checkpoint, and no sooner than `costFactor` times the last write's duration, so that writing
/// checkpoints takes at most about 1/`costFactor` of the run's time whatever its state's size.
public struct CheckpointSchedule: Sendable, Equatable {
    /// Seconds between checkpoints inside an epoch: what a `kill -9` loses at most (besides a
    /// slow write's share). 0: at every boundary (tests).
    public var interval: Double
    public var costFactor: Double

    public static let defaultInterval: Double = 30
    public static let defaultCostFactor: Double = 100

    public init(interval: Double = CheckpointSchedule.defaultInterval, costFactor: Double = CheckpointSchedule.defaultCostFactor) {
        self.interval = interval
        self.costFactor = costFactor
    }
}

/// When the next checkpoint inside an epoch is due (`CheckpointSchedule`). Polled after every
/// update: it reads the monotonic clock (23 ns) only every `readEvery`-th poll, since on the
/// smallest models an update takes about 1.4 µs (bptt, 8 units, tau_b 1, release build) and a
/// read per update would cost them 1.7%; with `interval` 0 (tests) it reads at every poll.
final class CheckpointClock {
    let schedule: CheckpointSchedule
    private var next: UInt64
    private var polls: UInt = 0
    static let readEvery: UInt = 16

    init(_ schedule: CheckpointSchedule) {
        self.schedule = schedule
        next = Self.now &+ Self.nanoseconds(schedule.interval)
    }

    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func nanoseconds(_ seconds: Double) -> UInt64 {
        seconds.isFinite && seconds > 0 ? UInt64(min(seconds, 1e9) * 1e9) : 0
    }

    var isDue: Bool {
        polls &+= 1
        guard schedule.interval == 0 || polls % Self.readEvery == 0 else { return false }
        return Self.now >= next
    }

    /// A checkpoint was written (any kind), taking `seconds`: the next is due after the interval
    /// and `costFactor` times that.
    func written(seconds: Double) {
        next = Self.now &+ Self.nanoseconds(max(schedule.interval, schedule.costFactor * seconds))
    }
}
