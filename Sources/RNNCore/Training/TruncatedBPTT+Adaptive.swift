import Foundation

/// Adaptive `tau_max` (`AdaptiveTruncation`, SPEC 3.4): the measuring pass and the choice.
extension TruncatedBPTT {
    /// Measures the credit profile of `batch` with the current weights and chooses the window
    /// (`adaptiveChoice`); also keeps the profile and the estimate (`adaptiveProfile`,
    /// `adaptiveEstimate`). Leaves the weights, the optimizer and the training gradient as they
    /// were: training goes on bit-identical to a fixed window of the chosen `K`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func chooseAdaptiveWindow(_ batch: SequenceBatch<Scalar>, _ adaptive: AdaptiveTruncation) {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { adaptiveSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9 }
        let phi = creditProfileForAdaptiveWindow(batch, maxLag: adaptive.maxLag)
        let estimate = AdaptiveTruncation.estimate(profile: phi, delta: adaptive.delta)
        adaptiveProfile = phi
        adaptiveEstimate = estimate
        adaptiveChoice = AdaptiveChoice(k: estimate.k, rho: estimate.rho)
    }

    /// `φ_k = mean over the sampled target steps t of |∂C_t/∂s_{t−k}|`, `k = 0 … maxLag` (NaN: no
    /// sampled step reaches lag k), `s` every recurrent layer's state stacked (`h`; `h` and `c`
    /// for lstm), `|·|` the L2 over lanes and units.
    ///
    /// The batch runs forward from the zero state to the last sampled step
    /// (`AdaptiveTruncation.sampledSteps`); for each sampled `t`, `C_t`'s error alone goes back
    /// untruncated over `[max(1, t − maxLag), t]` (`creditRows`: the diagnostics' credit pass),
    /// giving `dC_t/dh^l_m` per layer; for lstm the cell's share follows from them backwards,
    /// ```
    /// dc_m = dc_{m+1} ⊙ σ(f_{m+1}) + dh_m ⊙ σ(o_m) ⊙ (1 − tanh²(c_m)),   dc_{t+1} = 0
    /// ```
    /// and per lag `|∂C_t/∂s_{t−k}|² = Σ_l |dh^l_{t−k}|² (+ |dc^l_{t−k}|²)`.
    func creditProfileForAdaptiveWindow(_ batch: SequenceBatch<Scalar>, maxLag: Int) -> [Double] {
        var phi = [Double](repeating: .nan, count: maxLag + 1)
        guard batch.steps > 0, batch.lanes > 0 else { return phi }
        let b = batch.lanes
        let hasTarget = (1...batch.steps).map { n in (0..<b).contains { batch.mask[(n - 1) * b + $0] != 0 } }
        let steps = AdaptiveTruncation.sampledSteps(hasTarget: hasTarget, maxLag: maxLag)
        guard let last = steps.last else { return phi }
        let rows = min(last, maxLag + 1)
        network.prepare(lanes: b, slots: last + 1, chunkRows: last)
        prepareWindow(lanes: b, rows: rows)
        prepareCreditBuffers(lanes: b, rows: rows)
        let spec = network.spec
        var sum = [Double](repeating: 0, count: maxLag + 1)
        var count = [Int](repeating: 0, count: maxLag + 1)
        var squares = [Double](repeating: 0, count: maxLag + 1)  // |∂C_t/∂s_{t−k}|² of one t
        let dc = adaptiveCellScratch.baseAddress!
        batch.withView { view in
            network.forward(view, from: 0, to: last)
            for t in steps {
                let aRef = max(1, t - maxLag)
                for k in 0...(t - aRef) { squares[k] = 0 }
                creditRows(view, at: t, referenceStart: aRef, lags: maxLag) { l, x, r0 in
                    let layer = spec.layers[l]
                    guard layer.isRecurrent else { return }
                    let u = layer.units
                    for m in r0...t {
                        if let state = layer.kind.accept(StateCreditSquares(bptt: self, layer: l, step: m)) {
                            squares[t - m] += state  // a state that is not h (lru's s)
                            continue
                        }
                        let row = x + (m - r0) * b * u
                        var s = 0.0
                        for j in 0..<(b * u) { s += Double(row[j]) * Double(row[j]) }
                        squares[t - m] += s
                    }
                    guard layer.kind == .lstm else { return }
                    // The cell: gate rows [σ(i) σ(f) tanh(g) σ(o) | c | tanh(c)] of the stored steps.
                    let aw = network.auxWidth[l]
                    for m in stride(from: t, through: r0, by: -1) {
                        let dh = x + (m - r0) * b * u
                        let g = UnsafePointer(network.auxSlot(l, m))
                        let next: UnsafePointer<Scalar>? = m < t ? UnsafePointer(network.auxSlot(l, m + 1)) : nil
                        var s = 0.0
                        for lane in 0..<b {
                            let gr = g + lane * aw, dr = dh + lane * u, cr = dc + lane * u
                            for j in 0..<u {
                                let carried = next.map { cr[j] * $0[lane * aw + u + j] } ?? 0
                                let tc = gr[5 * u + j]
                                let v = carried + dr[j] * gr[3 * u + j] * (1 - tc * tc)
                                cr[j] = v
                                s += Double(v) * Double(v)
                            }
                        }
                        squares[t - m] += s
                    }
                }
                for k in 0...(t - aRef) {
                    sum[k] += squares[k].squareRoot()
                    count[k] += 1
                }
            }
        }
        for k in 0...maxLag where count[k] > 0 { phi[k] = sum[k] / Double(count[k]) }
        return phi
    }

    /// Sizes the credit pass's buffers (grown only) for `rows` steps of `lanes` lanes: its unused
    /// weight gradients, `dC_t/dh` rows, and the lstm cell's `dc` of one step.
    func prepareCreditBuffers(lanes: Int, rows: Int) {
        var buffers = diagnosticBuffers
        if buffers.creditWeights.count < max(network.layout.count, 1) {
            buffers.creditWeights.deallocate()
            buffers.creditWeights = .allocate(capacity: max(network.layout.count, 1))
            buffers.creditWeights.initialize(repeating: 0)
        }
        let maxUnits = network.spec.layers.map(\.units).max() ?? 0
        let need = max(rows * lanes * maxUnits, 1)
        if buffers.dh.count < need {
            buffers.dh.deallocate()
            buffers.dh = .allocate(capacity: need)
            buffers.dh.initialize(repeating: 0)
        }
        diagnosticBuffers = buffers
        if adaptiveCellScratch.count < max(lanes * maxUnits, 1) {
            adaptiveCellScratch.deallocate()
            adaptiveCellScratch = .allocate(capacity: max(lanes * maxUnits, 1))
            adaptiveCellScratch.initialize(repeating: 0)
        }
    }
}
