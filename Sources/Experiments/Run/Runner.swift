import Foundation
import RNNCore

/// Executes planned runs: skips finished ones, claims each run with a lock so that concurrent
/// runners never train the same run at once, trains on `jobs` worker threads (one BLAS thread
/// each), continues runs from their checkpoints (or from the final state of a finished run that
/// differs only in fewer epochs), writes every run's files atomically, and
/// regenerates the summaries as runs finish (at most every `summaryInterval`) and at the end.
public final class Runner: @unchecked Sendable {
    /// Trains one run (the seam a test replaces to simulate a failing run); the default is
    /// `RunExecutor.execute`.
    public typealias Executor = @Sendable (_ run: PlannedRun, _ plan: ExperimentPlan, _ resume: Checkpoint?,
                                           _ onEpoch: (EpochRecord) -> Void, _ shouldStop: () -> Bool,
                                           _ checkpoint: (Checkpoint) -> Void) -> RunOutcome

    public struct Options: Sendable {
        public var jobs: Int
        public var force: Bool
        /// Run only this slice of the grid.
        public var shard: Shard?
        public var executor: Executor

        /// - Parameter checkpoints: how often the default executor checkpoints inside an epoch.
        public init(jobs: Int, force: Bool = false, shard: Shard? = nil, checkpoints: CheckpointSchedule = CheckpointSchedule(),
                    executor: Executor? = nil) {
            self.jobs = jobs
            self.force = force
            self.shard = shard
            self.executor = executor ?? { run, plan, resume, onEpoch, shouldStop, checkpoint in
                RunExecutor.execute(run.config, datasets: plan.datasets, onEpoch: onEpoch, shouldStop: shouldStop,
                                    resume: resume, checkpoints: checkpoints, checkpoint: checkpoint)
            }
        }
    }

    let plans: [ExperimentPlan]
    let store: ResultsStore
    let options: Options
    let observer: RunObserver
    private let lock = NSLock()
    /// Raised once by `requestStop`; every run polls it after each update (one atomic load).
    private let stopRequested = AtomicFlag()

    public init(plans: [ExperimentPlan], store: ResultsStore, options: Options, observer: RunObserver = SilentRunObserver()) {
        self.plans = plans
        self.store = store
        self.options = options
        self.observer = observer
    }

    /// Asks every worker to checkpoint and stop at its run's next update (SIGINT, SIGTERM, SIGUSR1).
    public func requestStop() {
        stopRequested.raise()
    }

    var shouldStop: Bool { stopRequested.isRaised }

    // Shared by the worker threads, guarded by `lock`.
    private var sweepResult = SweepResult()
    private var pending: [(plan: ExperimentPlan, run: PlannedRun)] = []
    private var next = 0

