import Foundation

/// Adaptive `tau_max` (Aicher, Foti & Fox, UAI 2019, "Adaptively truncating backpropagation
/// through time to control gradient bias"; SPEC 3.4): the window is chosen so that the estimated
/// relative bias of the truncated gradient is at most `delta`.
///
/// At the start of every `every`-th epoch (epochs 1, 1 + every, …), on that epoch's first
/// training batch with the current weights, one untruncated backward pass to `max_lag` per
/// sampled target step measures the credit profile
/// ```
/// φ_k = mean over the sampled target steps t of |∂C_t/∂s_{t−k}|,   k = 0 … max_lag
/// ```
/// (`|·|` the L2 over lanes and units, `s` every recurrent layer's state stacked: `h`, and `c`
/// for lstm; a lag reaching before the lane's start is left out of that lag's mean, a lag no
/// sampled step reaches is left out: NaN), then `estimate(profile:delta:)` turns it into the
/// window `K`. The training window of the following epochs is `rule.window(K)`.
///
/// **What is sampled.** Measuring every target step of a long stream would cost a backward pass
/// of `max_lag` steps per step; instead `sampledSteps` takes `sampleCount` target steps (8),
/// the first ones after `max_lag` (so that every lag is reached), `g = max(1, min(⌊max_lag/8⌋,
/// ⌊candidates/8⌋))` target steps apart, and only the batch's first steps up to the last of them
/// are run forward. With lanes of a stream each lane starts elsewhere in the stream, so every
/// sampled step averages over `B` places. Cost per estimate: about `2·max_lag` forward steps
/// and `8·(max_lag + 1)` backward steps of the batch's lanes.
public struct AdaptiveTruncation: Sendable, Equatable, Codable {
    /// How `(tau_b, tau_max)` follow the chosen `K` (the named styles of SPEC 3.4).
    public enum Rule: String, Sendable, Equatable, Codable, CaseIterable {
        /// `(K, K)`: the default (`tau_b = tau_max`), and style `tf`.
        case window
        /// `(2K − 1, 2K − 1)`: style `double-tf`.
        case doubleWindow
        /// `(1, K)`: style `original`.
        case everyStep
        /// `(K, 2K − 1)`: style `original-buffer` (Aicher's experiments).
        case buffer

        /// The `tau_b` that goes with a `tau_max` of this rule.
        public func tauB(forTauMax tauMax: Int) -> Int {
            switch self {
            case .window, .doubleWindow: return tauMax
            case .everyStep: return 1
            case .buffer: return (tauMax + 1) / 2
            }
        }

        /// `(tau_b, tau_max)` for the chosen `K`.
        public func window(_ k: Int) -> (tauB: Int, tauMax: Int) {
            switch self {
            case .window: return (k, k)
            case .doubleWindow: return (2 * k - 1, 2 * k - 1)
            case .everyStep: return (1, k)
            case .buffer: return (k, 2 * k - 1)
            }
        }
    }

    /// The largest estimated relative bias allowed, in (0, 1).
    public var delta: Double
    /// Re-estimate at every `every`-th epoch (>= 1).
    public var every: Int
    /// How far back the measuring pass goes (>= 2); also the largest `K`.
    public var maxLag: Int
    public var rule: Rule

    /// Target steps per estimate (see the type's documentation).
    public static let sampleCount = 8
    /// Defaults of `training.truncation` (SPEC 3.4).
    public static let defaultDelta = 0.1, defaultEvery = 1, defaultMaxLag = 200

    public init(delta: Double = defaultDelta, every: Int = defaultEvery, maxLag: Int = defaultMaxLag, rule: Rule = .window) {
        self.delta = delta
        self.every = every
        self.maxLag = maxLag
        self.rule = rule
    }

    /// The truncation of BPTT with the chosen `K`.
    public func truncation(k: Int) -> Truncation {
        let (tauB, tauMax) = rule.window(k)
        return Truncation(tauB: tauB, tauMax: tauMax)
    }

    /// Whether epoch `epoch` (1-based) starts with an estimate: epochs 1, 1 + every, 1 + 2·every, ….
    public func estimates(atEpoch epoch: Int) -> Bool { (epoch - 1) % max(every, 1) == 0 }

    /// A problem as a plain sentence, or nil.
    public var problem: String? {
        if !(delta > 0 && delta < 1) { return "delta must be in (0, 1)" }
        if every < 1 { return "every must be at least 1" }
        if maxLag < 2 { return "max_lag must be at least 2" }
        return nil
    }

