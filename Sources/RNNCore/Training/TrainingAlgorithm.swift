/// One way of turning a batch into parameter updates (SPEC 3, 3.3): truncated BPTT today
/// (`TruncatedBPTT`), the online algorithms (RTRL, SnAp-1, UORO, RFLO) next. All that the run
/// loop, `gradcheck`, diagnostics and checkpoints see of an algorithm.
///
/// Every algorithm holds a `Network` and shares through it
/// - `spec`, `layout`, the parameters `W` (float64 copies out, `Scalar` inside), the forward pass,
///   the loss and its injected error (SPEC 2), `evaluate`;
/// - the update step (`ParameterUpdate`): at each update `n` (every `tau_b` steps and at the
///   batch's last step) `g` is formed from the errors injected at `(p, n]`, then
///   `norm = |g|`, clip, optimizer step, finiteness of `W`;
/// - `UpdateEvent` (what each update did, diagnostics of sampled updates included) and
///   `BatchResult` (what a batch did);
/// - the checkpoint state `TrainerState`: parameters and optimizer state. Algorithms start every
///   batch from the zero state (a stream epoch is one batch); inside a batch they pause at update
///   boundaries when asked and hand back what they carry (`BatchProgress`: stored activations,
///   an online algorithm's state and influence `∂h_n/∂W`, the batch's sums so far), from which
///   the batch goes on bit-identically, so checkpoints also fall inside a batch.
///
/// Algorithms differ only in how `g` is formed: BPTT stores `h` back to `a = max(s, n - tau_max
/// + 1)` and runs the backward recursion; an online algorithm carries an influence forward step
/// by step and forms `g = Σ_m dC_m/dh_m · ∂h_m/∂W` as the errors arrive.
public protocol TrainingAlgorithm<Scalar>: AnyObject {
    associatedtype Scalar: RNNScalar
    /// The network the algorithm trains: parameters, update step, forward pass, evaluation and
    /// checkpoint state (the same code for every algorithm).
    var network: Network<Scalar> { get }
    /// Trains on one batch (sequence datasets) or one epoch's lanes (stream datasets), from the
    /// zero state; `observer` sees every update, before the step changes `W`.
    func train(_ batch: SequenceBatch<Scalar>, observer: ((UpdateEvent<Scalar>) -> Void)?) -> BatchResult
    /// Trains the batch at `position` of the run (algorithms whose randomness is a pure function
    /// of where a batch sits, UORO's noise and random truncation's points, read it), from the zero
    /// state or, with `progress`, from where an earlier call paused it. After every update but the
    /// batch's last (and inside long online windows) it asks `pause` — which must be cheap, an
    /// atomic flag read — and when that answers true returns `.paused` with the carried state.
    /// Progress that does not fit the batch (`problem(resuming:in:at:)`) ends the batch at once
    /// with `divergence` set, changing nothing.
    func train(_ batch: SequenceBatch<Scalar>, at position: BatchPosition, resuming progress: BatchProgress?,
               pause: () -> Bool, observer: ((UpdateEvent<Scalar>) -> Void)?) -> BatchEnd
    /// Why `progress` (from a pause of the batch at `position`, perhaps read back from a file)
    /// cannot continue `batch`, or nil.
    func problem(resuming progress: BatchProgress, in batch: SequenceBatch<Scalar>, at position: BatchPosition) -> String?
    /// The checkpoint state (default: the network's, parameters and optimizer state).
    func exportState() -> TrainerState
    /// Continues from a checkpoint state; false (nothing changed) when it does not fit.
    func restore(_ state: TrainerState) -> Bool
}

/// What every algorithm has through its network.
extension TrainingAlgorithm {
    public var spec: NetworkSpec { network.spec }
    public var layout: ParameterLayout { network.layout }
    /// The current parameters, float64, `ParameterLayout` order.
    public var parameters: [Double] { network.parameters }
    /// Optimizer steps taken so far (counted over the run, checkpoints included).
    public var updates: Int { network.updates }

    /// `batch` forward from the zero state with the current weights: the summed loss over all
    /// target elements and their count; `metric` scores every target step.
    public func evaluate(_ batch: SequenceBatch<Scalar>, metric: inout MetricAccumulator) -> (lossSum: Double, elements: Int) {
        network.evaluate(batch, metric: &metric)
    }

    /// The checkpoint state: parameters and optimizer state.
    public func exportState() -> TrainerState { network.exportState() }

    /// Continues from a checkpoint state; false (nothing changed) when it does not fit.
    public func restore(_ state: TrainerState) -> Bool { network.restore(state) }

