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

/// What a sampled update's gradient looks like next to the untruncated one (SPEC 3.1).
///
/// For the update at step `n` (errors injected at the steps of `(p, n]` that have a target,
/// propagated back to `a = max(s, n - tau_max + 1)`):
/// ```
/// g      = the update's gradient (ΔSW, ΔTW, Δb of every layer) before clipping, window [a, n]
/// g_ref  = the same injected errors, stored activations and current weights, window [a_ref, n],
///          a_ref = s (reference_tau_max: full) or max(s, n - R + 1) (reference_tau_max: R)
/// credit(l, k) = |∂C_t / ∂h^l_{t-k}|       (L2 over lanes and units)
/// ```
/// `t` is the latest step of `(p, n]` that has a target (in any lane) and `C_t` the loss of that
/// step alone, averaged over its own target elements (PyTorch's `reduction='mean'` applied to
/// step `t`: `E_t` = lanes with a target at `t`, times the output width except for
/// cross-entropy). That is the update's loss restricted to step `t`, times `E / E_t`, so credit
/// values compare across `tau_b`. `∂C_t/∂h^l_m` is the total derivative through every path
/// forward from `m` to `t` (for LSTM the cell `c` carries it too; only `h` is reported), so it
/// is untruncated for every `m >= a_ref`.
public struct UpdateDiagnostics: Sendable, Equatable {
    /// The optimizer step (1-based, counted over the trainer's life, checkpoints included).
    public let update: Int
    /// The update's step `n`.
    public let step: Int
    /// The previous update's step `p`: errors were injected at `(p, n]`.
    public let previousStep: Int
    /// `a = max(s, n - tau_max + 1)`: where `g` stops.
    public let windowStart: Int
    /// `a_ref`: where `g_ref` (and the credit profile) stop.
    public let referenceStart: Int
    /// `g`: the update's gradient before clipping, `ParameterLayout` order.
    public let gradient: [Double]
    /// `g_ref`, same layout.
    public let reference: [Double]
    /// `t`, the step whose loss `C_t` the credit profile follows; nil when `creditLags == 0`.
    public let creditStep: Int?
    /// Per layer (index 0 = the first layer above the input), lags `k = 0 … creditLags`:
    /// `|∂C_t / ∂h^l_{t-k}|`. NaN where `t - k < a_ref` (before the sequence start or the
    /// reference horizon); 0 where no path links `h^l_{t-k}` to `C_t` (a dense layer at `k > 0`
    /// with no recurrent layer above it). Nil when `creditLags == 0`.
    ///
    /// For the output layer at lag 0 this is `∂C_t/∂y_t`: for mse the injected `2(y − target)/E_t`;
    /// for a folded loss the derivative through the output, computed in float64:
    /// cross-entropy `−1/y_c / E_t` at the target class (`1/y_c = exp(log Σ exp z − z_c)`, finite
    /// even where `y_c` underflows), binary cross-entropy `(−t/y + (1 − t)/(1 − y)) / E_t`, each
    /// term 0 where its log is clamped at −100. At lags `k >= 1` the output layer's value is
    /// `|TWᵀ delta_{t-k+1}|` as for any layer.
    public let credit: [[Double]]?

    public init(update: Int, step: Int, previousStep: Int, windowStart: Int, referenceStart: Int,
                gradient: [Double], reference: [Double], creditStep: Int?, credit: [[Double]]?) {
        self.update = update
        self.step = step
        self.previousStep = previousStep
        self.windowStart = windowStart
        self.referenceStart = referenceStart
        self.gradient = gradient
        self.reference = reference
        self.creditStep = creditStep
        self.credit = credit
    }

    /// `g` against `g_ref` over `range` of the layout (nil: every parameter, `all`):
    /// ```
    /// norm = |g|   referenceNorm = |g_ref|   cos = g·g_ref / (|g| |g_ref|)   relBias = |g − g_ref| / |g_ref|
    /// ```
    /// `cos` is nil when either norm is 0, `relBias` when `|g_ref|` is 0 (the CSV's empty cell).
    /// Sums in float64; NaN or infinite entries propagate.
    public func comparison(over range: Range<Int>? = nil) -> GradientComparison {
        let r = range ?? 0..<gradient.count
        var gg = 0.0, rr = 0.0, gr = 0.0, dd = 0.0
        for i in r where i >= 0 && i < gradient.count && i < reference.count {
            let g = gradient[i], f = reference[i]
            gg += g * g
            rr += f * f
            gr += g * f
            dd += (g - f) * (g - f)
        }
        let norm = gg.squareRoot(), referenceNorm = rr.squareRoot()
        return GradientComparison(
            norm: norm, referenceNorm: referenceNorm,
            cos: norm > 0 && referenceNorm > 0 ? gr / (norm * referenceNorm) : nil,
            relBias: referenceNorm > 0 ? dd.squareRoot() / referenceNorm : nil)
    }
}

/// `g` against `g_ref` for one parameter group (SPEC 3.1, `gradient.csv`).
public struct GradientComparison: Sendable, Equatable {
    public let norm: Double
    public let referenceNorm: Double
    /// `g·g_ref / (|g| |g_ref|)`; nil when either is 0.
    public let cos: Double?
    /// `|g − g_ref| / |g_ref|`; nil when `|g_ref|` is 0.
    public let relBias: Double?
}
