/// The online gradient engine of SPEC 3.3: runs a layer stack forward step by step over a batch
/// of `B` lanes with parameters the caller supplies at every call, carries each lane's influence
/// for the chosen `OnlineAlgorithm`, and accumulates, at every step with a target, the readout's
/// exact same-step gradient and `q_mᵀ M_m` into one gradient buffer in `ParameterLayout` order,
/// with the loss sum and the element count (SPEC 2's normalisation).
///
/// The caller owns the schedule (SPEC 3.3: an update at every multiple of `tau_b` and at the last
/// step of the longest lane):
/// ```
/// let engine = try OnlineGradient<Double>(spec: spec, algorithm: .rtrl, lanes: B)
/// engine.resetState()                       // sequence start (streams: epoch start)
/// engine.begin(batch, epoch: e, batchIndex: k)
/// while engine.step < batch.steps {
///     engine.advance(to: min(engine.step + tauB, batch.steps), parameters: w)
///     let (lossSum, elements) = engine.takeGradient(into: g)   // g = Σ / elements
///     if elements > 0 { optimizer step on w with g }
/// }
/// ```
/// The influence is not reset by `takeGradient`: it runs on with the new weights. A stream keeps
/// state and influence across `begin` calls until `resetState()`. A lane is frozen after its
/// last step (`batch.lengths`): no state or influence change, no targets.
///
/// Shape letters: `B` lanes, `U` units, `I` inputs of a layer, `G` gate blocks (4 lstm, 3 gru,
/// 1 otherwise), `R = G·U` weight rows (lru: `2S`, `[B_re; B_im]`), `S` state size (lstm `2U`, lru
/// `2S` for its complex state `[Re s; Im s]`, else `U`), `L` the top recurrent
/// layer. Every buffer is sized at `init` for `B` lanes; the step loop allocates nothing.
///
/// Local derivatives of one step (weights in force at that step), stored per lane in a per-unit
/// compact form: `Ds[s, g] = ∂s_s/∂pre_s[gU + k]`, `Dt[s, g] = ∂s_s/∂pre_t[gU + k]` with
/// `k = s mod U` (pre_s = `SW x + b_s`, pre_t = `TW h_{n-1} + b_t`; equal except for gru), and
/// `self[s]`, the direct dependence of `s_s` on the previous state outside `TW`:
/// ```
/// rnn, dense: Ds = Dt = σ'(z)                                           self = 0
/// lstm:  dc = [g σ'(i), c_{n-1} σ'(f), σ(i) tanh'(g), 0]; dh = σ(o) tanh'(c) dc + [0, 0, 0, tanh(c) σ'(o)]
///        Ds = Dt = [dh; dc];  self[h_k] = σ(o) tanh'(c_k) σ(f_k) (on c_{n-1,k}), self[c_k] = σ(f_k)
/// gru:   dn = (1 - z) tanh'(n), dr = dn (TW_n h + b_tn) σ'(r), dz = (h_{n-1} - n) σ'(z)
///        Ds = [dr, dz, dn], Dt = [dr, dz, dn r];  self[h_k] = z_k (on h_{n-1,k})
/// ```
/// so `J = ∂s_n/∂s_{n-1}` is `Dt · TW` (on the `h` part) plus `self`, `Jx = Ds · SW`, and the
/// immediate influence is `I[s; W_s[r, j]] = Ds[s, g] x_j`, `I[s; W_t[r, j]] = Dt[s, g] h_{n-1, j}`,
/// `I[s; b_s[r]] = Ds[s, g]`, `I[s; b_t[r]] = Dt[s, g]` for the rows `r = gU + k` of unit `k`.
/// An lru layer has none of these: its state is `s`, linear, `J` a complex diagonal, and `h` a
/// same-step read-out of it (`OnlineGradient+LRU` has its maps; every algorithm branches on it).
///
/// Per-step cost (multiply-adds per lane; formulas in each algorithm's file): rtrl `≈ n²P` per
/// layer (one `Jt · M` GEMM per lane and layer, plus the cross blocks for stacks), snap1 `≈ 3P`
/// (lstm `≈ 6P`), rflo `≈ 2P`, uoro `≈ n² + 5P`, kf-rtrl `≈ n³ + 3P`, each plus the forward and the readout. How a
/// step runs: the forward and the readout's errors for all lanes at once (GEMMs), then the
/// influence lane by lane — rtrl's lane blocks stay in L2 between their GEMM and the lane's
/// gradient — with the float32 row work in the AVX-512 / AVX2 row kernels (`OnlineRows`,
/// `online_rows.c`), and the gradient of snap1, rflo and uoro summed over lanes block by block.
/// Every buffer is 64-byte aligned and sized at `init` (`AlignedBuffers`), grouped by what uses
/// it (`OnlineGradient+Buffers`): the forward's (`layers`), the readout's (`readout`), the
/// gradient sum and the same-step backward's scratch (`backward`), each algorithm's carry
/// (`rtrl`, `perLayer`, `uoro`) and the transposed weights (`transposed`). The step loop
/// allocates nothing (a counting `malloc` around a run: the same number of calls for 40 and 800
/// steps). The speeds are measured by `make bench` (rows rtrl-small, snap1-small, uoro-small,
/// rflo-small, against numpy and PyTorch peers and against BPTT(1, 1) on the same model).
public final class OnlineGradient<Scalar: RNNScalar> {
    public let spec: NetworkSpec
    public let algorithm: OnlineAlgorithm
    public let layout: ParameterLayout
    /// B of the batch in flight (at most `laneCapacity`).
    public internal(set) var lanes: Int
    /// The most lanes a batch may have: every buffer is sized for it at `init`.
    public let laneCapacity: Int
    /// rflo's trace decay λ.
    public let rfloDecay: Double
    /// rflo's feedback (`RFLOFeedback`); `random`: `feedback[l]` holds `B_fb` of readout layer `l`.
    public let rfloFeedback: RFLOFeedback
    /// Random feedback's `B_fb` per readout layer (nil where a layer sends its error down through
    /// its own `W_s`).
    let feedback: [UnsafePointer<Scalar>?]
    /// UORO's and kf-rtrl's noise seed (the run's seed); the noise of (epoch, batch, lane, step)
    /// is `OnlineNoise.signs(seed: noiseSeed, ...)`.
    public let noiseSeed: UInt64

