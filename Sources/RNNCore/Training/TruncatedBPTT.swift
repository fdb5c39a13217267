/// Trains a layer stack with truncated backpropagation through time, BPTT(tau_b, tau_max)
/// (SPEC section 3).
///
/// Every lane runs forward step by step. At every step `n` that is a multiple of `tau_b`, and at the
/// last step of the batch's longest lane, one update happens:
/// 1. errors are injected at the steps `m` in `(n_prev, n]` that have a target;
/// 2. they propagate back to `a = max(s, n - tau_max + 1)` with the seed's recursion
///    ```
///    delta^l_m = sigma'(z^l_m) ⊙ (TW^lᵀ delta^l_{m+1} + SW^{l+1}ᵀ delta^{l+1}_m)
///    ΔSW^l += Σ_m delta^l_m h^{l-1}_mᵀ    ΔTW^l += Σ_m delta^l_m h^l_{m-1}ᵀ    Δb^l += Σ_m delta^l_m
///    ```
///    using the activations stored when each step was computed and the current weights; no
///    gradient flows below step `a` (`h^l_{a-1}` enters `ΔTW` as a constant);
/// 3. optional global-norm clipping, then one optimizer step.
///
/// It holds a `Network` (the parameters, the update step, the forward pass and its stored
/// activations, evaluation, the checkpoint state) and is only the gradient: the update windows,
/// the backward recursion over the activations the network stored (`+Backward`), and the
/// diagnostics' reference pass. The weight gradients of a window are single GEMMs over its
/// (steps · B) rows; only the recurrence runs step by step. All buffers are sized once per batch
/// shape; the step loop allocates nothing.
///
/// LSTM and GRU layers (`TruncatedBPTT+Gated.swift`) follow the same schedule; their recursion
/// carries `delta` through both `h` and the LSTM cell `c`, and truncation cuts both at `a`.
///
/// With `diagnostics` on (SPEC 3.1, `TruncatedBPTT+Diagnostics.swift`), sampled updates also get
/// `g_ref` (the same backward pass from the reference horizon `a_ref`, into its own buffer) and
/// the credit profile `|∂C_t/∂h^l_{t-k}|`; the workspace then keeps `h` back to `a_ref - 1`.
/// Training is bit-identical with or without them.
///
/// Shape letters: `B` lanes, `U` units of a layer, `I` its inputs, `O` outputs, `G` gate blocks of
/// a gated layer (4 for lstm, 3 for gru).
public final class TruncatedBPTT<Scalar: RNNScalar> {
    /// The parameters, the update step, the forward pass and the activations it stores.
    public let network: Network<Scalar>
    public let truncation: Truncation
    /// What to record about the gradient of sampled updates (SPEC 3.1, `+Diagnostics`); off by default.
    public let diagnostics: GradientDiagnostics
    /// Max global L2 norm of the update step's clipping; nil for none.
    public var clipNorm: Double? { network.clipNorm }

    /// `ΔSW`, `ΔTW`, `Δb` of the current update, `ParameterLayout` order. The diagnostics passes
    /// point it at their own buffers for their duration (`withGradientBuffer`, `+Diagnostics`) and
    /// restore it.
    var grads: UnsafeMutableBufferPointer<Scalar>
    /// Buffers of the diagnostics passes (`+Diagnostics`): `g_ref` (layout), the credit pass's
    /// unused weight gradients (layout), and `dC_t/dh^l` over the credit lags, (lags + 1, B, max U).
    var diagnosticBuffers = DiagnosticBuffers<Scalar>()

    /// delta^l per step of the backward window, (window, B, deltaWidth[l]): (·, B, U) for rnn and
    /// dense layers; for gated layers the gate deltas, (·, B, 4U) (lstm: i f g o; gru: r z n_h n_x,
    /// see `+Gated`).
    var d: [UnsafeMutableBufferPointer<Scalar>] = []
    /// Row width (stride) of `d` per layer: the widths above, for float32 gated layers plus
    /// `Network.gatedRowPad` unused (zero) columns.
    let deltaWidth: [Int]
    var allocatedWindow = 0  // rows (steps · B) `d` holds
    var deltaOrigin = 0      // step held in row 0 of `d` (the window start `a` of the update)