    /// The target steps (1-based) the estimate averages over, ascending, for a batch whose step
    /// `n` has a target in some lane where `hasTarget[n − 1]`: the candidates after `maxLag` in
    /// order, then those at or before it latest first, every `g`-th of them, `count` at most,
    /// `g = max(1, min(⌊maxLag / count⌋, ⌊candidates / count⌋))`.
    public static func sampledSteps(hasTarget: [Bool], maxLag: Int, count: Int = sampleCount) -> [Int] {
        var after: [Int] = [], before: [Int] = []
        for (i, has) in hasTarget.enumerated() where has {
            if i + 1 > maxLag { after.append(i + 1) } else { before.append(i + 1) }
        }
        let ordered = after + before.reversed()
        guard !ordered.isEmpty, count > 0 else { return [] }
        let gap = max(1, min(maxLag / count, ordered.count / count))
        return stride(from: 0, to: ordered.count, by: gap).prefix(count).map { ordered[$0] }.sorted()
    }

    /// The estimator (SPEC 3.4) on a measured profile `φ_0 … φ_max_lag` (`max_lag = count − 1`;
    /// NaN: a lag no target step reached):
    /// 1. `β` = `exp` of the least-squares slope of `log φ_k` over the available
    ///    `k ∈ [⌊max_lag/2⌋, max_lag]`, clamped to `[0, 1 − 1e-6]`; with fewer than 4 such lags
    ///    or a zero `φ_k` among them, no tail;
    /// 2. `φ̂_k = φ_k` up to the last available lag `L` (`max_lag` on a stream), then
    ///    `φ̂_k = φ_L β^{k − L}` (none without a tail);
    /// 3. `ρ(K) = Σ_{k ≥ K} φ̂_k / Σ_{k ≥ 0} φ̂_k`, the tail in closed form,
    ///    `Σ_{k ≥ j} φ_L β^{k − L} = φ_L β^{j − L} / (1 − β)` (`j > L`);
    /// 4. `K` = the smallest `K ≥ 1` with `ρ(K) ≤ delta`, capped at `max_lag`.
    /// An all-zero profile (no credit at all) gives `K = 1`, `ρ = 0`.
    public static func estimate(profile phi: [Double], delta: Double) -> AdaptiveEstimate {
        let maxLag = phi.count - 1
        guard let last = phi.lastIndex(where: { !$0.isNaN }), maxLag >= 1 else {
            return AdaptiveEstimate(k: 1, rho: 0, beta: nil)
        }
        // 1. The geometric decay of the tail.
        var xs: [Double] = [], ys: [Double] = []
        var zero = false
        for k in (maxLag / 2)...maxLag where !phi[k].isNaN {
            if phi[k] <= 0 { zero = true }
            xs.append(Double(k))
            ys.append(Foundation.log(phi[k]))
        }
        var beta: Double? = nil
        if xs.count >= 4 && !zero {
            let n = Double(xs.count)
            let mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
            var sxy = 0.0, sxx = 0.0
            for i in xs.indices {
                sxy += (xs[i] - mx) * (ys[i] - my)
                sxx += (xs[i] - mx) * (xs[i] - mx)
            }
            beta = min(max(Foundation.exp(sxy / sxx), 0), 1 - 1e-6)
        }
        // 2–3. Suffix sums of the measured part, the closed-form tail beyond L.
        var suffix = [Double](repeating: 0, count: last + 2)
        for k in stride(from: last, through: 0, by: -1) { suffix[k] = suffix[k + 1] + (phi[k].isNaN ? 0 : phi[k]) }
        func tail(from j: Int) -> Double {  // Σ_{k ≥ j, k > L} φ̂_k
            guard let beta else { return 0 }
            let start = max(j, last + 1)
            return phi[last] * Foundation.pow(beta, Double(start - last)) / (1 - beta)
        }
        let total = suffix[0] + tail(from: 0)
        guard total > 0 else { return AdaptiveEstimate(k: 1, rho: 0, beta: beta) }
        func rho(_ k: Int) -> Double { ((k <= last ? suffix[k] : 0) + tail(from: k)) / total }
        // 4. The smallest window whose estimated bias is within delta.
        for k in 1...maxLag where rho(k) <= delta { return AdaptiveEstimate(k: k, rho: rho(k), beta: beta) }
        return AdaptiveEstimate(k: maxLag, rho: rho(maxLag), beta: beta)
    }
}

/// What `AdaptiveTruncation.estimate` found: the window `K`, its estimated relative bias `ρ(K)`,
/// and the tail's decay `β` (nil: no tail).
public struct AdaptiveEstimate: Sendable, Equatable {
    public var k: Int
    public var rho: Double
    public var beta: Double?
    public init(k: Int, rho: Double, beta: Double?) {
        self.k = k
        self.rho = rho
        self.beta = beta
    }
}

/// The adaptive window in force (`TruncatedBPTT.adaptiveChoice`): the chosen `K` and its `ρ(K)`.
/// Checkpoints keep it, so that a run resumed inside an epoch trains with the window chosen at
/// the epoch's start.
public struct AdaptiveChoice: Sendable, Equatable, Codable {
    public var k: Int
    public var rho: Double
    public init(k: Int, rho: Double) {
        self.k = k
        self.rho = rho
    }
}
