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
/// 1 otherwise), `R = G·U` weight rows, `S` state size (lstm `2U`, else `U`), `L` the top recurrent
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
///
/// Per-step cost (multiply-adds per lane; formulas in each algorithm's file): rtrl `≈ n²P` per
/// layer (one `Jt · M` GEMM per lane and layer, plus the cross blocks for stacks), snap1 `≈ 3P`
/// (lstm `≈ 6P`), rflo `≈ 2P`, uoro `≈ n² + 5P`, each plus the forward and the readout. How a
/// step runs: the forward and the readout's errors for all lanes at once (GEMMs), then the
/// influence lane by lane — rtrl's lane blocks stay in L2 between their GEMM and the lane's
/// gradient — with the float32 row work in the AVX-512 / AVX2 row kernels (`OnlineRows`,
/// `online_rows.c`), and the gradient of snap1, rflo and uoro summed over lanes block by block.
/// Every buffer is 64-byte aligned and sized at `init`: the step loop allocates nothing (a
/// counting `malloc` around a run: the same number of calls for 40 and 800 steps). The speeds are
/// measured by `make bench` (rows rtrl-small, snap1-small, uoro-small, rflo-small, against
/// numpy and PyTorch peers and against BPTT(1, 1) on the same model).
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
    /// UORO's noise seed (the run's seed); the noise of (epoch, batch, lane, step) is
    /// `OnlineNoise.signs(seed: noiseSeed, ...)`.
    public let noiseSeed: UInt64

    /// Per-layer shape and parameter offsets.
    struct Shape {
        let kind: LayerKind
        let activation: Activation
        let units: Int, inputs: Int, gates: Int, rows: Int, stateSize: Int
        let sw: Int, tw: Int, b: Int, bt: Int  // flat offsets; tw, bt = -1 when absent
        let end: Int                             // one past the layer's last parameter
        var isRecurrent: Bool { kind != .dense }
        var isGated: Bool { kind.isGated }
        /// Columns of one (state row, gate) block of the per-layer influence: `I + U + 1` (rnn),
        /// `I + U + 2` (gated).
        var blockColumns: Int { inputs + (isRecurrent ? units : 0) + (isGated ? 2 : 1) }
        /// The row stride of M̄ in memory: `blockColumns` rounded up to 16 scalars, so that every
        /// row starts on a 64-byte line (float32) and the row kernels' vector loads and stores do
        /// not split across lines. The padding stays 0 and is not part of `OnlineState`.
        var blockStride: Int { (blockColumns + 15) / 16 * 16 }
        /// Where M̄'s (state row, gate) rows sit, in scalars: row `r` of lane `t` at
        /// `r · row + t · lane`, `count` in all.
        /// - rnn: (row, lane, column): the lanes' copies of a row adjacent, `blockStride` apart, so
        ///   the carry (`rnn_rows_carry`, all lanes of a row in turn) and the gradient's sum over
        ///   the lanes stream through the block once; rows `laneCapacity · blockStride` plus one
        ///   cache line apart.
        /// - gated (carried lane by lane, a unit's h and c rows together): (lane, row, column),
        ///   a lane's rows adjacent (the other layout puts each of an lstm lane's 8U rows on a page
        ///   of its own), lanes one cache line more than their rows apart, so that the same row of
        ///   successive lanes (read in turn when the gradient sums over lanes) is not a power of
        ///   two apart, which mapped them all to one L1 set (2.5× slower).
        func influenceStrides(laneCapacity: Int) -> (row: Int, lane: Int, count: Int) {
            let rows = stateSize * gates
            if isGated {
                let lane = rows * blockStride + 16
                return (blockStride, lane, laneCapacity * lane)
            }
            let row = laneCapacity * blockStride + 16
            return (row, blockStride, rows * row)
        }

        /// Adds one step's share of weight row `r` at `base` (a gradient, or an influence row in
        /// `ParameterLayout` columns): `a·x` to `W_s[r]`, `t·h_{n-1}` to `W_t[r]`, `a` to `b[r]`
        /// (`b_s[r]`), `t` to `b_t[r]` (gated layers).
        @inline(__always)
        func addRow<S: RNNScalar>(_ r: Int, a: S, t: S, x: UnsafePointer<S>, hPrev: UnsafePointer<S>,
                                  into base: UnsafeMutablePointer<S>) {
            let ws = base + sw + r * inputs
            for j in 0..<inputs { ws[j] += a * x[j] }
            if isRecurrent {
                let wt = base + tw + r * units
                for j in 0..<units { wt[j] += t * hPrev[j] }
            }
            base[b + r] += a
            if isGated { base[bt + r] += t }
        }
    }
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

    // MARK: Buffers (all allocated at init)
    /// Every buffer, 64-byte aligned (a cache line: the row kernels' vector loads and stores of a
    /// block that starts on a line do not split across two).
    var storage: [UnsafeMutableRawPointer] = []
    var h: [UnsafeMutablePointer<Scalar>] = []       // (B, U) state (dense: this step's output)
    var c: [UnsafeMutablePointer<Scalar>] = []       // (B, U) lstm cell
    var hPrev: [UnsafeMutablePointer<Scalar>] = []   // (B, U)
    var cPrev: [UnsafeMutablePointer<Scalar>] = []   // (B, U)
    var pre: [UnsafeMutablePointer<Scalar>] = []     // (B, 2R): pre-activations, tanh(c) scratch
    var ds: [UnsafeMutablePointer<Scalar>] = []      // (B, S, G)
    var dt: [UnsafeMutablePointer<Scalar>] = []      // (B, S, G)
    var selfCoef: [UnsafeMutablePointer<Scalar>] = [] // (B, S)
    var input: UnsafeMutablePointer<Scalar>          // (B, I) layer 0's input of the step
    var logits: UnsafeMutablePointer<Scalar>         // (B, O) top pre-activation (cross-entropy)
    var logSumExp: UnsafeMutablePointer<Double>      // (B) log Σ_j exp(z_j) of the top softmax
    var active: UnsafeMutablePointer<Bool>           // (B)
    var accumulator: UnsafeMutablePointer<Scalar>    // (P) summed gradient of the pending window
    var cotangent: UnsafeMutablePointer<Scalar>      // (2 · max width) same-step backprop scratch
    var cotangentBelow: UnsafeMutablePointer<Scalar>
    var rowScratchS: UnsafeMutablePointer<Scalar>    // (max R) per-lane row factors (cs), snap1/rflo carry factors
    var rowScratchT: UnsafeMutablePointer<Scalar>    // (max R) per-lane row factors (ct)
    /// The readout's errors of the step for every lane, `(B, width)`, two buffers that the
    /// backward through the dense layers above `L` alternates between; `q` points at the one that
    /// ends on `h^L` (`(B, U_L)`, rows of lanes without a target are 0).
    var readoutErrors: UnsafeMutablePointer<Scalar>
    var readoutErrorsBelow: UnsafeMutablePointer<Scalar>
    var q: UnsafeMutablePointer<Scalar>
    var hasTarget: UnsafeMutablePointer<Bool>        // (B) this step's target lanes
    /// A constant 1 (the bias column's "input" in the row kernels).
    var one: UnsafeMutablePointer<Scalar>

    // rtrl: per layer l ≤ L and lane, a pointer to M^l of the lane, (S_l, cols_l) row-major; the
    // entry at lane `laneCapacity` is the layer's spare block (the step's new M is formed there,
    // then swapped with the lane's). Dense layers: this step's.
    var rtrlBlocks: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>
    var rtrlColumns: [Int] = []
    var rtrlJ: UnsafeMutablePointer<Scalar>           // (max S, max width) per-lane Jacobian scratch
    // snap1 / rflo: M̄[l] for recurrent l, rows of C = `blockStride` scalars, row r of lane t at
    // r · perLayerRowStride[l] + t · perLayerLaneStride[l] (`Shape.influenceStrides`); every
    // lane's row `[x; h_{n-1}; 1]` (B, max C) of an rnn layer's carry; the diagonal of its TW
    // (max U); its gradient rows summed over lanes (max U, max C); the lanes active at this step;
    // every lane's errors q^l on each layer's h at this step, (B, S) at the stacked offsets (0 for
    // lanes without a target).
    var perLayerM: [UnsafeMutablePointer<Scalar>?] = []
    var perLayerRowStride: [Int] = [], perLayerLaneStride: [Int] = [], perLayerInfluenceCount: [Int] = []
    var carryInputs: UnsafeMutablePointer<Scalar>
    var carryColumns: Int
    var recurrentDiagonal: UnsafeMutablePointer<Scalar>
    var carryGradientRows: UnsafeMutablePointer<Scalar>
    var activeLanes: UnsafeMutablePointer<Int>
    var stepErrors: UnsafeMutablePointer<Scalar>
    // uoro: ã (B, S), θ̃ (B, cols), |θ̃|² of each lane (from its last pair update: carried, part
    // of `OnlineState`, so that a resumed run is bit-identical), scratch.
    var uoroA: UnsafeMutablePointer<Scalar>
    var uoroTheta: UnsafeMutablePointer<Scalar>
    var uoroThetaSquares: UnsafeMutablePointer<Double>
    var uoroJa: UnsafeMutablePointer<Scalar>          // (B, S) J ã of every lane
    var uoroNu: UnsafeMutablePointer<Scalar>          // (S)
    var uoroRowsS: UnsafeMutablePointer<Scalar>       // (B, max R) input-side tangent of the rows
    var uoroRowsT: UnsafeMutablePointer<Scalar>       // (B, max R) state-side tangent of the rows
    var uoroTangent: UnsafeMutablePointer<Scalar>     // (2, B, max width) tangents of dense layers
    var uoroCS: UnsafeMutablePointer<Scalar>          // (Σ_l R_l) ν̃'s row factors per layer (Ds side)
    var uoroCT: UnsafeMutablePointer<Scalar>          // (Σ_l R_l) (Dt side)
    var uoroGradientFactors: UnsafeMutablePointer<Scalar> // (B) q · ã^L[h] of each lane (0 without a target)
    var rowOffset: [Int] = []                         // layer l's rows in uoroCS / uoroCT
    // The weights' transposes, `W_sᵀ` (I, R) at `transposedSW[l]` and `W_tᵀ` (U, R) at
    // `transposedTW[l]` in `transposedWeights` (-1: the layer's products read `w` itself), made
    // from the weights at the start of each `advance` (see `weightsTransposed`).
    var transposedWeights: UnsafeMutablePointer<Scalar>
    var transposedSW: [Int] = [], transposedTW: [Int] = []

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
                noiseSeed: UInt64 = 0) throws {
        if let problem = spec.problems().first { throw OnlineGradientError(problem) }
        guard lanes >= 1 else { throw OnlineGradientError("lanes must be at least 1") }
        guard let top = spec.layers.lastIndex(where: { $0.isRecurrent }) else {
            throw OnlineGradientError("\(algorithm.rawValue) needs a recurrent layer (rnn, lstm or gru)")
        }
        if algorithm == .rflo, let l = spec.layers.firstIndex(where: { $0.isGated }) {
            throw OnlineGradientError("layer \(l): rflo supports rnn layers only, not \(spec.layers[l].kind.rawValue)")
        }
        if let l = spec.layers.firstIndex(where: { $0.kind == .rnn && $0.activation == .softmax }) {
            throw OnlineGradientError("layer \(l): a recurrent softmax layer is not supported by the online algorithms (put a dense softmax layer on top)")
        }
        self.spec = spec
        self.algorithm = algorithm
        self.layout = ParameterLayout(spec)
        self.lanes = lanes
        self.laneCapacity = lanes
        self.rfloDecay = rfloDecay
        self.noiseSeed = noiseSeed
        var shapes: [Shape] = []
        for (l, layer) in spec.layers.enumerated() {
            let e = layout.entries[l]
            let g = layer.kind.gates
            shapes.append(Shape(kind: layer.kind, activation: layer.activation, units: layer.units, inputs: layer.inputs,
                                gates: g, rows: g * layer.units, stateSize: layer.kind == .lstm ? 2 * layer.units : layer.units,
                                sw: e.sw, tw: e.tw ?? -1, b: e.b, bt: e.bt ?? -1,
                                end: e.sw + layer.parameterCount))
        }
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

        var owned: [UnsafeMutableRawPointer] = []
        func make(_ count: Int) -> UnsafeMutablePointer<Scalar> {
            let n = max(count, 1)
            let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Scalar>.stride, alignment: 64)
            owned.append(raw)
            return raw.initializeMemory(as: Scalar.self, repeating: 0, count: n)
        }
        let b = lanes
        let maxWidth = max(spec.layers.map { max($0.units, $0.inputs) }.max() ?? 1, 1)
        self.maxWidth = maxWidth
        let maxRows = shapes.map(\.rows).max() ?? 1
        var hs: [UnsafeMutablePointer<Scalar>] = [], cs: [UnsafeMutablePointer<Scalar>] = []
        var hps: [UnsafeMutablePointer<Scalar>] = [], cps: [UnsafeMutablePointer<Scalar>] = []
        var pres: [UnsafeMutablePointer<Scalar>] = [], dss: [UnsafeMutablePointer<Scalar>] = []
        var dts: [UnsafeMutablePointer<Scalar>] = [], scs: [UnsafeMutablePointer<Scalar>] = []
        for shape in shapes {
            hs.append(make(b * shape.units))
            cs.append(make(shape.kind == .lstm ? b * shape.units : 0))
            hps.append(make(b * shape.units))
            cps.append(make(shape.kind == .lstm ? b * shape.units : 0))
            pres.append(make(b * 2 * shape.rows))
            dss.append(make(b * shape.stateSize * shape.gates))
            dts.append(make(b * shape.stateSize * shape.gates))
            scs.append(make(b * shape.stateSize))
        }
        input = make(b * spec.inputs)
        logits = make(b * spec.outputs)
        let activeBuffer = UnsafeMutablePointer<Bool>.allocate(capacity: b)
        activeBuffer.initialize(repeating: true, count: b)
        active = activeBuffer
        accumulator = make(layout.count)
        cotangent = make(2 * maxWidth)
        cotangentBelow = make(2 * maxWidth)
        rowScratchS = make(maxRows)
        rowScratchT = make(maxRows)
        readoutErrors = make(b * maxWidth)
        readoutErrorsBelow = make(b * maxWidth)
        q = readoutErrors
        let targetBuffer = UnsafeMutablePointer<Bool>.allocate(capacity: b)
        targetBuffer.initialize(repeating: false, count: b)
        hasTarget = targetBuffer
        one = make(1)
        one[0] = 1

        // Algorithm state.
        var mcols: [Int] = []
        let table = UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>.allocate(capacity: algorithm == .rtrl ? (top + 1) * (b + 1) : 1)
        var maxState = 1
        if algorithm == .rtrl {
            for l in 0...top {
                let cols = shapes[l].end
                mcols.append(cols)
                for lane in 0...b { (table + l * (b + 1) + lane).initialize(to: make(shapes[l].stateSize * cols)) }
                maxState = max(maxState, shapes[l].stateSize)
            }
        }
        rtrlBlocks = table
        rtrlJ = make(algorithm == .rtrl ? maxState * maxWidth : 0)
        var pls: [UnsafeMutablePointer<Scalar>?] = [], rowStrides: [Int] = [], laneStrides: [Int] = [], counts: [Int] = []
        var maxColumns = 1, carried = false
        for (l, shape) in shapes.enumerated() {
            let strides = shape.influenceStrides(laneCapacity: b)
            rowStrides.append(strides.row); laneStrides.append(strides.lane); counts.append(strides.count)
            if (algorithm == .snap1 || algorithm == .rflo) && shape.isRecurrent && l <= top {
                pls.append(make(strides.count))
                maxColumns = max(maxColumns, shape.blockStride)
                carried = true
            } else {
                pls.append(nil)
            }
        }
        perLayerRowStride = rowStrides; perLayerLaneStride = laneStrides; perLayerInfluenceCount = counts
        carryColumns = maxColumns
        carryInputs = make(carried ? b * maxColumns : 0)
        recurrentDiagonal = make(carried ? maxWidth : 0)
        carryGradientRows = make(carried ? maxWidth * maxColumns : 0)
        let laneList = UnsafeMutablePointer<Int>.allocate(capacity: b)
        laneList.initialize(repeating: 0, count: b)
        activeLanes = laneList
        stepErrors = make(algorithm == .snap1 || algorithm == .rflo ? b * s : 0)
        let uoro = algorithm == .uoro
        uoroA = make(uoro ? b * s : 0)
        uoroTheta = make(uoro ? b * shapes[top].end : 0)
        let squares = UnsafeMutablePointer<Double>.allocate(capacity: b)
        squares.initialize(repeating: 0, count: b)
        uoroThetaSquares = squares
        let lse = UnsafeMutablePointer<Double>.allocate(capacity: b)
        lse.initialize(repeating: 0, count: b)
        logSumExp = lse
        uoroJa = make(uoro ? b * s : 0)
        uoroNu = make(uoro ? s : 0)
        uoroRowsS = make(uoro ? b * maxRows : 0)
        uoroRowsT = make(uoro ? b * maxRows : 0)
        uoroTangent = make(uoro ? 2 * b * maxWidth : 0)
        var rowOffsets: [Int] = [], rowTotal = 0
        for shape in shapes { rowOffsets.append(rowTotal); rowTotal += shape.rows }
        rowOffset = rowOffsets
        uoroCS = make(uoro ? rowTotal : 0)
        uoroCT = make(uoro ? rowTotal : 0)
        uoroGradientFactors = make(uoro ? b : 0)
        var tsw: [Int] = [], ttw: [Int] = [], transposedTotal = 0
        for shape in shapes {
            let keep = Self.weightsTransposed(lanes: b, rows: shape.rows, inputs: shape.inputs,
                                              units: shape.isRecurrent ? shape.units : 0)
            tsw.append(keep ? transposedTotal : -1)
            if keep { transposedTotal += shape.rows * shape.inputs }
            ttw.append(keep && shape.isRecurrent ? transposedTotal : -1)
            if keep && shape.isRecurrent { transposedTotal += shape.rows * shape.units }
        }
        transposedWeights = make(transposedTotal)
        transposedSW = tsw; transposedTW = ttw
        h = hs; c = cs; hPrev = hps; cPrev = cps; pre = pres; ds = dss; dt = dts; selfCoef = scs
        rtrlColumns = mcols; perLayerM = pls
        storage = owned
    }

    deinit {
        for buffer in storage { buffer.deallocate() }
        active.deallocate()
        hasTarget.deallocate()
        rtrlBlocks.deallocate()
        activeLanes.deallocate()
        uoroThetaSquares.deallocate()
        logSumExp.deallocate()
    }

    /// Whether a layer's per-step products `x W_sᵀ`, `h W_tᵀ` (B lanes) run on transposed copies
    /// of its weights (row-major NN products) instead of `w` (NT). Measured with OpenBLAS 0.3.21
    /// on AMD Zen 4 (Cooperlake kernels): NN takes 0.55–0.65 of NT's time for 2–16 lanes and up
    /// to 128 units (the NT small-matrix path is the slow one), while transposing costs one pass
    /// over the weights, as much as a one-lane product; beyond about 128 KB of weights the
    /// products are bound by memory and the transpose's pass is not repaid.
    static func weightsTransposed(lanes: Int, rows: Int, inputs: Int, units: Int) -> Bool {
        lanes >= 2 && rows * (inputs + units) <= 32_768
    }

    /// Refreshes the transposed weights from `w` (at the start of each `advance`).
    func transposeWeights(_ w: UnsafePointer<Scalar>) {
        for (l, sh) in shapes.enumerated() {
            if transposedSW[l] >= 0 {
                RecurrenceProduct<Scalar>.transpose(w + sh.sw, rows: sh.rows, cols: sh.inputs,
                                                    into: transposedWeights + transposedSW[l])
            }
            if transposedTW[l] >= 0 {
                RecurrenceProduct<Scalar>.transpose(w + sh.tw, rows: sh.rows, cols: sh.units,
                                                    into: transposedWeights + transposedTW[l])
            }
        }
    }

    /// `c (m, R) = beta · c + a (m, k) · Wᵀ` for layer `l`'s `W_s` (`k = I`) or, with
    /// `recurrent`, its `W_t` (`k = U`): an NN product on the transposed copy where the layer
    /// keeps one, else an NT product on `w`.
    @inline(__always)
    func timesWeightsTransposed(_ l: Int, recurrent: Bool, m: Int, a: UnsafePointer<Scalar>, lda: Int,
                                _ w: UnsafePointer<Scalar>, beta: Scalar, c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        let sh = shapes[l]
        let k = recurrent ? sh.units : sh.inputs, R = sh.rows
        let offset = recurrent ? transposedTW[l] : transposedSW[l]
        if offset >= 0 {
            Scalar.gemm(transA: false, transB: false, m: m, n: R, k: k, alpha: 1, a: a, lda: lda,
                        b: UnsafePointer(transposedWeights + offset), ldb: R, beta: beta, c: c, ldc: ldc)
        } else {
            Scalar.gemm(transA: false, transB: true, m: m, n: R, k: k, alpha: 1, a: a, lda: lda,
                        b: w + (recurrent ? sh.tw : sh.sw), ldb: k, beta: beta, c: c, ldc: ldc)
        }
    }

    /// Lane `lane`'s `M^l` (rtrl; `lane == laneCapacity`: the layer's spare block).
    @inline(__always)
    func rtrlBlock(_ l: Int, _ lane: Int) -> UnsafeMutablePointer<Scalar> {
        rtrlBlocks[l * (laneCapacity + 1) + lane]
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
    ///   block per layer and the dense layers' blocks, scratch (not counted);
    /// - snap1, rflo: `Σ_l B · (S_l / U_l) · P_l` (lstm 2P, otherwise P);
    /// - uoro: `B · (S + cols_L)`.
    /// Returns 0 for a stack without a recurrent layer.
    public static func influenceScalars(spec: NetworkSpec, algorithm: OnlineAlgorithm, lanes: Int) -> Int {
        guard let top = spec.layers.lastIndex(where: { $0.isRecurrent }) else { return 0 }
        var cols = 0, total = 0, state = 0
        for (l, layer) in spec.layers.enumerated() where l <= top {
            cols += layer.parameterCount
            guard layer.isRecurrent else { continue }
            let s = layer.kind == .lstm ? 2 * layer.units : layer.units
            state += s
            switch algorithm {
            case .rtrl: total += lanes * s * cols
            case .snap1, .rflo: total += lanes * (s / layer.units) * layer.parameterCount
            case .uoro: break
            }
        }
        return algorithm == .uoro ? lanes * (state + cols) : total
    }

    /// Sequence start (streams: epoch start): every lane's state and influence to 0, the pending
    /// accumulators to 0. Exact, since `s_0 = 0` is a constant (`M_0 = 0`).
    public func resetState() {
        for (l, shape) in shapes.enumerated() {
            h[l].update(repeating: 0, count: lanes * shape.units)
            if shape.kind == .lstm { c[l].update(repeating: 0, count: lanes * shape.units) }
        }
        for l in rtrlColumns.indices {
            for lane in 0..<lanes { rtrlBlock(l, lane).update(repeating: 0, count: shapes[l].stateSize * rtrlColumns[l]) }
        }
        for (l, m) in perLayerM.enumerated() {
            if let m { m.update(repeating: 0, count: perLayerInfluenceCount[l]) }
        }
        if algorithm == .uoro {
            uoroA.update(repeating: 0, count: lanes * stackedStateSize)
            uoroTheta.update(repeating: 0, count: lanes * influenceColumns)
            uoroThetaSquares.update(repeating: 0, count: lanes)
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
            for i in 0..<layout.count { gradient[i] = accumulator[i] * scale }
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
        accumulator.update(repeating: 0, count: layout.count)
        pendingLossSum = 0
        pendingElements = 0
    }

    // MARK: - One step

    /// One step: the forward, the loss and the readout's errors `q` of the target lanes, then
    /// the influence advance and the gradient `q_mᵀ M_m` (each algorithm's file says in which
    /// order over lanes).
    func runStep(_ view: BatchView<Scalar>, _ w: UnsafePointer<Scalar>, lengths: [Int]) {
        let n = step
        for lane in 0..<lanes { active[lane] = n <= lengths[lane] }
        forward(view, w, n)
        var targets = false
        for lane in 0..<lanes {
            hasTarget[lane] = active[lane] && view.mask[view.row(n, lane)] != 0
            targets = targets || hasTarget[lane]
        }
        if targets { lossAndReadout(view, w, n) }
        switch algorithm {
        case .rtrl: rtrlAdvance(w)
        case .snap1, .rflo: perLayerAdvance(w)
        case .uoro: uoroAdvance(w, n)
        }
    }

    /// Layer `l`'s input of this step, (B, I).
    @inline(__always)
    func layerInput(_ l: Int) -> UnsafeMutablePointer<Scalar> { l == 0 ? input : h[l - 1] }

    /// Forward of step `n` for every lane with the given weights, and the local derivatives of
    /// the layers up to `L` (see the type's doc). Frozen lanes keep their state.
    func forward(_ view: BatchView<Scalar>, _ w: UnsafePointer<Scalar>, _ n: Int) {
        let b = lanes
        let inputs = spec.inputs
        if let dense = view.denseInputs {
            input.update(from: dense + (n - 1) * b * inputs, count: b * inputs)
        } else if let hot = view.hotInputs {
            input.update(repeating: 0, count: b * inputs)
            for lane in 0..<b {
                let k = Int(hot[view.row(n, lane)])
                if k >= 0 { input[lane * inputs + k] = 1 }
            }
        }
        let top = shapes.count - 1
        for (l, sh) in shapes.enumerated() {
            let u = sh.units, i = sh.inputs, r = sh.rows
            let x = UnsafePointer(layerInput(l))
            if sh.isRecurrent {
                hPrev[l].update(from: h[l], count: b * u)
                if sh.kind == .lstm { cPrev[l].update(from: c[l], count: b * u) }
            }
            switch sh.kind {
            case .rnn, .dense:
                let z = h[l]
                for lane in 0..<b { (z + lane * u).update(from: w + sh.b, count: u) }
                timesWeightsTransposed(l, recurrent: false, m: b, a: x, lda: i, w, beta: 1, c: z, ldc: u)
                if sh.kind == .rnn {
                    timesWeightsTransposed(l, recurrent: true, m: b, a: UnsafePointer(hPrev[l]), lda: u, w, beta: 1, c: z, ldc: u)
                }
                if l == top { logits.update(from: z, count: b * u) }
                if l == top && sh.activation == .softmax && spec.loss == .crossEntropy {
                    // Softmax keeping each lane's log Σ_j exp(z_j) for its cross-entropy.
                    for lane in 0..<b {
                        let row = z + lane * u
                        var maxValue = row[0]
                        for j in 1..<u where row[j] > maxValue { maxValue = row[j] }
                        let sum = Scalar.expInPlace(row, count: u, shift: maxValue)
                        logSumExp[lane] = Double(maxValue) + _log(Double(sum))
                        let inv = 1 / sum
                        for j in 0..<u { row[j] *= inv }
                    }
                } else {
                    sh.activation.forward(z, rows: b, width: u)
                }
                if l <= topRecurrent {
                    // σ'(z) from σ(z), one loop per activation (vectorisable); Dt = Ds.
                    let d = ds[l], count = b * u
                    switch sh.activation {
                    case .tanh: for j in 0..<count { d[j] = 1 - z[j] * z[j] }
                    case .sigmoid: for j in 0..<count { d[j] = z[j] * (1 - z[j]) }
                    case .relu: for j in 0..<count { d[j] = z[j] > 0 ? 1 : 0 }
                    case .identity, .softmax: d.update(repeating: 1, count: count)  // softmax below L is rejected
                    }
                    dt[l].update(from: d, count: count)
                }
            case .lstm:
                let p = pre[l]  // (B, 2R): [pre (4U) | tanh(c) (U)]
                let w2 = 2 * r
                for lane in 0..<b {
                    let row = p + lane * w2
                    for j in 0..<r { row[j] = w[sh.b + j] + w[sh.bt + j] }
                }
                timesWeightsTransposed(l, recurrent: false, m: b, a: x, lda: i, w, beta: 1, c: p, ldc: w2)
                timesWeightsTransposed(l, recurrent: true, m: b, a: UnsafePointer(hPrev[l]), lda: u, w, beta: 1, c: p, ldc: w2)
                let s = sh.stateSize
                for lane in 0..<b {
                    let row = p + lane * w2
                    Scalar.sigmoidInPlace(row, count: 2 * u)
                    Scalar.tanhInPlace(row + 2 * u, count: u)
                    Scalar.sigmoidInPlace(row + 3 * u, count: u)
                    let cp = cPrev[l] + lane * u, cn = c[l] + lane * u, hn = h[l] + lane * u
                    let tc = row + 4 * u
                    for k in 0..<u {
                        let cv = row[u + k] * cp[k] + row[k] * row[2 * u + k]
                        cn[k] = cv
                        tc[k] = cv
                    }
                    Scalar.tanhInPlace(tc, count: u)
                    let d = ds[l] + lane * s * 4, e = dt[l] + lane * s * 4, sc = selfCoef[l] + lane * s
                    for k in 0..<u {
                        let ig = row[k], fg = row[u + k], gg = row[2 * u + k], og = row[3 * u + k], t = tc[k]
                        hn[k] = og * t
                        let dcI = gg * ig * (1 - ig), dcF = cp[k] * fg * (1 - fg), dcG = ig * (1 - gg * gg)
                        let dhdc = og * (1 - t * t)
                        let hRow = d + k * 4, cRow = d + (u + k) * 4
                        hRow[0] = dhdc * dcI; hRow[1] = dhdc * dcF; hRow[2] = dhdc * dcG; hRow[3] = t * og * (1 - og)
                        cRow[0] = dcI; cRow[1] = dcF; cRow[2] = dcG; cRow[3] = 0
                        for g in 0..<4 { e[k * 4 + g] = hRow[g]; e[(u + k) * 4 + g] = cRow[g] }
                        sc[k] = dhdc * fg
                        sc[u + k] = fg
                    }
                }
            case .gru:
                let p = pre[l]  // (B, 2R): [a_s (3U) | a_t (3U)]
                let w2 = 2 * r
                for lane in 0..<b {
                    let row = p + lane * w2
                    for j in 0..<r { row[j] = w[sh.b + j]; row[r + j] = w[sh.bt + j] }
                }
                timesWeightsTransposed(l, recurrent: false, m: b, a: x, lda: i, w, beta: 1, c: p, ldc: w2)
                timesWeightsTransposed(l, recurrent: true, m: b, a: UnsafePointer(hPrev[l]), lda: u, w, beta: 1, c: p + r, ldc: w2)
                for lane in 0..<b {
                    let row = p + lane * w2, at = row + r
                    // row[0..<2U] ← σ(a_s + a_t) for r, z; row[2U..<3U] ← tanh(a_sn + r (a_tn))
                    for j in 0..<(2 * u) { row[j] += at[j] }
                    Scalar.sigmoidInPlace(row, count: 2 * u)
                    for k in 0..<u { row[2 * u + k] += row[k] * at[2 * u + k] }
                    Scalar.tanhInPlace(row + 2 * u, count: u)
                    let hp = hPrev[l] + lane * u, hn = h[l] + lane * u
                    let d = ds[l] + lane * u * 3, e = dt[l] + lane * u * 3, sc = selfCoef[l] + lane * u
                    for k in 0..<u {
                        let rg = row[k], zg = row[u + k], ng = row[2 * u + k]
                        hn[k] = (1 - zg) * ng + zg * hp[k]
                        let dn = (1 - zg) * (1 - ng * ng)
                        let dr = dn * at[2 * u + k] * rg * (1 - rg)
                        let dz = (hp[k] - ng) * zg * (1 - zg)
                        d[k * 3] = dr; d[k * 3 + 1] = dz; d[k * 3 + 2] = dn
                        e[k * 3] = dr; e[k * 3 + 1] = dz; e[k * 3 + 2] = dn * rg
                        sc[k] = zg
                    }
                }
            }
            // Frozen lanes keep their state.
            if sh.isRecurrent {
                for lane in 0..<b where !active[lane] {
                    (h[l] + lane * u).update(from: hPrev[l] + lane * u, count: u)
                    if sh.kind == .lstm { (c[l] + lane * u).update(from: cPrev[l] + lane * u, count: u) }
                }
            }
        }
    }

    /// Loss of the step's target lanes (`hasTarget`), the readout's exact same-step gradient (dense
    /// layers above `L`) into the accumulator, and the errors `q = ∂C_m/∂h^L_m`, `(B, U_L)` with
    /// zero rows for lanes without a target, in `q`. The dense layers' backward runs over all lanes
    /// at once: `ΔW += Eᵀ X`, `Δb += Σ_lanes E`, `E_below = E W`.
    ///
    /// Errors: mse `dC/dy = 2 (y - t)`; with a dense top, cross-entropy and binary cross-entropy
    /// inject `dC/dz = y - t` (folded); with a recurrent top, binary cross-entropy uses
    /// `dC/dy = (y - t) / (y (1 - y))` (it meets `σ'` inside the influence).
    func lossAndReadout(_ view: BatchView<Scalar>, _ w: UnsafePointer<Scalar>, _ n: Int) {
        let top = shapes.count - 1
        let o = spec.outputs
        let b = lanes
        let foldedTop = top > topRecurrent && spec.loss != .mse
        var cot = readoutErrors, below = readoutErrorsBelow
        var sum = 0.0
        for lane in 0..<b {
            let g = cot + lane * o  // error on the top layer: dC/dz (folded) or dC/dy
            guard hasTarget[lane] else {
                g.update(repeating: 0, count: o)
                continue
            }
            let row = view.row(n, lane)
            let y = h[top] + lane * o
            switch spec.loss {
            case .mse:
                let t = view.valueTargets! + row * o
                for j in 0..<o {
                    let diff = y[j] - t[j]
                    sum += Double(diff) * Double(diff)
                    g[j] = 2 * diff
                }
                pendingElements += o
            case .binaryCrossEntropy:
                let t = view.valueTargets! + row * o
                for j in 0..<o {
                    let yv = Double(y[j]), tv = Double(t[j])
                    sum -= tv * max(_log(yv), -100) + (1 - tv) * max(_log(1 - yv), -100)
                    g[j] = foldedTop ? y[j] - t[j] : (y[j] - t[j]) / (y[j] * (1 - y[j]))
                }
                pendingElements += o
            case .crossEntropy:
                // A recurrent softmax top is rejected at init, so the top is a dense softmax layer
                // and its forward kept log Σ_j exp(z_j).
                let cls = Int(view.classTargets![row])
                sum += logSumExp[lane] - Double(logits[lane * o + cls])
                for j in 0..<o { g[j] = y[j] }
                g[cls] -= 1
                pendingElements += 1
            }
        }
        pendingLossSum += sum
        // Same-step backprop through the dense layers above L, all lanes at once (the rows of
        // lanes without a target are 0 and stay 0 through every activation's backward).
        if top > topRecurrent {
            for l in stride(from: top, to: topRecurrent, by: -1) {
                let sh = shapes[l]
                let u = sh.units, i = sh.inputs
                if !(l == top && foldedTop) {
                    sh.activation.backward(h: UnsafePointer(h[l]), g: cot, rows: b, width: u)
                }
                Scalar.gemm(transA: true, transB: false, m: u, n: i, k: b, alpha: 1, a: UnsafePointer(cot), lda: u,
                            b: UnsafePointer(layerInput(l)), ldb: i, beta: 1, c: accumulator + sh.sw, ldc: i)
                let bias = accumulator + sh.b
                for lane in 0..<b where hasTarget[lane] {
                    let e = cot + lane * u
                    for k in 0..<u { bias[k] += e[k] }
                }
                Scalar.gemm(transA: false, transB: false, m: b, n: i, k: u, alpha: 1, a: UnsafePointer(cot), lda: u,
                            b: w + sh.sw, ldb: i, beta: 0, c: below, ldc: i)
                swap(&cot, &below)
            }
        }
        q = cot
    }

    // MARK: - Per-lane local maps (shared by snap1, rflo and uoro)

    /// The weight rows' factors of one lane's cotangent `cot` on layer `l`'s new state (S):
    /// `cs[r] = Σ_{s ∈ unit k} Ds[s, g] cot[s]`, `ct[r] = Σ Dt[s, g] cot[s]` for `r = gU + k`
    /// (R each), so that `cotᵀ I^l` is `cs ⊗ x` on `W_s`, `ct ⊗ h_{n-1}` on `W_t`, `cs` on `b_s`,
    /// `ct` on `b_t`.
    func weightRowFactors(_ l: Int, _ lane: Int, _ cot: UnsafePointer<Scalar>,
                          cs: UnsafeMutablePointer<Scalar>, ct: UnsafeMutablePointer<Scalar>) {
        let sh = shapes[l]
        let u = sh.units, G = sh.gates, S = sh.stateSize, R = sh.rows
        let d = ds[l] + lane * S * G, e = dt[l] + lane * S * G
        if G == 1 && S == u {
            for k in 0..<u { cs[k] = d[k] * cot[k]; ct[k] = e[k] * cot[k] }
            return
        }
        cs.update(repeating: 0, count: R)
        ct.update(repeating: 0, count: R)
        for s in 0..<S {
            let k = s % u, v = cot[s]
            if v == 0 { continue }
            for g in 0..<G {
                cs[g * u + k] += d[s * G + g] * v
                ct[g * u + k] += e[s * G + g] * v
            }
        }
    }

    /// Same-step VJP of layer `l` for one lane: with the cotangent `cot` on its new state (S),
    /// adds `cotᵀ I^l` to `grad` (flat layout; nil to skip) and writes `Jxᵀ cot` (I) into `cx`
    /// (nil to skip). `cs = Dsᵀ cot`, `ct = Dtᵀ cot` per weight row.
    func layerVJP(_ l: Int, _ lane: Int, _ cot: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>,
                  grad: UnsafeMutablePointer<Scalar>?, cx: UnsafeMutablePointer<Scalar>?) {
        let sh = shapes[l]
        let u = sh.units, i = sh.inputs, R = sh.rows
        let cs = rowScratchS, ct = rowScratchT
        weightRowFactors(l, lane, cot, cs: cs, ct: ct)
        if let grad {
            let x = layerInput(l) + lane * i
            let hp = hPrev[l] + lane * u
            for r in 0..<R { sh.addRow(r, a: cs[r], t: ct[r], x: x, hPrev: hp, into: grad) }
        }
        if let cx { sendDown(l, cs: UnsafePointer(cs), w, into: cx) }
    }

    /// `Jxᵀ cot = SWᵀ cs` (I): what layer `l`'s cotangent sends to its input, from its row factors.
    func sendDown(_ l: Int, cs: UnsafePointer<Scalar>, _ w: UnsafePointer<Scalar>, into cx: UnsafeMutablePointer<Scalar>) {
        let sh = shapes[l]
        let i = sh.inputs
        for j in 0..<i {
            var v: Scalar = 0
            for r in 0..<sh.rows { v += w[sh.sw + r * i + j] * cs[r] }
            cx[j] = v
        }
    }
}