    /// Per-layer shape and parameter offsets (`OnlineGradient+Shape`).
    let shapes: [Shape]
    /// Index of the top recurrent layer `L`.
    let topRecurrent: Int
    /// Offset of each recurrent layer's state in the stacked state `[s^{l1}; s^{l2}; …]`, -1 for dense.
    let stateOffset: [Int]
    /// `S`, the stacked state size.
    public let stackedStateSize: Int
    /// Parameters of layers `0 ... L` (they come first in the layout): the influence's columns.
    let influenceColumns: Int
    /// The widest layer input or output: the size of the per-lane vector scratch.
    let maxWidth: Int

    // MARK: Buffers (allocated at init; `let`: the step loop reads them with no exclusivity check)
    /// Owns every buffer below and frees them with the engine.
    let arena: AlignedBuffers
    let layers: LayerBuffers
    let readout: ReadoutBuffers
    let backward: BackwardBuffers
    /// The readout's errors on `h^L` of the step, `(B, U_L)` (rows of lanes without a target are
    /// 0): whichever of `readout.errors`, `readout.errorsBelow` the backward through the dense
    /// layers above `L` ended on.
    var q: UnsafeMutablePointer<Scalar>
    let rtrl: RTRLCarry
    let perLayer: PerLayerCarry
    let uoro: UOROCarry
    let kf: KroneckerCarry
    let transposed: TransposedWeights

    // MARK: Batch in flight
    var batch: SequenceBatch<Scalar>? = nil
    /// Steps of the current batch done (the last one computed; 0 after `begin`).
    public internal(set) var step = 0
    var epoch = 0
    var batchIndex = 0
    /// Loss sum and target elements of the pending window.
    public internal(set) var pendingLossSum = 0.0
    public internal(set) var pendingElements = 0

