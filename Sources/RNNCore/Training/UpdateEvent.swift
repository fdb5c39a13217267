/// What one update did, handed to the training algorithm's observer (every algorithm: truncated
/// BPTT, and the online ones that update every `tau_b` steps).
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
    /// The updates' window lengths `n − a + 1`, summed, and the longest (every algorithm's
    /// updates have one; random truncation's vary: SPEC 3.4 records their mean and max).
    public var windowStepsSum: Int = 0
    public var longestWindow: Int = 0

    public init() {}
}
