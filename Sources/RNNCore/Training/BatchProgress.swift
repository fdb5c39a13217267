import RNNKernels

/// Where training stands inside a batch when it pauses (SPEC 6: a stop or a checkpoint inside a
/// stream epoch, or inside any long batch): everything an algorithm carries from one update to the
/// next, as values, so that training the rest of the batch from it — in this process or another —
/// ends bit-identical to never pausing. The math core only returns it; the run loop writes it.
///
/// - `step`: the batch's steps trained; training goes on at step `step + 1`.
/// - `result`: what the batch's updates so far produced; the rest of the batch adds to it, so the
///   sums are formed in the same order as without a pause.
/// - `tensors`: the carried state by name (float64; float32 values convert exactly). Truncated
///   BPTT: `h.<l>` (and `aux.<l>` of gated layers: gates and the lstm cell), the activations of
///   steps `number("history_start") … step` that later windows reach back into. Online
///   algorithms: `online.state` (every recurrent layer's `h`, lstm `c`), `online.influence`
///   (rtrl's `M`, snap1's / rflo's per-layer carries, uoro's pair `ã`, `θ̃`),
///   `online.pending_gradient` and `online.tangent_squares` (uoro's `|θ̃|²`), as `OnlineState`
///   lays them out.
/// - `numbers`: carried numbers by name (exact): BPTT's `history_start`; the online window's
///   `online.pending_loss_sum`, `online.pending_elements` and the engine's `online.lanes`.
///
/// Random draws need no state: random truncation's points and UORO's noise are pure functions of
/// the batch's position and the step.
public struct BatchProgress: Sendable, Equatable {
    public var step: Int
    public var result: BatchResult
    public var tensors: [String: [Double]]
    public var numbers: [String: Double]

    public init(step: Int, result: BatchResult, tensors: [String: [Double]] = [:], numbers: [String: Double] = [:]) {
        self.step = step
        self.result = result
        self.tensors = tensors
        self.numbers = numbers
    }

    /// A number that must be a count `0 ... limit` (nil: missing, fractional or out of range).
    func count(_ name: String, upTo limit: Int) -> Int? {
        guard let v = numbers[name], v.isFinite, v >= 0, v <= Double(limit), v == v.rounded() else { return nil }
        return Int(v)
    }
}

/// How a call to `TrainingAlgorithm.train(_:at:resuming:pause:observer:)` ended.
public enum BatchEnd: Sendable, Equatable {
    /// The batch is trained (or diverged: `result.divergence`).
    case finished(BatchResult)
    /// `pause` answered true at an update boundary: the batch goes on from this progress.
    case paused(BatchProgress)
}

/// A flag one thread raises and training threads poll between updates: one atomic load per poll.
public final class AtomicFlag: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Int32>

    public init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: 0)
    }

    deinit { storage.deallocate() }

    public func raise() { rnn_flag_store(storage, 1) }

    public var isRaised: Bool { rnn_flag_load(storage) != 0 }
}