    /// - Parameters:
    ///   - lanes: B, the most lanes a batch may have (every buffer is sized for it; a smaller
    ///     batch, e.g. a dataset's last one, runs in the same buffers).
    ///   - rfloDecay: λ of rflo (ignored otherwise).
    ///   - noiseSeed: UORO's noise seed (ignored otherwise).
    /// - Throws: `OnlineGradientError` for a stack the algorithm does not support (no recurrent
    ///   layer; rflo on lstm/gru; a recurrent softmax layer) or an invalid spec.
    public init(spec: NetworkSpec, algorithm: OnlineAlgorithm, lanes: Int, rfloDecay: Double = 0,
                rfloFeedback: RFLOFeedback = .symmetric, noiseSeed: UInt64 = 0) throws {
        if let problem = spec.problems().first { throw OnlineGradientError(problem) }
        guard lanes >= 1 else { throw OnlineGradientError("lanes must be at least 1") }
        guard let top = spec.layers.lastIndex(where: { $0.isRecurrent }) else {
            throw OnlineGradientError("\(algorithm.rawValue) needs a recurrent layer (\(LayerKind.allCases.filter(\.isRecurrent).map(\.rawValue).joined(separator: ", ")))")
        }
        if let l = spec.layers.firstIndex(where: { !$0.kind.traits.supportsOnlineAlgorithms }) {
            throw OnlineGradientError("layer \(l): \(spec.layers[l].kind.rawValue) layers are trained by bptt only so far; the online algorithms (\(OnlineAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))) do not support them yet")
        }
        if algorithm.isPlainLayersOnly, let l = spec.layers.firstIndex(where: { $0.isGated || $0.kind.traits.recurrentWeight == .complexDiagonal }) {
            throw OnlineGradientError("layer \(l): \(algorithm.rawValue) supports rnn and indrnn layers only, not \(spec.layers[l].kind.rawValue)")
        }
        if algorithm == .rflo && rfloFeedback == .random && top == spec.layers.count - 1 {
            throw OnlineGradientError("rflo_feedback: random replaces a readout's weights in the error it sends down, and the top layer (\(top)) is recurrent: add a dense readout layer on top")
        }
        if let l = spec.layers.firstIndex(where: { $0.isRecurrent && !$0.isGated && $0.activation == .softmax }) {
            throw OnlineGradientError("layer \(l): a recurrent softmax layer is not supported by the online algorithms (put a dense softmax layer on top)")
        }
        self.spec = spec
        self.algorithm = algorithm
        let layout = ParameterLayout(spec)
        self.layout = layout
        self.lanes = lanes
        self.laneCapacity = lanes
        self.rfloDecay = rfloDecay
        self.rfloFeedback = rfloFeedback
        self.noiseSeed = noiseSeed
        let shapes = zip(spec.layers, layout.entries).map { Shape($0, $1) }
        self.shapes = shapes
        self.topRecurrent = top
        var offsets: [Int] = [], s = 0
        for shape in shapes {
            offsets.append(shape.isRecurrent ? s : -1)
            if shape.isRecurrent { s += shape.stateSize }
        }
        self.stateOffset = offsets
        self.stackedStateSize = s
        self.influenceColumns = shapes[top].end

        let b = lanes
        let maxWidth = max(spec.layers.map { max($0.units, $0.inputs) }.max() ?? 1, 1)
        self.maxWidth = maxWidth
        let maxRows = shapes.map(\.rows).max() ?? 1
        let arena = AlignedBuffers()
        self.arena = arena
        layers = LayerBuffers(shapes, lanes: b, inputs: spec.inputs, arena)
        readout = ReadoutBuffers(lanes: b, outputs: spec.outputs, maxWidth: maxWidth, arena)
        backward = BackwardBuffers(parameters: layout.count, maxWidth: maxWidth, maxRows: maxRows, arena)
        q = readout.errors
        rtrl = RTRLCarry(shapes, top: top, lanes: b, maxWidth: maxWidth, enabled: algorithm == .rtrl, arena)
        perLayer = PerLayerCarry(shapes, top: top, lanes: b, maxWidth: maxWidth, stackedStateSize: s,
                                 enabled: algorithm == .snap1 || algorithm == .rflo, errors: algorithm.isPerLayer, arena)
        kf = KroneckerCarry(shapes, top: top, lanes: b, enabled: algorithm == .kfRTRL, arena)
        uoro = UOROCarry(shapes, top: top, lanes: b, maxWidth: maxWidth, maxRows: maxRows, stackedStateSize: s,
                         enabled: algorithm == .uoro, arena)
        transposed = TransposedWeights(shapes, lanes: b, arena)
        var feedback = [UnsafePointer<Scalar>?](repeating: nil, count: shapes.count)
        if algorithm == .rflo && rfloFeedback == .random {
            for (l, values) in RFLOFeedback.randomMatrices(spec: spec, seed: noiseSeed) {
                feedback[l] = UnsafePointer(arena.copy(values.map { Scalar($0) }))
            }
        }
        self.feedback = feedback
    }