    public func run() -> SweepResult {
        BLASRuntime.useSingleThread()
        sweepResult = SweepResult()
        pending = []
        next = 0
        let selected = Sharding.select(plans, shard: options.shard)
        for item in selected {
            if !options.force && store.isFinished(item.plan.name, item.run) {
                sweepResult.alreadyDone += 1
            } else {
                pending.append(item)
            }
        }
        observer.sweepStarted(total: selected.count, alreadyDone: sweepResult.alreadyDone)
        // Summaries exist even when nothing is left to train.
        for plan in plans {
            if !options.force && !pending.isEmpty { donors[plan.name] = store.donorIndex(plan.name) }
            explainGrids[plan.name] = plan.explainGrids()
            do { try store.writeSummaries(plan, explainGrids: explainGrids[plan.name] ?? []) } catch { sweepResult.writeErrors.append(error.description) }
            lastSummary[plan.name] = Date()
        }
        let group = DispatchGroup()
        let workers = max(1, min(options.jobs, pending.count))
        for _ in 0..<workers {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                while true {
                    lock.lock()
                    guard next < pending.count, sweepResult.writeErrors.isEmpty, !shouldStop else { lock.unlock(); return }
                    let item = pending[next]
                    next += 1
                    lock.unlock()
                    let result = execute(item.plan, item.run)
                    lock.lock()
                    switch result {
                    case .trained(let status):
                        sweepResult.trained += 1
                        if status != .done { sweepResult.problems.append((item.run.id, status)) }
                    case .busy: sweepResult.busyElsewhere += 1
                    case .finishedElsewhere: sweepResult.alreadyDone += 1
                    case .interrupted: sweepResult.interrupted.append(item.run.id)
                    case .writeFailed(let message): sweepResult.writeErrors.append(message)
                    }
                    lock.unlock()
                }
            }
            thread.stackSize = Self.workerStackBytes
            thread.start()
        }
        group.wait()
        observer.sweepFinished()
        for plan in plans {
            do { try store.writeSummaries(plan, explainGrids: explainGrids[plan.name] ?? []) } catch { sweepResult.writeErrors.append(error.description) }
        }
        // Exit status over the whole selection, including runs finished by earlier invocations.
        for item in selected {
            if let s = store.status(item.plan.name, item.run.id), s != .done,
               !sweepResult.problems.contains(where: { $0.id == item.run.id }) {
                sweepResult.problems.append((item.run.id, s))
            }
        }
        return sweepResult
    }

    /// The experiment summaries are regenerated after a run at most this often (and always at
    /// the end of the sweep), and no sooner than `summaryCostFactor` times the last regeneration.
    public static let summaryInterval: TimeInterval = 2
    /// How many times the last regeneration's duration must pass before the next: a regeneration reads
    /// every run of the grid, so with a fixed interval a sweep of N short runs spent a share of
    /// its time on summaries that grew with N (10,000 trivial runs: half); this bounds the share
    /// at about 1/10 whatever N.
    public static let summaryCostFactor: Double = 10

    private var lastSummary: [String: Date] = [:]
    /// How long each experiment's last regeneration took (seconds).
    private var summarySeconds: [String: TimeInterval] = [:]
    /// Each plan's explain grids for `experiment.json`, computed once per `run()` before the
    /// workers start (read-only while they run).
    private var explainGrids: [String: [ExplainGrid]] = [:]
    /// Each plan's finished runs that a longer run can continue from, read once per `run()`
    /// before the workers start and extended as runs finish `done` (guarded by `lock`). A run
    /// finished meanwhile by another process is missed: the run then trains from scratch, to
    /// the same result.
    private var donors: [String: ResultsStore.DonorIndex] = [:]

    /// True (and the clock restarts) when the experiment's summaries are older than
    /// `max(summaryInterval, summaryCostFactor × the last regeneration's time)`.
    private func summaryDue(_ name: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        let wait = max(Self.summaryInterval, Self.summaryCostFactor * (summarySeconds[name] ?? 0))
        if let last = lastSummary[name], now.timeIntervalSince(last) < wait { return false }
        lastSummary[name] = now
        return true
    }

    private func summaryWritten(_ name: String, seconds: TimeInterval) {
        lock.lock(); defer { lock.unlock() }
        summarySeconds[name] = seconds
    }

    private func warn(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        sweepResult.warnings.append(message)
    }

    /// Worker threads train deep call stacks (the engine's generic specialisations); 8 MiB is
    /// Linux's main-thread default, where Foundation's `Thread` would give 512 KiB.
    static let workerStackBytes = 8 << 20

    enum ItemResult {
        case trained(RunStatus), busy, finishedElsewhere, interrupted, writeFailed(String)
    }

    private func execute(_ plan: ExperimentPlan, _ run: PlannedRun) -> ItemResult {
        let label = plans.count > 1 ? "\(plan.name)/\(run.id)" : run.id
        let claim: FileLock?
        do { claim = try store.claim(plan.name, run.id) } catch { return .writeFailed(error.description) }
        guard let claim else {
            observer.runSkipped(label, reason: "another rnn-exp process is running it")
            return .busy
        }
        defer { claim.unlock() }
        if !options.force && store.isFinished(plan.name, run) {
            observer.runSkipped(label, reason: "finished by another process")
            return .finishedElsewhere
        }
        var resume: Checkpoint? = nil
        var donor: String? = nil
        if options.force {
            store.removeCheckpoint(plan.name, run.id)
        } else {
            switch store.loadCheckpoint(plan.name, run) {
            case .none: break
            case .found(let c): resume = c
            case .otherConfig: store.removeCheckpoint(plan.name, run.id)
            case .damaged(let why):
                warn("\(label): checkpoint unreadable, starting over (\(why))")
                store.removeCheckpoint(plan.name, run.id)
            }
            // Without a checkpoint of its own, a run continues from a finished run of the same
            // configuration with fewer epochs (issue 24, feature 4).
            if resume == nil {
                lock.lock()
                let index = donors[plan.name]
                lock.unlock()
                switch store.continuation(plan.name, run, index: index) {
                case .none: break
                case .found(let id, let c): resume = c; donor = id
                case .unusable(let id, let why):
                    warn("\(label): cannot continue from the finished run \(id), starting over (\(why))")
                }
            }
        }
        do { try store.begin(plan.name, run) } catch { return .writeFailed(error.description) }
        observer.runStarted(label, epochs: run.config.epochs)
        if let resume {
            if let donor {
                observer.runContinued(label, from: donor, epoch: ResultsStore.resumeEpoch(resume))
            } else {
                observer.runResumed(label, epoch: ResultsStore.resumeEpoch(resume))
            }
        }
        let started = Date()
        var checkpointFailed = false
        let outcome = options.executor(run, plan, resume, { record in observer.epochFinished(label, record) }, { self.shouldStop }) { c in
            guard !checkpointFailed else { return }
            do { try store.saveCheckpoint(plan.name, run, c) } catch {
                checkpointFailed = true
                warn("\(label): no checkpoint (\(error)); the run goes on, but a stop would restart it")
            }
        }
        if outcome.status == .interrupted {
            observer.runFinished(label, status: .interrupted, seconds: Date().timeIntervalSince(started))
            return .interrupted
        }
        do { try store.finish(plan.name, run, outcome) } catch {
            observer.runFinished(label, status: .failed(reason: error.description), seconds: Date().timeIntervalSince(started))
            return .writeFailed(error.description)
        }
        observer.runFinished(label, status: outcome.status, seconds: Date().timeIntervalSince(started))
        if outcome.status == .done {
            lock.lock()
            donors[plan.name]?.add(id: run.id, canonical: run.canonical)
            lock.unlock()
        }
        if summaryDue(plan.name) {
            let start = Date()
            do { try store.writeSummaries(plan, explainGrids: explainGrids[plan.name] ?? []) } catch { return .writeFailed(error.description) }
            summaryWritten(plan.name, seconds: Date().timeIntervalSince(start))
        }
        return .trained(outcome.status)
    }
}

/// What happened to the runs this process was given.
public struct SweepResult: Sendable {
    public var trained = 0
    public var alreadyDone = 0
    public var busyElsewhere = 0
    public var problems: [(id: String, status: RunStatus)] = []
    public var interrupted: [String] = []
    public var writeErrors: [String] = []
    /// Things worth knowing that stopped nothing (a damaged checkpoint, a checkpoint that could not be written).
    public var warnings: [String] = []

    /// Every run of the selection done, nothing interrupted, every file written.
    public var allDone: Bool { writeErrors.isEmpty && problems.isEmpty && interrupted.isEmpty }
}
