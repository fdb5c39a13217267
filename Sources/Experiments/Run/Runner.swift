import Foundation
import RNNCore

/// Executes planned runs: skips finished ones, claims each run with a lock so that concurrent
/// runners never train the same run at once, trains on `jobs` worker threads (one BLAS thread
/// each), writes every run's files atomically, and regenerates the summaries after each run.
public final class Runner: @unchecked Sendable {
    public struct Options: Sendable {
        public var jobs: Int
        public var force: Bool
        public var mode: ProgressReporter.Mode
        /// Run only shard `index` of `count` (0-based).
        public var shard: (index: Int, count: Int)?

        public init(jobs: Int, force: Bool = false, mode: ProgressReporter.Mode = .plain, shard: (index: Int, count: Int)? = nil) {
            self.jobs = jobs
            self.force = force
            self.mode = mode
            self.shard = shard
        }
    }

    /// What happened to the runs this process was given.
    public struct Report: Sendable {
        public var trained = 0
        public var alreadyDone = 0
        public var busyElsewhere = 0
        public var problems: [(id: String, status: RunStatus)] = []
        public var interrupted: [String] = []
        public var writeErrors: [String] = []
        public var exitCode: Int32 = 0
    }

    let plans: [ExperimentPlan]
    let store: ResultsStore
    let options: Options
    private let lock = NSLock()
    private let stopLock = NSLock()
    private var stopRequested = false

    public init(plans: [ExperimentPlan], store: ResultsStore, options: Options) {
        self.plans = plans
        self.store = store
        self.options = options
    }

    /// Asks every worker to stop after its current batch (SIGINT, SIGTERM).
    public func requestStop() {
        stopLock.lock(); stopRequested = true; stopLock.unlock()
    }

    var shouldStop: Bool {
        stopLock.lock(); defer { stopLock.unlock() }
        return stopRequested
    }

    /// The runs of this shard, in grid order.
    public func selectedRuns() -> [(plan: ExperimentPlan, run: PlannedRun)] {
        let all = plans.flatMap { p in p.runs.map { (plan: p, run: $0) } }
        guard let shard = options.shard else { return all }
        let owner = Sharding.assign(all.map { ($0.run.id, Sharding.cost($0.run.config)) }, shards: shard.count)
        return all.enumerated().filter { owner[$0.offset] == shard.index }.map(\.element)
    }

    // Shared by the worker threads, guarded by `lock`.
    private var report = Report()
    private var pending: [(plan: ExperimentPlan, run: PlannedRun)] = []
    private var next = 0

