/// The diagnostics passes' own buffers, sized once (grown only): training never reads them, and
/// they never alias the training gradient.
struct DiagnosticBuffers<Scalar: RNNScalar> {
    /// `g_ref`, `ParameterLayout` order.
    var reference = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)
    /// The credit pass's weight gradients (computed by the shared backward pass, not reported).
    var creditWeights = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)
    /// `dC_t/dh^l_m` of one layer over the credit rows, (lags + 1, B, max U).
    var dh = UnsafeMutableBufferPointer<Scalar>(start: nil, count: 0)

    func deallocate() {
        reference.deallocate()
        creditWeights.deallocate()
        dh.deallocate()
    }
}

extension TruncatedBPTT {
    // MARK: - Horizons

    /// How many steps back the workspace keeps `h` (and the gates and cells of gated layers) at
    /// an update: `tau_max`, or with diagnostics on the reference horizon `max(tau_max, R)`
    /// (`R` = the batch's steps for `full`), so that the reference pass finds `h_{a_ref - 1}`.
    func historySteps(steps: Int, tauMax: Int) -> Int {
        guard !diagnostics.isOff else { return tauMax }
        let horizon = diagnostics.referenceTauMax.map { max($0, 1) } ?? max(steps, 1)
        // A reference shorter than tau_max says nothing about truncation (the configuration
        // rejects it); it is raised to tau_max so that every injected error stays inside it.
        return max(tauMax, horizon)
    }

    /// `a_ref = max(s, n - R + 1)`, `s = 1` (sequence or epoch start), `R` as in `historySteps`.
    func referenceStart(n: Int, steps: Int, tauMax: Int) -> Int {
        max(1, n - historySteps(steps: steps, tauMax: tauMax) + 1)
    }

    /// Sizes the diagnostics buffers (grown only) for a batch of `lanes` and `steps`.
    func prepareDiagnostics(lanes: Int, steps: Int) {
        guard !diagnostics.isOff else { return }
        var buffers = diagnosticBuffers
        if buffers.reference.count < max(network.layout.count, 1) {
            buffers.reference.deallocate()
            buffers.creditWeights.deallocate()
            buffers.reference = .allocate(capacity: max(network.layout.count, 1))
            buffers.creditWeights = .allocate(capacity: max(network.layout.count, 1))
            buffers.reference.initialize(repeating: 0)
            buffers.creditWeights.initialize(repeating: 0)
        }
        if diagnostics.creditLags > 0 {
            let maxUnits = network.spec.layers.map(\.units).max() ?? 0
            let need = max(min(diagnostics.creditLags + 1, steps) * network.lanes * maxUnits, 1)
            if buffers.dh.count < need {
                buffers.dh.deallocate()
                buffers.dh = .allocate(capacity: need)
                buffers.dh.initialize(repeating: 0)
            }
        }
        diagnosticBuffers = buffers
    }

    /// Runs `body` (a backward pass) with `grads` pointing at `buffer`; the training gradient is
    /// left untouched and `grads` restored.
    func withGradientBuffer<R>(_ buffer: UnsafeMutableBufferPointer<Scalar>, _ body: () -> R) -> R {
        let training = grads
        grads = buffer
        defer { grads = training }
        return body()
    }

    // MARK: - The diagnostics of one update

    /// `g`, `g_ref` and the credit profile of the update at `n` (errors at `(p, n]`), after the
    /// training backward pass filled `grads` and before clipping and the optimizer step.
    ///
    /// The reference is the same backward pass (`backward`) with window start `a_ref`, into its
    /// own gradient buffer: whole-window GEMMs, the deltas in the workspace's delta buffer (which
    /// training refills at its next update). The credit pass is that backward pass again with only
    /// `C_t` injected, window `[a_ref, t]`; its `dC_t/dh` come from its deltas (`creditProfile`).
    /// Neither touches `grads`, the weights, the stored activations or the optimizer, so training
    /// is bit-identical with or without diagnostics. The injection buffer's row `t` is
    /// overwritten with `C_t`'s error; training rewrites it at its next chunk.
    func diagnose(_ view: BatchView<Scalar>, update: Int, from p: Int, to n: Int, tauMax: Int) -> UpdateDiagnostics {
        let aRef = referenceStart(n: n, steps: view.steps, tauMax: tauMax)
        let a = max(1, n - tauMax + 1)
        let buffers = diagnosticBuffers
        withGradientBuffer(buffers.reference) { backward(view, windowStart: aRef, from: p, to: n) }
        let gradient = (0..<network.layout.count).map { Double(grads[$0]) }
        let reference = (0..<network.layout.count).map { Double(buffers.reference[$0]) }
        var t: Int? = nil
        var credit: [[Double]]? = nil
        if diagnostics.creditLags > 0, let last = latestTargetStep(view, from: p, to: n) {
            t = last
            credit = creditProfile(view, at: last, referenceStart: aRef, lags: diagnostics.creditLags)
        }
        return UpdateDiagnostics(update: update, step: n, previousStep: p, windowStart: a, referenceStart: aRef,
                                 gradient: gradient, reference: reference, creditStep: t, credit: credit)
    }

