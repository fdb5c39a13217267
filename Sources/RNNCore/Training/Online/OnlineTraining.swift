/// An online algorithm of SPEC 3.3 (`training.algorithm: rtrl | snap1 | uoro | rflo`) as a
/// `TrainingAlgorithm`: the run loop, checkpoints, evaluation and `gradcheck` see it as they see
/// truncated BPTT.
///
/// Every batch starts from the zero state and influence (a stream epoch is one batch, so the
/// influence carries across its update windows for the whole epoch). The forward runs step by
/// step in `OnlineGradient`; at every multiple of `tau_b` and at the batch's last step
/// ```
/// g = (1/E) Σ_{m ∈ (p, n], target} (readout gradient_m + q_mᵀ M_m)      (E: target elements)
/// ```
/// goes through the shared update step (`ParameterUpdate`: norm, clip, optimizer, finiteness).
/// The influence is not reset at an update: it runs on with the new weights. A window without
/// a target is skipped (no optimizer step), as in SPEC 3.
///
/// The network — parameters, evaluation, the update step and its checkpoint state — is the same
/// `Network` that truncated BPTT trains: evaluation and checkpoints are the same code for every
/// algorithm.
///
/// Diagnostics (SPEC 3.1) of a sampled update at step `n`: `g` is the update's online gradient;
/// `g_ref` and the credit profile come from a BPTT pass over the batch's first `n` steps with the
/// current weights, its errors injected at `(p, n]` only and propagated back to the reference
/// horizon `max(1, n - R + 1)` (`reference_tau_max: R`; the start for `full`). Each sampled update
/// costs a forward over its `n` steps. (The activations are recomputed with the current weights; the online forward computed
/// earlier steps with the weights of their time, which differ by the updates since then.)
public final class OnlineTraining<Scalar: RNNScalar>: TrainingAlgorithm {
    /// Parameters, evaluation, the update step and checkpoint state.
    public let network: Network<Scalar>
    public let algorithm: OnlineAlgorithm
    public let tauB: Int
    public let rfloDecay: Double
    /// rflo's feedback (`RFLOFeedback`): `random`'s `B_fb` is re-derived from `seed` by the engine.
    public let rfloFeedback: RFLOFeedback
    /// UORO's noise seed (the run's seed).
    public let seed: UInt64
    public let diagnostics: GradientDiagnostics
    /// The influence engine, sized for the largest batch seen so far (grown outside the step loop).
    var engine: OnlineGradient<Scalar>
    /// `g` of the update in flight, `ParameterLayout` order.
    let grads: UnsafeMutableBufferPointer<Scalar>

    public init(spec: NetworkSpec, parameters: [Double], algorithm: OnlineAlgorithm, tauB: Int, rfloDecay: Double,
                rfloFeedback: RFLOFeedback = .symmetric,
                optimizer: OptimizerSettings, clipNorm: Double?, diagnostics: GradientDiagnostics, seed: UInt64) throws {
        engine = try OnlineGradient<Scalar>(spec: spec, algorithm: algorithm, lanes: 1, rfloDecay: rfloDecay,
                                            rfloFeedback: rfloFeedback, noiseSeed: seed)
        network = Network<Scalar>(spec: spec, parameters: parameters, optimizer: optimizer, clipNorm: clipNorm)
        self.algorithm = algorithm
        self.tauB = max(tauB, 1)
        self.rfloDecay = rfloDecay
        self.rfloFeedback = rfloFeedback
        self.seed = seed
        self.diagnostics = diagnostics
        grads = .allocate(capacity: max(network.layout.count, 1))
        grads.initialize(repeating: 0)
    }

    deinit { grads.deallocate() }

    public func train(_ batch: SequenceBatch<Scalar>, observer: ((UpdateEvent<Scalar>) -> Void)?) -> BatchResult {
        train(batch, at: BatchPosition(epoch: 0, index: 0), observer: observer)
    }

    /// Inside a window longer than this, `pause` is also asked every this many steps, so that a
    /// stop never waits for a long window (`advance` in pieces computes the same steps).
    public static var pauseStride: Int { 32 }

