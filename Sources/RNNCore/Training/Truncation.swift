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