    public func run() -> Report {
        BLASRuntime.useSingleThread()
        report = Report()
        pending = []
        next = 0
        let selected = selectedRuns()
        for item in selected {
            if !options.force && store.isFinished(item.plan.name, item.run) {
                report.alreadyDone += 1
            } else {
                pending.append(item)
            }
        }
        let progress = ProgressReporter(mode: options.mode, total: selected.count, skipped: report.alreadyDone, jobs: options.jobs)
        // Summaries exist even when nothing is left to train.
        for plan in plans {
            do { try store.writeSummaries(plan) } catch { report.writeErrors.append(error.description) }
        }
        let group = DispatchGroup()
        let workers = max(1, min(options.jobs, pending.count))
        for _ in 0..<workers {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                while true {
                    lock.lock()
                    guard next < pending.count, report.writeErrors.isEmpty, !shouldStop else { lock.unlock(); return }
                    let item = pending[next]
                    next += 1
                    lock.unlock()
                    let result = execute(item.plan, item.run, progress: progress)
                    lock.lock()
                    switch result {
                    case .trained(let status):
                        report.trained += 1
                        if status != .done { report.problems.append((item.run.id, status)) }
                    case .busy: report.busyElsewhere += 1
                    case .finishedElsewhere: report.alreadyDone += 1
                    case .interrupted: report.interrupted.append(item.run.id)
                    case .writeFailed(let message): report.writeErrors.append(message)
                    }
                    lock.unlock()
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        progress.stop()
        for plan in plans {
            do { try store.writeSummaries(plan) } catch { report.writeErrors.append(error.description) }
        }
        // Exit status over the whole selection, including runs finished by earlier invocations.
        for item in selected {
            if let s = store.status(item.plan.name, item.run.id), s != .done,
               !report.problems.contains(where: { $0.id == item.run.id }) {
                report.problems.append((item.run.id, s))
            }
        }
        report.exitCode = report.writeErrors.isEmpty && report.problems.isEmpty && report.interrupted.isEmpty ? 0 : 1
        return report
    }

    enum ItemResult {
        case trained(RunStatus), busy, finishedElsewhere, interrupted, writeFailed(String)
    }

    private func execute(_ plan: ExperimentPlan, _ run: PlannedRun, progress: ProgressReporter) -> ItemResult {
        let label = plans.count > 1 ? "\(plan.name)/\(run.id)" : run.id
        let claim: FileLock?
        do { claim = try store.claim(plan.name, run.id) } catch { return .writeFailed(error.description) }
        guard let claim else {
            progress.runSkipped(label, reason: "another rnn-exp process is running it")
            return .busy
        }
        defer { claim.unlock() }
        if !options.force && store.isFinished(plan.name, run) {
            progress.runSkipped(label, reason: "finished by another process")
            return .finishedElsewhere
        }
        do { try store.begin(plan.name, run) } catch { return .writeFailed(error.description) }
        progress.runStarted(label, epochs: run.config.epochs)
        let started = Date()
        var outcome: RunOutcome
        if let victim = ProcessInfo.processInfo.environment["RNN_EXP_INJECT_FAILURE"], !victim.isEmpty, run.id.contains(victim) {
            // Fault injection for tests (a task that must fail on a cluster): the run fails at once.
            outcome = RunOutcome(status: .failed(reason: "injected failure (RNN_EXP_INJECT_FAILURE)"), records: [],
                                 initialParameters: [], finalParameters: [], spec: run.config.networkSpec)
        } else {
            outcome = RunExecutor.execute(run.config, datasets: plan.datasetCache, onEpoch: { record in
                progress.epochFinished(label, record)
            }, shouldStop: { self.shouldStop })
        }
        if outcome.status == .interrupted {
            progress.runFinished(label, status: .interrupted, seconds: Date().timeIntervalSince(started))
            return .interrupted
        }
        do { try store.finish(plan.name, run, outcome) } catch {
            progress.runFinished(label, status: .failed(reason: error.description), seconds: Date().timeIntervalSince(started))
            return .writeFailed(error.description)
        }
        progress.runFinished(label, status: outcome.status, seconds: Date().timeIntervalSince(started))
        do { try store.writeSummaries(plan) } catch { return .writeFailed(error.description) }
        return .trained(outcome.status)
    }
}

/// Deterministic slicing of a grid into shards, balanced by expected cost.
public enum Sharding {
    /// Expected cost of a run: sample steps per epoch × epochs × (units² + units·inputs) summed over layers.
    public static func cost(_ c: ExperimentConfig) -> Double {
        let steps = Double(c.dataset.train ?? 1) * Double(max(1, c.layout == .stream ? 1 : c.dataset.stepsPerSequence))
        let work = c.networkSpec.layers.reduce(0.0) { $0 + Double($1.units) * Double($1.units + $1.inputs) }
        return steps * Double(c.epochs) * max(work, 1)
    }

    /// The shard of each item: greedy longest-processing-time assignment over items sorted by
    /// (cost descending, id), so the result depends only on the ids and costs, not on order.
    public static func assign(_ items: [(id: String, cost: Double)], shards: Int) -> [Int] {
        let n = max(shards, 1)
        var load = [Double](repeating: 0, count: n)
        var owner = [Int](repeating: 0, count: items.count)
        let order = items.indices.sorted { a, b in
            items[a].cost != items[b].cost ? items[a].cost > items[b].cost : items[a].id < items[b].id
        }
        for i in order {
            var best = 0
            for s in 1..<n where load[s] < load[best] { best = s }
            owner[i] = best
            load[best] += items[i].cost
        }
        return owner
    }
}
