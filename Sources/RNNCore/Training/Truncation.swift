/// The truncation settings of BPTT(tau_b, tau_max) (SPEC section 3).
///
/// - `tauMax`: how far back errors propagate; `nil` means `full` (back to the sequence start).
/// - `tauB`: the update interval; `nil` means the default: `tau_max` when finite, else the
///   sequence length.
public struct Truncation: Sendable, Equatable, Codable {
    public var tauB: Int?
    public var tauMax: Int?

    public init(tauB: Int? = nil, tauMax: Int? = nil) {
        self.tauB = tauB
        self.tauMax = tauMax
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
        if let tb = tauB, tb < 1 { return "tau_b must be at least 1" }
        if let tm = tauMax, tm < 1 { return "tau_max must be at least 1" }
        if let tb = tauB, let tm = tauMax, tb > tm {
            return "tau_b (\(tb)) is larger than tau_max (\(tm)): errors would not reach their own step"
        }
        return nil
    }
}

/// What one update did, handed to the trainer's observer.
public struct UpdateEvent<Scalar: RNNScalar> {
    /// The update's step `n` (1-based, from the sequence or epoch start).
    public let step: Int
    /// The previous update's step: errors were injected at steps `(previousStep, step]`.
    public let previousStep: Int
    /// The first step errors reached: `max(s, n - tau_max + 1)`.
    public let windowStart: Int
    /// Mean loss over the window's target elements (before the step).
    public let loss: Double
    /// Number of target elements the loss averages over.
    public let elements: Int
    /// Global L2 norm of the gradient before clipping.
    public let gradNorm: Double
    /// The gradient (`dSW`, `dTW`, `db` of every layer, `db_s`, `db_t` for lstm/gru, in
    /// `ParameterLayout` order), before clipping.
    public let gradients: UnsafeBufferPointer<Scalar>
    /// `g`, `g_ref` and the credit profile, for the updates `GradientDiagnostics.samples(update:)`
    /// selects (SPEC 3.1); nil for the others and when diagnostics are off.
    public let diagnostics: UpdateDiagnostics?
}

/// What training one batch produced.
public struct BatchResult: Sendable, Equatable {
    /// Sum over updates of `loss × elements`.
    public var lossSum: Double = 0
    public var elements: Int = 0
    public var updates: Int = 0
    public var gradNormSum: Double = 0
    /// Set when the loss, a gradient or a weight became NaN or infinite; training stopped there.
    public var divergence: String? = nil

    public init() {}
}