    /// The latest step of `(p, n]` with a target in some lane.
    func latestTargetStep(_ view: BatchView<Scalar>, from p: Int, to n: Int) -> Int? {
        for m in stride(from: n, through: p + 1, by: -1) {
            for lane in 0..<network.lanes where view.mask[view.row(m, lane)] != 0 { return m }
        }
        return nil
    }

    /// `|∂C_t / ∂h^l_{t-k}|` for every layer and `k = 0 … lags` (NaN below `a_ref`).
    ///
    /// 1. `C_t`'s error is injected at step `t` alone (`lossAndInjection` over `(t - 1, t]`, which
    ///    normalises by `E_t`) and `backward` runs over `[a_ref, t]` into a scratch gradient,
    ///    leaving `delta^l_m` (gate deltas for gated layers) in the delta buffer.
    /// 2. Per layer, over the rows `m = max(a_ref, t - lags) … t`, two whole-window GEMMs give
    ///    ```
    ///    dh^l_m = SW^{l+1}ᵀ Delta_x^{l+1}_m  +  TW^lᵀ Delta_h^l_{m+1}       (top layer: injected dC_t/dy_t)
    ///    ```
    ///    (`Delta_x^{l+1}` the input-side deltas of the layer above, `sendDown`; `Delta_h` the
    ///    recurrent-side ones), then the kind's direct path outside `TW`, if any
    ///    (`LayerDefinition.addDirectStatePath`: gru `dh_m += z_{m+1} ⊙ dh_{m+1}`).
    func creditProfile(_ view: BatchView<Scalar>, at t: Int, referenceStart aRef: Int, lags: Int) -> [[Double]] {
        let b = network.lanes
        let top = network.spec.layers.count - 1
        var credit = [[Double]](repeating: [Double](repeating: .nan, count: lags + 1), count: network.spec.layers.count)
        let elementsT = creditRows(view, at: t, referenceStart: aRef, lags: lags) { l, x, r0 in
            let layer = network.spec.layers[l]
            let u = layer.units
            for m in r0...t {
                if let squares = layer.kind.accept(StateCreditSquares(bptt: self, layer: l, step: m)) {
                    credit[l][t - m] = squares.squareRoot()  // a state that is not h (lru's s)
                    continue
                }
                let row = x + (m - r0) * b * u
                var sum = 0.0
                for j in 0..<(b * u) { sum += Double(row[j]) * Double(row[j]) }
                credit[l][t - m] = sum.squareRoot()
            }
        }
        if network.spec.loss.injectsPreActivation {
            credit[top][0] = foldedOutputCredit(view, at: t, elements: elementsT)
        }
        return credit
    }

    /// The rows `dC_t/dh^l_m`, `m = r0 … t` (`r0 = max(a_ref, t − lags)`), of every layer in turn
    /// (steps 1–2 of `creditProfile`): `body(l, rows, r0)` sees layer `l`'s rows, (t − r0 + 1, B, U)
    /// in the credit buffer `diagnosticBuffers.dh`, before the next layer overwrites them. Returns
    /// `C_t`'s element count.
    @discardableResult
    func creditRows(_ view: BatchView<Scalar>, at t: Int, referenceStart aRef: Int, lags: Int,
                    _ body: (Int, UnsafeMutablePointer<Scalar>, Int) -> Void) -> Int {
        let b = network.lanes
        let top = network.spec.layers.count - 1
        let buffers = diagnosticBuffers
        let (_, elementsT) = network.lossAndInjection(view, from: t - 1, to: t, inject: true)
        withGradientBuffer(buffers.creditWeights) { backward(view, windowStart: aRef, from: t - 1, to: t) }
        // Where `backward` wrote delta rows: recurrent layers from a_ref, a dense layer from the
        // lowest row of the layer above (the top layer: t).
        var lo = [Int](repeating: t, count: network.spec.layers.count)
        var loAbove = t
        for l in stride(from: top, through: 0, by: -1) {
            lo[l] = network.spec.layers[l].isRecurrent ? aRef : loAbove
            loAbove = lo[l]
        }
        let r0 = max(aRef, t - lags)          // rows r0 ... t of dh, (t - r0 + 1) · B
        let stepsIn = t - r0 + 1
        let x = buffers.dh.baseAddress!
        for (l, layer) in network.spec.layers.enumerated() {
            let u = layer.units
            x.update(repeating: 0, count: stepsIn * b * u)
            // E^l: the error arriving from above (the top layer: dC_t/dy_t for mse).
            if l == top {
                if !network.spec.loss.injectsPreActivation {
                    (x + (t - r0) * b * u).update(from: network.outputSlot(network.inject, t), count: b * u)
                }
            } else {
                let from = max(r0, lo[l + 1])
                sendDown(from: l + 1, rows: (t - from + 1) * b, stepFrom: from, into: x + (from - r0) * b * u, ldc: u)
            }
            // + the recurrence's share for m = r0 ... t - 1 (TWᵀ Delta_h_{m+1}, the kind's own paths).
            if layer.isRecurrent && t > r0 {
                layer.kind.accept(RecurrentStateError(bptt: self, layer: l, rows: x, from: r0, to: t))
            }
            body(l, x, r0)
        }
        return elementsT
    }

