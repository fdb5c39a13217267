/// One way of turning a batch into parameter updates (SPEC 3, 3.3): truncated BPTT today
/// (`TruncatedBPTT`), the online algorithms (RTRL, SnAp-1, UORO, RFLO) next. All that the run
/// loop, `gradcheck`, diagnostics and checkpoints see of an algorithm.
///
/// Every algorithm shares
/// - the network: `spec`, `layout`, the parameters `W` (float64 copies out, `Scalar` inside), the
///   forward pass, the loss and its injected error (SPEC 2), `evaluate`;
/// - the update step (`ParameterUpdate`): at each update `n` (every `tau_b` steps and at the
///   batch's last step) `g` is formed from the errors injected at `(p, n]`, then
///   `norm = |g|`, clip, optimizer step, finiteness of `W`;
/// - `UpdateEvent` (what each update did, diagnostics of sampled updates included) and
///   `BatchResult` (what a batch did);
/// - the checkpoint state `TrainerState`: parameters and optimizer state. Algorithms start every
///   batch from the zero state (a stream epoch is one batch), so an online algorithm's influence
///   `∂h_n/∂W` needs no saving: checkpoints fall between batches.
///
/// Algorithms differ only in how `g` is formed: BPTT stores `h` back to `a = max(s, n - tau_max
/// + 1)` and runs the backward recursion; an online algorithm carries an influence forward step
/// by step and forms `g = Σ_m dC_m/dh_m · ∂h_m/∂W` as the errors arrive.
public protocol TrainingAlgorithm<Scalar>: AnyObject {
    associatedtype Scalar: RNNScalar
    var spec: NetworkSpec { get }
    var layout: ParameterLayout { get }
    /// The current parameters, float64, `ParameterLayout` order.
    var parameters: [Double] { get }
    /// Optimizer steps taken so far (counted over the run, checkpoints included).
    var updates: Int { get }
    /// Trains on one batch (sequence datasets) or one epoch's lanes (stream datasets), from the
    /// zero state; `observer` sees every update, before the step changes `W`.
    func train(_ batch: SequenceBatch<Scalar>, observer: ((UpdateEvent<Scalar>) -> Void)?) -> BatchResult
    /// `batch` forward from the zero state with the current weights: the summed loss over all
    /// target elements and their count; `metric` scores every target step.
    func evaluate(_ batch: SequenceBatch<Scalar>, metric: inout MetricAccumulator) -> (lossSum: Double, elements: Int)
    /// The checkpoint state: parameters and optimizer state.
    func exportState() -> TrainerState
    /// Continues from a checkpoint state; false (nothing changed) when it does not fit.
    func restore(_ state: TrainerState) -> Bool
    /// The function whose gradient an update with an exact gradient forms (`gradcheck`): the mean
    /// loss of steps `(p, n]` when steps `1 ..< a` run with `frozen` and `a ... n` with `weights`
    /// (so `h_{a-1}` is a constant). Leaves the parameters as they were.
    func windowLoss(_ batch: SequenceBatch<Scalar>, weights: [Double], frozen: [Double], a: Int, p: Int, n: Int) -> Double
}

/// The training algorithm of a run (`training.algorithm`, SPEC 3 and 3.3). Adding one: a case
/// here, its `exactGradient`, its branch of `make`, and a `TrainingAlgorithm` class; the run
/// loop (`RunTrainer`), `gradcheck` and checkpoints need no change.
public enum Algorithm: Sendable, Equatable, Codable {
    /// BPTT(tau_b, tau_max), SPEC 3: the default.
    case bptt(Truncation)

    /// Whether each update's gradient is the exact gradient of its window loss
    /// (`TrainingAlgorithm.windowLoss`), so that `gradcheck` applies: BPTT (and RTRL) yes; UORO,
    /// SnAp-1 and RFLO approximate it (their distance from it is what diagnostics measure).
    public var exactGradient: Bool {
        switch self {
        case .bptt: return true
        }
    }

    /// The algorithm, set up on `parameters` (float64, `ParameterLayout` order, rounded to `S`).
    public func make<S: RNNScalar>(spec: NetworkSpec, parameters: [Double], optimizer: OptimizerSettings,
                                   clipNorm: Double? = nil, diagnostics: GradientDiagnostics = GradientDiagnostics(),
                                   as _: S.Type = S.self) -> any TrainingAlgorithm<S> {
        switch self {
        case .bptt(let truncation):
            return TruncatedBPTT<S>(spec: spec, parameters: parameters, truncation: truncation,
                                    optimizer: optimizer, clipNorm: clipNorm, diagnostics: diagnostics)
        }
    }
}

extension TruncatedBPTT: TrainingAlgorithm {}