    /// The function whose gradient an update with an exact gradient forms (`gradcheck`): the mean
    /// loss of steps `(p, n]` when steps `1 ..< a` run with `frozen` and `a ... n` with `weights`
    /// (so `h_{a-1}` is a constant). Leaves the parameters as they were.
    public func windowLoss(_ batch: SequenceBatch<Scalar>, weights: [Double], frozen: [Double], a: Int, p: Int, n: Int) -> Double {
        network.windowLoss(batch, weights: weights, frozen: frozen, a: a, p: p, n: n)
    }
}

/// Where a batch sits in a run: its epoch (1-based) and its index in the epoch's batch order.
public struct BatchPosition: Sendable, Equatable {
    public var epoch: Int
    public var index: Int
    public init(epoch: Int, index: Int) {
        self.epoch = epoch
        self.index = index
    }
}

extension TrainingAlgorithm {
    /// The whole batch at `position`, from the zero state, without pausing.
    public func train(_ batch: SequenceBatch<Scalar>, at position: BatchPosition,
                      observer: ((UpdateEvent<Scalar>) -> Void)?) -> BatchResult {
        switch train(batch, at: position, resuming: nil, pause: { false }, observer: observer) {
        case .finished(let result): return result
        case .paused(let progress): return progress.result  // never: `pause` never answers true
        }
    }
}

/// The training algorithm of a run (`training.algorithm`, SPEC 3 and 3.3). Adding one: a case
/// here, its `exactGradient`, its branch of `make`, and a `TrainingAlgorithm` class; the run
/// loop (`RunTrainer`), `gradcheck` and checkpoints need no change.
public enum Algorithm: Sendable, Equatable, Codable {
    /// BPTT(tau_b, tau_max), SPEC 3: the default.
    case bptt(Truncation)
    /// An online algorithm of SPEC 3.3 with an update every `tauB` steps (and at the batch's last
    /// step); `rfloDecay` is rflo's trace decay λ (0 for the others).
    case online(OnlineAlgorithm, tauB: Int, rfloDecay: Double, rfloFeedback: RFLOFeedback = .symmetric)

    /// Whether each update's gradient is the exact gradient of its window loss
    /// (`TrainingAlgorithm.windowLoss`), so that `gradcheck` applies: BPTT and RTRL (whose first
    /// update is the full-BPTT gradient of its window) yes; UORO, SnAp-1 and RFLO approximate it
    /// (their distance from it is what diagnostics measure).
    public var exactGradient: Bool {
        switch self {
        case .bptt: return true
        case .online(let a, _, _, _): return a == .rtrl
        }
    }

    /// The name `training.algorithm` gives it: `bptt`, `rtrl`, `snap1`, `uoro`, `rflo`.
    public var name: String {
        switch self {
        case .bptt: return "bptt"
        case .online(let a, _, _, _): return a.rawValue
        }
    }

    /// Why this algorithm cannot train `spec` (a plain sentence), or nil: the online algorithms
    /// need a recurrent layer and no recurrent softmax layer; rflo takes rnn and indrnn layers only.
    public func problem(with spec: NetworkSpec) -> String? {
        guard case .online(let a, _, let decay, let feedback) = self else { return nil }
        do { _ = try OnlineGradient<Double>(spec: spec, algorithm: a, lanes: 1, rfloDecay: decay, rfloFeedback: feedback) } catch {
            return (error as? OnlineGradientError)?.description ?? "\(error)"
        }
        return nil
    }

    /// The algorithm, set up on `parameters` (float64, `ParameterLayout` order, rounded to `S`).
    /// `seed` keys UORO's noise. Throws `OnlineGradientError` where `problem(with:)` is not nil.
    public func make<S: RNNScalar>(spec: NetworkSpec, parameters: [Double], optimizer: OptimizerSettings,
                                   clipNorm: Double? = nil, diagnostics: GradientDiagnostics = GradientDiagnostics(),
                                   seed: UInt64 = 0, as _: S.Type = S.self) throws -> any TrainingAlgorithm<S> {
        switch self {
        case .bptt(let truncation):
            return TruncatedBPTT<S>(spec: spec, parameters: parameters, truncation: truncation,
                                    optimizer: optimizer, clipNorm: clipNorm, diagnostics: diagnostics)
        case .online(let a, let tauB, let decay, let feedback):
            return try OnlineTraining<S>(spec: spec, parameters: parameters, algorithm: a, tauB: tauB, rfloDecay: decay,
                                         rfloFeedback: feedback, optimizer: optimizer, clipNorm: clipNorm,
                                         diagnostics: diagnostics, seed: seed)
        }
    }
}

extension TruncatedBPTT: TrainingAlgorithm {}