    // MARK: - Public API

    /// Scalars of influence carried for all lanes (the memory SPEC 3.3 asks `validate` and
    /// `plan` to state): `influenceScalars(spec:algorithm:lanes:)` of this engine.
    public var influenceScalars: Int {
        Self.influenceScalars(spec: spec, algorithm: algorithm, lanes: lanes)
    }

    /// The influence an engine would carry, in scalars, without building it (for a memory bound
    /// checked before training). With `cols_l` the parameters of layers `0 … l` and `P_l` layer
    /// `l`'s own:
    /// - rtrl: `Σ_{recurrent l ≤ L} B · S_l · cols_l` (the blocks `M^{l,j}`, `j ≤ l`, with the
    ///   cross blocks and the columns of dense layers between); plus one spare `S_l · cols_l`
    ///   block per layer and the dense layers' blocks, scratch (not counted); an lru's `S_l` is
    ///   `2S` (`[Re s; Im s]`), its output rows (`U · cols_l`, formed each step) not counted;
    /// - snap1, rflo: `Σ_l B · (S_l / U_l) · P_l` (lstm 2P, otherwise P); snap1 on an lru
    ///   `B · 2S(3 + I)` (its complex `e^ν`, `e^θ`, `e^γ`, `E^B`: about its own `P`, SPEC 3.5, which
    ///   also holds `C` and `D`, `2US + U`, that need no influence);
    /// - uoro: `B · (S + cols_L)`;
    /// - kf-rtrl: `Σ_l B · (C_l + U_l²)` (`u` and `A` per layer, `C_l = I_l + U_l + 1`).
    /// Returns 0 for a stack without a recurrent layer.
    public static func influenceScalars(spec: NetworkSpec, algorithm: OnlineAlgorithm, lanes: Int) -> Int {
        guard let top = spec.layers.lastIndex(where: { $0.isRecurrent }) else { return 0 }
        var cols = 0, total = 0, state = 0
        for (l, layer) in spec.layers.enumerated() where l <= top {
            cols += layer.parameterCount
            guard layer.isRecurrent else { continue }
            let lru = layer.kind.traits.recurrentWeight == .complexDiagonal
            let s = lru ? 2 * layer.stateSize : layer.kind.traits.statePerUnit * layer.units
            state += s
            switch algorithm {
            case .rtrl: total += lanes * s * cols
            case .snap1 where lru: total += lanes * 2 * layer.stateSize * (3 + layer.inputs)
            case .snap1, .rflo: total += lanes * (s / layer.units) * layer.parameterCount
            case .kfRTRL: total += lanes * (layer.inputs + layer.units + 1 + layer.units * layer.units)
            case .uoro: break
            }
        }
        return algorithm == .uoro ? lanes * (state + cols) : total
    }

    /// Sequence start (streams: epoch start): every lane's state and influence to 0, the pending
    /// accumulators to 0. Exact, since `s_0 = 0` is a constant (`M_0 = 0`).
    public func resetState() {
        for (l, shape) in shapes.enumerated() {
            layers.h[l].update(repeating: 0, count: lanes * shape.units)
            if shape.hasCell { layers.c[l].update(repeating: 0, count: lanes * shape.units) }
            if shape.isLRU { layers.s[l].update(repeating: 0, count: lanes * shape.stateSize) }
        }
        for l in rtrl.columns.indices {
            for lane in 0..<lanes { rtrlBlock(l, lane).update(repeating: 0, count: shapes[l].stateSize * rtrl.columns[l]) }
        }
        for (l, m) in perLayer.m.enumerated() {
            if let m { m.update(repeating: 0, count: perLayer.influenceCount[l]) }
        }
        for (l, u) in kf.u.enumerated() {
            guard let u, let a = kf.a[l] else { continue }
            u.update(repeating: 0, count: lanes * kf.columns[l])
            a.update(repeating: 0, count: lanes * shapes[l].units * shapes[l].units)
        }
        if algorithm == .uoro {
            uoro.a.update(repeating: 0, count: lanes * stackedStateSize)
            uoro.theta.update(repeating: 0, count: lanes * influenceColumns)
            uoro.thetaSquares.update(repeating: 0, count: lanes)
        }
        discardGradient()
    }