    /// `|∂C_t / ∂y_t|` of a folded output (cross-entropy on softmax, binary cross-entropy on
    /// sigmoid), in float64 (see `UpdateDiagnostics.credit`). The row losses of cross-entropy
    /// are those of the chunk just computed, which contains `t`.
    func foldedOutputCredit(_ view: BatchView<Scalar>, at t: Int, elements: Int) -> Double {
        guard elements > 0 else { return 0 }
        let b = network.lanes, o = network.spec.outputs
        let top = network.spec.layers.count - 1
        let scale = 1 / Double(elements)
        var sum = 0.0
        switch network.spec.loss {
        case .crossEntropy:
            let lz = network.rowLoss.baseAddress! + (t - network.chunkStart) * b
            for lane in 0..<b where view.mask[view.row(t, lane)] != 0 {
                let inverse = _exp(lz[lane]) * scale   // 1/y_c = exp(log Σ exp z - z_c)
                sum += inverse * inverse
            }
        case .binaryCrossEntropy:
            let y = UnsafePointer(network.slot(network.h[top], top, t))
            guard let targets = view.valueTargets else { return .nan }
            for lane in 0..<b where view.mask[view.row(t, lane)] != 0 {
                let yr = y + lane * o, tr = targets + view.row(t, lane) * o
                for j in 0..<o {
                    let yv = Double(yr[j]), tv = Double(tr[j])
                    var d = 0.0
                    if tv != 0 && _log(yv) > -100 { d -= tv / yv }
                    if tv != 1 && _log(1 - yv) > -100 { d += (1 - tv) / (1 - yv) }
                    d *= scale
                    sum += d * d
                }
            }
        case .mse:
            return .nan  // not folded: the injected rows carry dC/dy
        }
        return sum.squareRoot()
    }
}

extension TruncatedBPTT {
    /// `dh_m += TWᵀ Delta_h_{m+1}` for `m = r0 ... t - 1` over the credit rows `dh`, one GEMM
    /// (rnn: `delta`; lstm: `i f g o`; gru: `r z n_h`): a matrix `W_t`'s share of the credit
    /// profile (`LayerDefinition.addRecurrentStateError`).
    func addMatrixRecurrenceError(layer l: Int, dh x: UnsafeMutablePointer<Scalar>, from r0: Int, to t: Int) {
        let layer = network.spec.layers[l]
        guard let twOffset = network.layout.entries[l].tw, t > r0 else { return }
        let b = network.lanes, u = layer.units
        Scalar.gemm(transA: false, transB: false, m: (t - r0) * b, n: u, k: layer.kind.gates * u,
                    alpha: 1, a: UnsafePointer(deltaSlot(l, r0 + 1)), lda: deltaWidth[l],
                    b: UnsafePointer(network.params.baseAddress! + twOffset), ldb: u, beta: 1, c: x, ldc: u)
    }
}

/// `creditProfile`'s visitor: the layer kind's recurrent share of the credit rows.
struct RecurrentStateError<Scalar: RNNScalar>: LayerKindVisitor {
    let bptt: TruncatedBPTT<Scalar>
    let layer: Int
    let rows: UnsafeMutablePointer<Scalar>
    let from: Int, to: Int

    func visit<Kind: LayerDefinition>(_ kind: Kind.Type) {
        Kind.addRecurrentStateError(bptt, layer: layer, dh: rows, from: from, to: to)
    }
}
