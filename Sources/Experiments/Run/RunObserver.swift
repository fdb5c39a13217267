/// What a sweep tells whoever watches it (the CLI's progress display, a test, a library user).
/// Called from the worker threads; implementations synchronise themselves.
public protocol RunObserver: AnyObject, Sendable {
    /// Before the first run starts: `total` runs selected, `alreadyDone` of them finished earlier.
    func sweepStarted(total: Int, alreadyDone: Int)
    func runStarted(_ label: String, epochs: Int)
    /// Right after `runStarted` when the run continues from its checkpoint in epoch `epoch`.
    func runResumed(_ label: String, epoch: Int)
    /// Right after `runStarted` when the run continues from the final state of the finished run
    /// `donor` (the same configuration with fewer epochs) in epoch `epoch`.
    func runContinued(_ label: String, from donor: String, epoch: Int)
    func epochFinished(_ label: String, _ record: EpochRecord)
    func runFinished(_ label: String, status: RunStatus, seconds: Double)
    func runSkipped(_ label: String, reason: String)
    /// After the last worker has stopped.
    func sweepFinished()
}

extension RunObserver {
    public func runResumed(_ label: String, epoch: Int) {}
    public func runContinued(_ label: String, from donor: String, epoch: Int) {}
}

/// Watches nothing: the default when no one is interested.
public final class SilentRunObserver: RunObserver {
    public init() {}
    public func sweepStarted(total: Int, alreadyDone: Int) {}
    public func runStarted(_ label: String, epochs: Int) {}
    public func epochFinished(_ label: String, _ record: EpochRecord) {}
    public func runFinished(_ label: String, status: RunStatus, seconds: Double) {}
    public func runSkipped(_ label: String, reason: String) {}
    public func sweepFinished() {}
}