    /// Makes `batch` the one in flight, at its step 0. Does not touch state or influence
    /// (streams carry them on; call `resetState()` for a sequence start), except that a batch
    /// with another lane count than the previous one (at most `laneCapacity`) starts from a
    /// reset, since state and influence are per lane. `epoch` and `batchIndex` only key UORO's
    /// noise.
    public func begin(_ batch: SequenceBatch<Scalar>, epoch: Int = 0, batchIndex: Int = 0) {
        precondition(batch.lanes >= 1 && batch.lanes <= laneCapacity,
                     "batch has \(batch.lanes) lanes, the engine at most \(laneCapacity)")
        if batch.lanes != lanes {
            lanes = batch.lanes
            resetState()
        }
        precondition(batch.inputSize == spec.inputs && batch.outputSize == spec.outputs, "batch shape does not match the spec")
        self.batch = batch
        self.step = 0
        self.epoch = epoch
        self.batchIndex = batchIndex
    }

    /// Runs the steps `(step, n]` of the batch in flight with `parameters` (`ParameterLayout`
    /// order), accumulating every target step's gradient, loss and element count.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func advance(to n: Int, parameters: UnsafeBufferPointer<Scalar>) {
        guard let batch else { preconditionFailure("begin(_:) a batch first") }
        precondition(parameters.count == layout.count, "parameter count \(parameters.count) != \(layout.count)")
        precondition(n <= batch.steps, "step \(n) past the batch's \(batch.steps) steps")
        guard n > step else { return }
        let w = parameters.baseAddress!
        transposeWeights(w)
        refreshLRUCoefficients(w)
        batch.withView { view in
            while step < n {
                step += 1
                runStep(view, w, lengths: batch.lengths)
            }
        }
    }

    /// `advance(to:parameters:)` from float64 parameters (converts; allocates, for tests and tools).
    public func advance(to n: Int, parameters: [Double]) {
        let w = parameters.map { Scalar($0) }
        w.withUnsafeBufferPointer { advance(to: n, parameters: $0) }
    }

    /// Writes the pending window's gradient, normalised by its element count as the loss is
    /// (SPEC 2), into `gradient` (`ParameterLayout` order), zeroes the accumulators, and returns
    /// the window's loss sum and element count. With no target element, `gradient` is zeroed
    /// and `(0, 0)` returned (SPEC 3: the update is skipped). The influence is not touched.
    @discardableResult
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func takeGradient(into gradient: UnsafeMutableBufferPointer<Scalar>) -> (lossSum: Double, elements: Int) {
        precondition(gradient.count == layout.count)
        let out = (pendingLossSum, pendingElements)
        if pendingElements > 0 {
            let scale = Scalar(1) / Scalar(pendingElements)
            for i in 0..<layout.count { gradient[i] = backward.accumulator[i] * scale }
        } else {
            gradient.update(repeating: 0)
        }
        discardGradient()
        return out
    }

    /// One update's result (allocating form of `takeGradient(into:)`).
    public struct Update: Sendable {
        public let lossSum: Double
        public let elements: Int
        /// Mean loss over the window's target elements.
        public var loss: Double { lossSum / Double(elements) }
        /// `∂loss/∂θ` in `ParameterLayout` order, float64.
        public let gradient: [Double]
    }

    /// The pending window's normalised gradient, or nil when it has no target (skipped update).
    public func takeGradient() -> Update? {
        var g = [Scalar](repeating: 0, count: layout.count)
        let (sum, elements) = g.withUnsafeMutableBufferPointer { takeGradient(into: $0) }
        guard elements > 0 else { return nil }
        return Update(lossSum: sum, elements: elements, gradient: g.map { Double($0) })
    }

    /// Zeroes the pending accumulators.
    public func discardGradient() {
        backward.accumulator.update(repeating: 0, count: layout.count)
        pendingLossSum = 0
        pendingElements = 0
    }

}
