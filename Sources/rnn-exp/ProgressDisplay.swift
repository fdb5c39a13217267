import Experiments
import Foundation

/// Progress output of a sweep. On a terminal: a live block with one line per running job (run id,
/// epoch/epochs, loss, steps/s, ETA) and the sweep's totals, redrawn in place. Off a terminal (CI,
/// pipes, Slurm logs): one plain line per finished epoch and per finished run. Quiet: nothing until
/// the end summary. Thread-safe: workers report from their own threads.
final class ProgressDisplay: RunObserver, @unchecked Sendable {
    enum Mode: Sendable { case live, plain, quiet }

    struct Job {
        var label: String
        var epoch = 0
        var epochs: Int
        var loss: Double? = nil
        var stepsPerSecond: Double? = nil
        var started = Date()
        /// The end of the latest epoch (epoch 0, the initial evaluation, included).
        var lastEpochAt = Date()
        /// Smoothed duration of a training epoch (nil before the first ends).
        var perEpoch: Double? = nil
    }

    let mode: Mode
    private let lock = NSLock()
    private var jobs: [String: Job] = [:]
    private var order: [String] = []
    private var total: Int
    private var done = 0, failed = 0, skipped = 0
    private var runSeconds: [Double] = []
    private var drawnLines = 0
    private var sweepCountdown = SmoothedCountdown()
    private var timer: DispatchSourceTimer?
    private let jobsInParallel: Int
    private let output: FileHandle

    init(mode: Mode, jobs: Int, output: FileHandle = .standardError) {
        self.mode = mode
        self.total = 0
        self.jobsInParallel = max(jobs, 1)
        self.output = output
        if mode == .live {
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
            t.schedule(deadline: .now() + 0.25, repeating: 0.25)
            t.setEventHandler { [weak self] in self?.redraw() }
            t.resume()
            timer = t
        }
    }

    static func defaultMode(quiet: Bool) -> Mode {
        if quiet { return .quiet }
        return isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb" ? .live : .plain
    }

    func sweepStarted(total: Int, alreadyDone: Int) {
        lock.lock(); defer { lock.unlock() }
        self.total = total
        skipped = alreadyDone
    }

    func sweepFinished() { stop() }

    func write(_ s: String) { output.write(Data(s.utf8)) }

    /// The metric column of each run's dataset (`val_accuracy`) by run label, for the plain log lines.
    var metricNames: [String: String] = [:]

    func runStarted(_ label: String, epochs: Int) {
        lock.lock(); defer { lock.unlock() }
        jobs[label] = Job(label: label, epochs: epochs)
        order.append(label)
    }

    func epochFinished(_ label: String, _ r: EpochRecord) {
        lock.lock(); defer { lock.unlock() }
        guard var job = jobs[label] else { return }
        let now = Date()
        if r.epoch > 0 {
            job.perEpoch = ProgressEstimate.smoothedEpoch(previous: job.perEpoch, latest: now.timeIntervalSince(job.lastEpochAt))
        }
        job.lastEpochAt = now
        job.epoch = r.epoch
        job.loss = r.valLoss ?? r.trainLoss
        job.stepsPerSecond = r.sampleStepsPerSecond ?? job.stepsPerSecond
        jobs[label] = job
        if mode == .plain && r.epoch > 0 {
            var line = "\(label) epoch \(r.epoch)/\(job.epochs) train_loss=\(Self.short(r.trainLoss))"
            if let v = r.valLoss { line += " val_loss=\(Self.short(v))" }
            if let m = r.metric { line += " \(metricNames[label] ?? "metric")=\(Self.short(m))" }
            if let s = r.sampleStepsPerSecond { line += " \(Int(s)) steps/s" }
            write(line + "\n")
        }
    }

    func runFinished(_ label: String, status: RunStatus, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        jobs[label] = nil
        order.removeAll { $0 == label }
        if status == .done { done += 1 } else if status != .interrupted { failed += 1 }
        runSeconds.append(seconds)
        guard mode != .quiet else { return }
        let line: String
        switch status {
        case .done: line = "\(label) done in \(Self.duration(seconds))"
        case .diverged(let e, let r): line = "\(label) diverged at epoch \(e): \(r)"
        case .failed(let r): line = "\(label) failed: \(r)"
        case .interrupted: line = "\(label) interrupted: it will run again next time"
        }
        if mode == .live { clearBlock() }
        write(line + "\n")
        if mode == .live { drawBlock() }
    }

