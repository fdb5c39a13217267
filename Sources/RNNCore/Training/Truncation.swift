/// The truncation settings of BPTT(tau_b, tau_max) (SPEC section 3).
///
/// - `tauMax`: how far back errors propagate; `nil` means `full` (back to the sequence start).
/// - `tauB`: the update interval; `nil` means the default: `tau_max` when finite, else the
///   sequence length.
///
/// - `random`: unbiased random truncation (ARTBP, SPEC 3.4) instead of a fixed window; `tauB` and
///   `tauMax` are then unused.
/// - `adaptive`: adaptive `tau_max` (Aicher et al., SPEC 3.4): the window is re-chosen from the
///   measured credit profile (`AdaptiveTruncation`); `tauB` and `tauMax` are then unused.
public struct Truncation: Sendable, Equatable, Codable {
    public var tauB: Int?
    public var tauMax: Int?
    public var random: RandomTruncation?
    public var adaptive: AdaptiveTruncation?

    public init(tauB: Int? = nil, tauMax: Int? = nil) {
        self.tauB = tauB
        self.tauMax = tauMax
    }

    /// ARTBP with continue probability `c` (`RandomTruncation`).
    public init(random: RandomTruncation) {
        self.random = random
    }

    /// Adaptive `tau_max` (`AdaptiveTruncation`).
    public init(adaptive: AdaptiveTruncation) {
        self.adaptive = adaptive
    }

    /// Full BPTT: one update per sequence, no truncation.
    public static let full = Truncation()

    /// `(tau_b, tau_max)` for a batch whose longest lane has `steps` steps.
    public func resolved(steps: Int) -> (tauB: Int, tauMax: Int) {
        let tm = tauMax ?? max(steps, 1)
        let tb = tauB ?? (tauMax ?? max(steps, 1))
        return (max(tb, 1), max(tm, 1))
    }

    /// A problem as a plain sentence, or nil. `tau_b > tau_max` is rejected: those errors would
    /// not even reach their own step.
    public var problem: String? {
        if let adaptive { return adaptive.problem }
        if let random {
            guard random.continueProbability > 0 && random.continueProbability <= 1 else {
                return "the continue probability c must be in (0, 1]"
            }
            return nil
        }
        if let tb = tauB, tb < 1 { return "tau_b must be at least 1" }
        if let tm = tauMax, tm < 1 { return "tau_max must be at least 1" }
        if let tb = tauB, let tm = tauMax, tb > tm {
            return "tau_b (\(tb)) is larger than tau_max (\(tm)): errors would not reach their own step"
        }
        return nil
    }
}

/// Unbiased random truncation (ARTBP: Tallec & Ollivier 2017; SPEC 3.4). At every step `n` a
/// truncation happens with probability `1 − c`, the same for all lanes, drawn from a pure function
/// of (seed, epoch, batch, step); a truncation and the batch's last step are update points. The
/// update at `n` after the previous one at `p` injects the errors of `(p, n]` and propagates them
/// back through `(p, n]` only, and every backward crossing from `h_{m+1}` to `h_m` (`p < m`)
/// multiplies the propagated error by `1/c`, so that a term `∂C_s/∂θ` through `h_m`, which
/// survives with probability `c^{s−m}`, is scaled by `c^{−(s−m)}`. Every update divides its summed
/// error by the fixed `E = (N_b / T_b) · min(1/(1 − c), T_b)` (`N_b` target elements of the batch,
/// `T_b` its longest lane), not by its own random target count. At fixed weights the expected sum
/// of a sequence's update gradients is then full BPTT's gradient of its summed loss over `E`; with
/// `c = 1` there is no truncation and the run is full BPTT bit for bit.
public struct RandomTruncation: Sendable, Equatable, Codable {
    /// `c`, the probability that no truncation happens at a step.
    public var continueProbability: Double
    /// The run's seed (the draws' key with the epoch, the batch and the step).
    public var seed: UInt64

    public init(continueProbability: Double, seed: UInt64) {
        self.continueProbability = continueProbability
        self.seed = seed
    }

    /// The `Xoshiro256` stream of the draws (`"ARTBP"` in ASCII).
    static let stream: UInt64 = 0x41_5254_4250

    /// Whether a truncation happens at step `n` (1-based) of the batch at `batch` in `epoch`: a
    /// uniform draw `u` in `[0, 1)` from the hash of (seed, epoch, batch, step), `u ≥ c`.
    public func truncates(epoch: Int, batch: Int, step: Int) -> Bool {
        guard continueProbability < 1 else { return false }
        var k = OnlineNoise.mix(seed ^ Self.stream)
        k = OnlineNoise.mix(k ^ UInt64(bitPattern: Int64(epoch)))
        k = OnlineNoise.mix(k ^ UInt64(bitPattern: Int64(batch)))
        k = OnlineNoise.mix(k ^ UInt64(bitPattern: Int64(step)))
        let u = Double(k >> 11) * 0x1.0p-53
        return u >= continueProbability
    }

    /// The update points of a batch of `steps` steps: every step with a truncation, and the last.
    public func updatePoints(steps: Int, epoch: Int, batch: Int) -> [Int] {
        guard steps > 0 else { return [] }
        var points: [Int] = []
        for n in 1..<steps where truncates(epoch: epoch, batch: batch, step: n) { points.append(n) }
        points.append(steps)
        return points
    }

    /// `E = (N_b / T_b) · min(1/(1 − c), T_b)`: the batch's target elements per step times the
    /// expected window length (`N_b` at `c = 1`).
    public func normaliser(targetElements: Int, steps: Int) -> Double {
        let c = continueProbability, t = Double(max(steps, 1))
        let expected = c < 1 ? min(1 / (1 - c), t) : t
        return Double(targetElements) / t * expected
    }
}
