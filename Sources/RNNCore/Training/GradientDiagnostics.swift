/// What to record about the gradient itself (SPEC 3.1): how far the truncated gradient `g` of
/// sampled updates is from the reference `g_ref` that propagates the same injected errors back to
/// the sequence start (or `referenceTauMax` steps), and how far back one error reaches.
///
/// ```
/// cos = g·g_ref / (|g| |g_ref|)        rel_bias = |g - g_ref| / |g_ref|
/// credit(l, k) = |∂C_t / ∂h^l_{t-k}|   (t: the update's latest step with a target; untruncated)
/// ```
/// Diagnostics never change training: weights and losses are bit-identical with or without them.
public struct GradientDiagnostics: Sendable, Equatable, Codable {
    /// Compare updates 1, 1 + k, 1 + 2k, … with the reference (0 = off).
    public var gradientEvery: Int
    /// The reference's horizon in steps; nil = back to the sequence start (`full`).
    public var referenceTauMax: Int?
    /// Record the credit profile for lags 0 … creditLags (0 = off).
    public var creditLags: Int

    public init(gradientEvery: Int = 0, referenceTauMax: Int? = nil, creditLags: Int = 0) {
        self.gradientEvery = gradientEvery
        self.referenceTauMax = referenceTauMax
        self.creditLags = creditLags
    }

    /// Nothing to record (negative values count as 0).
    public var isOff: Bool { gradientEvery <= 0 && creditLags <= 0 }

    /// The sampling interval `k`: `gradientEvery`; 1 (every update) when only the credit profile
    /// is recorded (`gradientEvery == 0`, `creditLags > 0`); 0 when off.
    public var sampleInterval: Int {
        gradientEvery > 0 ? gradientEvery : (creditLags > 0 ? 1 : 0)
    }

    /// Whether optimizer step `update` (1-based, counted over the whole run) is sampled: updates
    /// 1, 1 + k, 1 + 2k, … for `k = sampleInterval`; none when off.
    public func samples(update: Int) -> Bool {
        let k = sampleInterval
        return k > 0 && update >= 1 && (update - 1) % k == 0
    }
}
