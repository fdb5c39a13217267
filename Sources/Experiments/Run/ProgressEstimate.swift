import Foundation

/// Time left, as the live view shows it (issue 24: an ETA computed as `elapsed / epochs done ×
/// epochs left` grows during every epoch, since the elapsed time does and the count does not).
public enum ProgressEstimate {
    /// Seconds a run still needs: each epoch takes `perEpoch` (a smoothed duration of its finished
    /// epochs), and the current one has run `sinceLastEpoch` of it. Within an epoch the estimate
    /// only goes down: once the epoch outlasts `perEpoch` it holds at the epochs after it.
    public static func runRemaining(perEpoch: Double, epochsLeft: Int, sinceLastEpoch: Double) -> Double {
        guard epochsLeft > 0, perEpoch.isFinite, perEpoch > 0 else { return 0 }
        let current = max(perEpoch - max(sinceLastEpoch, 0), 0)
        return current + perEpoch * Double(epochsLeft - 1)
    }

    /// The next smoothed epoch duration: the mean of the first, then an exponential average
    /// (weight `newWeight` on the latest epoch).
    public static func smoothedEpoch(previous: Double?, latest: Double, newWeight: Double = 0.3) -> Double {
        guard let previous, previous.isFinite else { return latest }
        return previous + newWeight * (latest - previous)
    }
}

/// A countdown that follows a noisy estimate of the time left: between two readings it runs down
/// with the clock, and each reading pulls it only part of the way towards the new estimate, so one
/// run finishing sooner or later than the mean does not make the shown time jump.
public struct SmoothedCountdown: Sendable {
    public private(set) var shown: Double?
    private var at: Double = 0
    /// The share of the gap between the countdown and a new estimate closed per reading.
    public let pull: Double

    public init(pull: Double = 0.2) { self.pull = pull }

    /// Takes a new estimate made at time `now` (seconds on any monotonic clock) and returns the time to show.
    public mutating func update(estimate: Double, now: Double) -> Double {
        guard let previous = shown else {
            shown = max(estimate, 0); at = now
            return shown!
        }
        let ranDown = max(previous - max(now - at, 0), 0)
        let next = max(ranDown + pull * (estimate - ranDown), 0)
        shown = next; at = now
        return next
    }
}