    /// Trains the batch at `position` from the zero state, or from `progress` (a pause of this
    /// batch: `problem(resuming:in:at:)` must be nil). `pause` is asked after every update but the
    /// last and every `pauseStride` steps inside longer windows; when it answers true, the carried
    /// state (`OnlineState`: the layers' state, the influence, the open window's sums) comes back
    /// as the batch's progress.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func train(_ batch: SequenceBatch<Scalar>, at position: BatchPosition, resuming progress: BatchProgress?,
                      pause: () -> Bool, observer: ((UpdateEvent<Scalar>) -> Void)?) -> BatchEnd {
        var result = BatchResult()
        guard batch.steps > 0, batch.lanes > 0 else { return .finished(result) }
        if let progress, let problem = problem(resuming: progress, in: batch, at: position) {
            result = progress.result
            result.divergence = "cannot resume the batch: \(problem)"
            return .finished(result)
        }
        growEngine(lanes: batch.lanes)
        engine.begin(batch, epoch: position.epoch, batchIndex: position.index)
        engine.resetState()
        if let progress, let saved = Self.onlineState(progress, algorithm: algorithm) {
            do { try engine.restoreState(saved) } catch {
                preconditionFailure("checked online state did not restore: \(error)")
            }
            result = progress.result
        }
        let params = network.params, update = network.update
        var p = engine.step / tauB * tauB  // the open window's start (a multiple of tau_b)
        while p < batch.steps {
            let n = min(p + tauB, batch.steps)
            while engine.step < n {
                let m = min(engine.step + Self.pauseStride, n)
                engine.advance(to: m, parameters: UnsafeBufferPointer(params))
                if m < n && pause() { return .paused(progressNow(result)) }
            }
            let (lossSum, elements) = engine.takeGradient(into: grads)
            if elements > 0 {
                let meanLoss = lossSum / Double(elements)
                guard meanLoss.isFinite else {
                    result.divergence = "loss is \(meanLoss) at step \(n)"
                    return .finished(result)
                }
                let stepped = update.take(grads, into: params, lossSum: lossSum, elements: elements, step: n,
                                          result: &result) { norm in
                    let sampled = diagnostics.samples(update: update.steps + 1)
                        ? diagnose(batch, update: update.steps + 1, from: p, to: n) : nil
                    observer?(UpdateEvent(step: n, previousStep: p, windowStart: 1, loss: meanLoss, elements: elements,
                                          gradNorm: norm, gradients: UnsafeBufferPointer(grads), diagnostics: sampled))
                }
                guard stepped else { return .finished(result) }
            }
            p = n
            if p < batch.steps && pause() { return .paused(progressNow(result)) }
        }
        return .finished(result)
    }

    /// An engine for `lanes` lanes (grown outside the step loop; init succeeded once for this
    /// spec, so it succeeds for more lanes).
    func growEngine(lanes: Int) {
        if lanes > engine.laneCapacity,
           let larger = try? OnlineGradient<Scalar>(spec: spec, algorithm: algorithm, lanes: lanes,
                                                   rfloDecay: rfloDecay, rfloFeedback: rfloFeedback, noiseSeed: seed) {
            engine = larger
        }
    }

    /// The batch's progress now: the engine's carried state (`BatchProgress`'s `online.*` names).
    func progressNow(_ result: BatchResult) -> BatchProgress {
        let s = engine.exportState()
        var tensors = ["online.state": s.state, "online.influence": s.influence, "online.pending_gradient": s.pendingGradient]
        if !s.tangentSquares.isEmpty { tensors["online.tangent_squares"] = s.tangentSquares }
        return BatchProgress(step: s.step, result: result, tensors: tensors,
                             numbers: ["online.pending_loss_sum": s.pendingLossSum,
                                       "online.pending_elements": Double(s.pendingElements),
                                       "online.lanes": Double(s.lanes)])
    }

    /// `progressNow`'s inverse (nil: a name missing or a count that is not one).
    static func onlineState(_ p: BatchProgress, algorithm: OnlineAlgorithm) -> OnlineState? {
        guard let state = p.tensors["online.state"], let influence = p.tensors["online.influence"],
              let pending = p.tensors["online.pending_gradient"], let lossSum = p.numbers["online.pending_loss_sum"],
              let elements = p.count("online.pending_elements", upTo: Int(Int32.max)),
              let lanes = p.count("online.lanes", upTo: Int(Int32.max)) else { return nil }
        return OnlineState(algorithm: algorithm, lanes: lanes, step: p.step, state: state, influence: influence,
                           pendingGradient: pending, pendingLossSum: lossSum, pendingElements: elements,
                           tangentSquares: p.tensors["online.tangent_squares"] ?? [])
    }

    /// Why `progress` cannot continue `batch` (another batch shape or network, or damaged), or nil.
    /// Sizes the engine for the batch (as `train` would), nothing else.
    public func problem(resuming progress: BatchProgress, in batch: SequenceBatch<Scalar>, at position: BatchPosition) -> String? {
        guard progress.step > 0, progress.step < batch.steps else {
            return "step \(progress.step) is not inside the batch's \(batch.steps) steps"
        }
        guard let saved = Self.onlineState(progress, algorithm: algorithm), saved.pendingLossSum.isFinite else {
            return "its online state is incomplete"
        }
        let known: Set<String> = ["online.state", "online.influence", "online.pending_gradient", "online.tangent_squares"]
        if let extra = progress.tensors.keys.sorted().first(where: { !known.contains($0) }) {
            return "it holds \(extra), which \(algorithm.rawValue) does not carry"
        }
        guard saved.lanes == batch.lanes else { return "it has \(saved.lanes) lanes, the batch \(batch.lanes)" }
        growEngine(lanes: batch.lanes)
        guard engine.laneCapacity >= batch.lanes else { return "no engine for \(batch.lanes) lanes" }
        engine.begin(batch, epoch: position.epoch, batchIndex: position.index)
        let sizes = [("state", saved.state.count, engine.stateTensors.reduce(0) { $0 + $1.1 }),
                     ("influence", saved.influence.count, engine.influenceTensors.reduce(0) { $0 + $1.1 }),
                     ("pending gradient", saved.pendingGradient.count, layout.count),
                     ("tangent norms", saved.tangentSquares.count, algorithm == .uoro ? batch.lanes : 0)]
        for (what, have, need) in sizes where have != need {
            return "its online \(what) has \(have) values, the engine needs \(need)"
        }
        return nil
    }

    // MARK: - Diagnostics

    /// `g` (this update's online gradient, in `grads`) against `g_ref` and the credit profile of a
    /// BPTT pass over steps `1 ... n` with the current weights and errors injected at `(p, n]`.
    /// Allocates (sampled updates only); leaves the weights and the engine untouched.
    func diagnose(_ batch: SequenceBatch<Scalar>, update: Int, from p: Int, to n: Int) -> UpdateDiagnostics? {
        let window = batch.prefix(steps: n, targetsAfter: p)
        // Updates at the multiples of n - p (p is one, and n one or the prefix's end), all but the
        // one at n without targets (skipped); its window and reference reach back R steps
        // (reference_tau_max) or to the start.
        let reach = diagnostics.referenceTauMax.map { max($0, n - p) } ?? n
        let shadow = TruncatedBPTT<Scalar>(
            spec: spec, parameters: parameters, truncation: Truncation(tauB: n - p, tauMax: reach),
            optimizer: OptimizerSettings(name: .sgd, lr: 0),
            diagnostics: GradientDiagnostics(gradientEvery: 1, referenceTauMax: diagnostics.referenceTauMax,
                                             creditLags: diagnostics.creditLags))
        var reference: UpdateDiagnostics? = nil
        _ = shadow.train(window) { event in reference = event.diagnostics }
        guard let r = reference else { return nil }
        return UpdateDiagnostics(update: update, step: n, previousStep: p, windowStart: 1, referenceStart: r.referenceStart,
                                 gradient: (0..<layout.count).map { Double(grads[$0]) }, reference: r.reference,
                                 creditStep: r.creditStep, credit: r.credit)
    }
}

extension SequenceBatch {
    /// The first `steps` steps of the batch, with targets only after step `targetsAfter`
    /// (the mask cleared at steps `1 ... targetsAfter`).
    func prefix(steps n: Int, targetsAfter p: Int) -> SequenceBatch {
        let t = min(n, steps)
        let inputs: Inputs
        switch self.inputs {
        case .dense(let x): inputs = .dense(Array(x.prefix(t * lanes * inputSize)))
        case .oneHot(let x): inputs = .oneHot(Array(x.prefix(t * lanes)))
        }
        let targets: Targets
        switch self.targets {
        case .values(let y): targets = .values(Array(y.prefix(t * lanes * outputSize)))
        case .classes(let y): targets = .classes(Array(y.prefix(t * lanes)))
        }
        var mask = Array(self.mask.prefix(t * lanes))
        for i in 0..<min(p, t) * lanes { mask[i] = 0 }
        return SequenceBatch(lanes: lanes, steps: t, inputSize: inputSize, outputSize: outputSize,
                             lengths: lengths.map { Swift.min($0, t) }, inputs: inputs, targets: targets, mask: mask)
    }
}