    /// Adaptive `tau_max` (`AdaptiveTruncation`, `+Adaptive`): the window in force (nil before the
    /// first estimate), kept by checkpoints (`exportState`).
    public internal(set) var adaptiveChoice: AdaptiveChoice?
    /// The last estimate's measured profile `φ_0 … φ_max_lag` and what the estimator made of it.
    public internal(set) var adaptiveProfile: [Double] = []
    public internal(set) var adaptiveEstimate: AdaptiveEstimate?
    /// Seconds spent measuring and choosing (the estimates' cost), since this trainer was made.
    public internal(set) var adaptiveSeconds = 0.0
    /// The lstm cell's `dc` of one step over the lanes, (B, max U), for the measuring pass.
    var adaptiveCellScratch = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)

    /// - Parameters:
    ///   - parameters: initial values in `ParameterLayout` order (float64, rounded to `Scalar`).
    ///   - clipNorm: max global L2 norm, as `torch.nn.utils.clip_grad_norm_`; nil for none.
    ///   - diagnostics: what to record about sampled updates' gradients (SPEC 3.1); the observer of
    ///     `train` receives it in `UpdateEvent.diagnostics`. Training is bit-identical either way.
    public convenience init(spec: NetworkSpec, parameters: [Double], truncation: Truncation,
                            optimizer: OptimizerSettings, clipNorm: Double? = nil,
                            diagnostics: GradientDiagnostics = GradientDiagnostics()) {
        self.init(network: Network(spec: spec, parameters: parameters, optimizer: optimizer, clipNorm: clipNorm),
                  truncation: truncation, diagnostics: diagnostics)
    }

    /// BPTT(tau_b, tau_max) of `network`: its updates change `network`'s parameters.
    public init(network: Network<Scalar>, truncation: Truncation, diagnostics: GradientDiagnostics = GradientDiagnostics()) {
        self.network = network
        self.truncation = truncation
        self.diagnostics = diagnostics
        grads = .allocate(capacity: max(network.layout.count, 1))
        grads.initialize(repeating: 0)
        let pad = Network<Scalar>.gatedRowPad
        deltaWidth = network.spec.layers.map { $0.kind.workspace($0).delta + ($0.isGated ? pad : 0) }
    }

    deinit {
        grads.deallocate()
        for buffer in d { buffer.deallocate() }
        diagnosticBuffers.deallocate()
        adaptiveCellScratch.deallocate()
    }

    /// The checkpoint state: the parameters, the optimizer's, and adaptive truncation's window.
    public func exportState() -> TrainerState {
        var state = network.exportState()
        state.adaptive = adaptiveChoice
        return state
    }

    /// Continues from a checkpoint state (the adaptive window included); false (nothing changed)
    /// when it does not fit.
    public func restore(_ state: TrainerState) -> Bool {
        guard network.restore(state) else { return false }
        if truncation.adaptive != nil { adaptiveChoice = state.adaptive }
        return true
    }

    // MARK: - Training

    /// Trains on one batch (sequence datasets) or one epoch's lanes (stream datasets), starting
    /// from the zero state. `observer` sees every update that happens.
    public func train(_ batch: SequenceBatch<Scalar>, observer: ((UpdateEvent<Scalar>) -> Void)? = nil) -> BatchResult {
        train(batch, at: BatchPosition(epoch: 0, index: 0), observer: observer)  // random windows: the first batch of epoch 0
    }

    /// `train(_:observer:)` for the batch at `position` (random truncation draws its update
    /// points from it, `RandomTruncation`; adaptive truncation re-chooses its window at the first
    /// batch of an estimating epoch; fixed windows do not depend on it), from the zero state
    /// or from `progress` (a pause of this batch: `problem(resuming:in:)` must be nil), asking
    /// `pause` after every update but the last whether to stop there: then it returns the
    /// progress, the activations later windows reach back into included (`BatchProgress`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func train(_ batch: SequenceBatch<Scalar>, at position: BatchPosition, resuming progress: BatchProgress?,
                      pause: () -> Bool, observer: ((UpdateEvent<Scalar>) -> Void)?) -> BatchEnd {
        guard batch.steps > 0, batch.lanes > 0 else { return .finished(BatchResult()) }
        // Adaptive truncation measures and re-chooses its window on the first batch of every
        // `every`-th epoch (and whenever none is chosen yet); a resumed batch keeps the window it
        // started with (restored with the state).
        if progress == nil, let adaptive = truncation.adaptive,
           adaptiveChoice == nil || (position.index == 0 && adaptive.estimates(atEpoch: position.epoch)) {
            chooseAdaptiveWindow(batch, adaptive)
        }
        let s = schedule(batch, at: position)
        if let progress, let problem = problem(resuming: progress, in: batch, schedule: s) {
            var refused = progress.result
            refused.divergence = "cannot resume the batch: \(problem)"
            return .finished(refused)
        }
        network.prepare(lanes: batch.lanes, slots: s.slots, chunkRows: s.chunkRows)
        prepareWindow(lanes: batch.lanes, rows: min(batch.steps, s.keep))
        prepareDiagnostics(lanes: batch.lanes, steps: batch.steps)
        var result = BatchResult(), first = 0, p = 0
        if let progress {
            p = progress.step
            first = s.points.firstIndex { $0 > p } ?? s.points.count
            result = progress.result
            network.restoreHistory(progress.tensors, from: max(0, p + 1 - s.keep), through: p)
        }
        let tauMax = s.tauMax
        let pausedAt: Int? = batch.withView { view in
            if let random = s.random {
                return runUpdates(view, at: s.points, from: first, previous: p, keep: s.keep,
                                  windowStart: { p, _ in p + 1 }, diagnosticsTauMax: { p, n in n - p },
                                  normaliser: s.normaliser, crossing: Scalar(1 / random.continueProbability),
                                  pause: pause, observer: observer, result: &result)
            }
            return runUpdates(view, at: s.points, from: first, previous: p, keep: s.keep,
                              windowStart: { _, n in max(1, n - tauMax + 1) }, diagnosticsTauMax: { _, _ in tauMax },
                              normaliser: nil, crossing: 1, pause: pause, observer: observer, result: &result)
        }
        guard let n = pausedAt else { return .finished(result) }
        let start = max(0, n + 1 - s.keep)
        return .paused(BatchProgress(step: n, result: result, tensors: network.exportHistory(from: start, through: n),
                                     numbers: ["history_start": Double(start)]))
    }

    /// Why `progress` cannot continue `batch` at `position` (another batch shape, truncation or
    /// network, or damaged), or nil.
    public func problem(resuming progress: BatchProgress, in batch: SequenceBatch<Scalar>, at position: BatchPosition) -> String? {
        problem(resuming: progress, in: batch, schedule: schedule(batch, at: position))
    }

    func problem(resuming progress: BatchProgress, in batch: SequenceBatch<Scalar>, schedule s: Schedule) -> String? {
        let p = progress.step
        guard p > 0, p < batch.steps, s.points.dropLast().contains(p) else {
            return "step \(p) is not an update of the batch's \(batch.steps) steps"
        }
        let start = max(0, p + 1 - s.keep)
        guard progress.count("history_start", upTo: p) == start, progress.numbers.count == 1 else {
            return "its stored activations start at another step"
        }
        return network.historyProblem(progress.tensors, lanes: batch.lanes, steps: p - start + 1)
    }

    /// A batch's update points and the workspace they need: fixed windows (`UpdateGrid`) or
    /// random truncation's points (`RandomTruncation`, with its normaliser `E`).
    struct Schedule {
        var points: [Int]
        /// Steps of `h` the updates reach back (`historySteps`).
        var keep: Int
        var slots: Int
        var chunkRows: Int
        /// Fixed windows: the resolved tau_max.
        var tauMax = 0
        var random: RandomTruncation? = nil
        var normaliser: Double? = nil
    }

    func schedule(_ batch: SequenceBatch<Scalar>, at position: BatchPosition) -> Schedule {
        guard let random = truncation.random else {
            // Fixed windows, or adaptive truncation's chosen one (before any choice: max_lag).
            let truncation = truncation.adaptive.map { $0.truncation(k: adaptiveChoice?.k ?? $0.maxLag) } ?? self.truncation
            let (tauB, tauMax) = truncation.resolved(steps: batch.steps)
            // h keeps steps n - keep ... n of the update in flight (keep = tau_max, or the reference
            // horizon when diagnostics are on); the keep - tau_b extra slots amortise the shift to
            // about one (B, U) copy per step (none extra when tau_b = keep).
            let keep = historySteps(steps: batch.steps, tauMax: tauMax)
            return Schedule(points: UpdateGrid.updateSteps(length: batch.steps, truncation: truncation), keep: keep,
                            slots: min(batch.steps, max(2 * keep - tauB, keep)) + 1, chunkRows: min(batch.steps, tauB),
                            tauMax: tauMax)
        }
        // ARTBP (`RandomTruncation`, SPEC 3.4): updates at the batch's random truncation points and
        // its last step; the update at `n` after `p` injects the errors of `(p, n]`, divided by `E`
        // instead of their count, and propagates them back to `p + 1` with every crossing of a step
        // multiplied by `1/c`.
        let points = random.updatePoints(steps: batch.steps, epoch: position.epoch, batch: position.index)
        var longest = 0, previous = 0
        for n in points {
            longest = max(longest, n - previous)
            previous = n
        }
        let keep = historySteps(steps: batch.steps, tauMax: longest)
        var targets = 0
        for m in batch.mask where m != 0 { targets += 1 }
        let normaliser = random.normaliser(targetElements: network.spec.loss.usesClassTargets ? targets : targets * network.spec.outputs,
                                           steps: batch.steps)
        return Schedule(points: points, keep: keep, slots: min(batch.steps, 2 * keep) + 1, chunkRows: longest,
                        random: random, normaliser: normaliser)
    }

    /// The updates at `points[first...]` (ascending, the last the batch's last step; `p` the step
    /// of the update before them) of a prepared batch: forward over `(p, n]`, the loss and its
    /// injection (over the window's own count, or over `normaliser` when given: random
    /// truncation's `E`), the backward pass to `windowStart(p, n)` with `crossing` per step
    /// crossed, then the shared update step, its observer and sampled diagnostics (reference
    /// horizon from `diagnosticsTauMax(p, n)`). Stops at a divergence; returns the step of the
    /// update after which `pause` answered true (nil: the batch is done or diverged).
    @inline(__always)
    func runUpdates(_ view: BatchView<Scalar>, at points: [Int], from first: Int, previous: Int, keep: Int,
                    windowStart: (Int, Int) -> Int, diagnosticsTauMax: (Int, Int) -> Int, normaliser: Double?,
                    crossing: Scalar, pause: () -> Bool,
                    observer: ((UpdateEvent<Scalar>) -> Void)?, result: inout BatchResult) -> Int? {
        let network = network, update = network.update, params = network.params
        var p = previous
        for i in first..<max(first, points.count) {
            let n = points[i]
            // This update needs h from a - 1 >= n - keep on; later ones start later still.
            network.makeRoom(through: n, keepFrom: max(0, n - keep), computed: p)
            network.forward(view, from: p, to: n)
            let (lossSum, elements) = network.lossAndInjection(view, from: p, to: n, inject: true)
            if elements > 0 {
                let a = windowStart(p, n)
                let meanLoss = lossSum / Double(elements)
                guard meanLoss.isFinite else {
                    result.divergence = "loss is \(meanLoss) at step \(n)"
                    return nil
                }
                if let normaliser {  // the injection holds each error over `elements`; ARTBP's is over E
                    let factor = Scalar(Double(elements) / normaliser)
                    let injected = network.outputSlot(network.inject, p + 1)
                    for j in 0..<((n - p) * network.lanes * network.spec.outputs) { injected[j] *= factor }
                }
                backward(view, windowStart: a, from: p, to: n, crossing: crossing)
                let stepped = update.take(grads, into: params, lossSum: lossSum, elements: elements, step: n,
                                          result: &result) { norm in
                    // Diagnostics of sampled updates: their own passes and buffers, before the step.
                    let sampled = diagnostics.samples(update: update.steps + 1)
                        ? diagnose(view, update: update.steps + 1, from: p, to: n, tauMax: diagnosticsTauMax(p, n)) : nil
                    observer?(UpdateEvent(step: n, previousStep: p, windowStart: a, loss: meanLoss,
                                          elements: elements, gradNorm: norm,
                                          gradients: UnsafeBufferPointer(grads), diagnostics: sampled))
                }
                guard stepped else { return nil }
                result.windowStepsSum += n - a + 1
                result.longestWindow = max(result.longestWindow, n - a + 1)
            }
            p = n
            if i + 1 < points.count && pause() { return n }
        }
        return nil
    }

    // MARK: - Window workspace

    /// Sizes `d` (grows only) for backward windows of `rows` steps of `lanes` lanes.
    func prepareWindow(lanes: Int, rows: Int) {
        let need = lanes * max(rows, 1)
        if need > allocatedWindow {
            for buffer in d { buffer.deallocate() }
            d = deltaWidth.map { .allocate(capacity: need * $0) }
            for buffer in d { buffer.initialize(repeating: 0) }
            allocatedWindow = need
        }
    }

    /// Pointer to delta^l at step `m` of the current backward window.
    @inline(__always)
    func deltaSlot(_ l: Int, _ m: Int) -> UnsafeMutablePointer<Scalar> {
        let lanes = network.lanes
        internalCheck(m >= deltaOrigin && (m - deltaOrigin + 1) * lanes <= allocatedWindow,
                      "delta, layer \(l), step \(m): below the window start \(deltaOrigin) or past its rows")
        return d[l].baseAddress! + (m - deltaOrigin) * lanes * deltaWidth[l]
    }
}