    func runResumed(_ label: String, epoch: Int) {
        startsLater(label, epoch: epoch, "\(label) resumes at epoch \(epoch) from its checkpoint")
    }

    func runContinued(_ label: String, from donor: String, epoch: Int) {
        startsLater(label, epoch: epoch, "\(label) continues at epoch \(epoch) from the finished run \(donor)")
    }

    /// A run that starts training at `epoch`, not 1: its job shows the epochs already done, and
    /// `message` says where they come from.
    private func startsLater(_ label: String, epoch: Int, _ message: String) {
        lock.lock(); defer { lock.unlock() }
        if var job = jobs[label] {
            job.epoch = epoch - 1
            jobs[label] = job
        }
        guard mode != .quiet else { return }
        if mode == .live { clearBlock() }
        write(message + "\n")
        if mode == .live { drawBlock() }
    }

    /// A run another process holds, or already finished.
    func runSkipped(_ label: String, reason: String) {
        lock.lock(); defer { lock.unlock() }
        skipped += 1
        if mode != .quiet {
            if mode == .live { clearBlock() }
            write("\(label) skipped: \(reason)\n")
            if mode == .live { drawBlock() }
        }
    }

    func stop() {
        timer?.cancel()
        timer = nil
        lock.lock(); defer { lock.unlock() }
        if mode == .live { clearBlock() }
    }

    func redraw() {
        lock.lock(); defer { lock.unlock() }
        clearBlock()
        drawBlock()
    }

    private func clearBlock() {
        guard drawnLines > 0 else { return }
        write("\u{1B}[\(drawnLines)A\u{1B}[J")
        drawnLines = 0
    }

    private func drawBlock() {
        var lines: [String] = []
        var longestRunning = 0.0
        var expectedDurations: [Double] = []  // running jobs: elapsed + time left
        let now = Date()
        for label in order {
            guard let j = jobs[label] else { continue }
            var line = "  \(label)  epoch \(j.epoch)/\(j.epochs)"
            if let l = j.loss { line += "  loss \(Self.short(l))" }
            if let s = j.stepsPerSecond { line += "  \(Int(s)) steps/s" }
            if let perEpoch = j.perEpoch {
                let eta = ProgressEstimate.runRemaining(perEpoch: perEpoch, epochsLeft: j.epochs - j.epoch,
                                                        sinceLastEpoch: now.timeIntervalSince(j.lastEpochAt))
                longestRunning = max(longestRunning, eta)
                expectedDurations.append(now.timeIntervalSince(j.started) + eta)
                line += "  ETA \(Self.duration(eta))"
            }
            lines.append(line)
        }
        let left = max(total - done - failed - skipped, 0)
        var totals = "sweep: \(done) done, \(skipped) skipped, \(failed) failed, \(left) left"
        if left > 0 && (!runSeconds.isEmpty || longestRunning > 0) {
            // Runs not started yet, at the mean duration so far, shared by the workers; and at
            // least as long as the slowest running job still needs.
            let notStarted = max(left - order.count, 0)
            // A run's duration: the finished ones' mean, else what the running ones are expected to take.
            let durations = runSeconds.isEmpty ? expectedDurations : runSeconds
            let mean = durations.isEmpty ? longestRunning : durations.reduce(0, +) / Double(durations.count)
            let estimate = max(longestRunning, mean * Double(notStarted) / Double(jobsInParallel))
            totals += "  ETA \(Self.duration(sweepCountdown.update(estimate: estimate, now: ProcessInfo.processInfo.systemUptime)))"
        }
        lines.append(totals)
        write(lines.joined(separator: "\n") + "\n")
        drawnLines = lines.count
    }

    static func short(_ d: Double) -> String { String(format: "%.4g", d) }

    static func duration(_ s: Double) -> String { DurationText.format(s) }
}
