/// Owns an `OnlineGradient`'s buffers: each 64-byte aligned (a cache line: the row kernels'
/// vector loads and stores of a block that starts on a line do not split across two), filled at
/// allocation, at least one element long, and all freed together when the owner goes. Used at
/// `init` only: the step loop allocates nothing.
final class AlignedBuffers {
    private var owned: [UnsafeMutableRawPointer] = []

    /// `count` (at least 1) elements, each `value`.
    func make<T>(_ count: Int, repeating value: T) -> UnsafeMutablePointer<T> {
        let n = max(count, 1)
        let raw = allocate(n, of: T.self)
        return raw.initializeMemory(as: T.self, repeating: value, count: n)
    }

    /// `count` (at least 1) zeros.
    func zeros<S: RNNScalar>(_ count: Int) -> UnsafeMutablePointer<S> { make(count, repeating: 0) }

    /// A copy of `values` (of a trivial type; with none, one element that is never read).
    func copy<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let raw = allocate(max(values.count, 1), of: T.self)
        let p = raw.bindMemory(to: T.self, capacity: max(values.count, 1))
        for (k, v) in values.enumerated() { (p + k).initialize(to: v) }
        return p
    }

    private func allocate<T>(_ n: Int, of: T.Type) -> UnsafeMutableRawPointer {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<T>.stride,
                                                   alignment: max(64, MemoryLayout<T>.alignment))
        owned.append(raw)
        return raw
    }

    deinit {
        for raw in owned { raw.deallocate() }
    }
}

extension OnlineGradient {
    /// The forward's buffers, sized for `B = laneCapacity` lanes: per layer (arrays indexed by
    /// layer; `U`, `R`, `S`, `G` are that layer's) its state, the previous step's, its
    /// pre-activations and its local derivatives; then layer 0's input and the lanes that step.
    struct LayerBuffers {
        /// (B, U) state (dense: this step's output).
        let h: [UnsafeMutablePointer<Scalar>]
        /// (B, U) lstm cell (others: unused).
        let c: [UnsafeMutablePointer<Scalar>]
        /// (B, U) the previous step's `h`.
        let hPrev: [UnsafeMutablePointer<Scalar>]
        /// (B, U) the previous step's `c` (lstm).
        let cPrev: [UnsafeMutablePointer<Scalar>]
        /// (B, 2R) pre-activations and scratch (lstm: `[pre (4U) | tanh(c) (U)]`, gru:
        /// `[a_s (3U) | a_t (3U)]`; unused by rnn and dense).
        let pre: [UnsafeMutablePointer<Scalar>]
        /// (B, S, G) `Ds[s, g] = ∂s_s/∂pre_s[gU + k]` (layers up to `L`; see `OnlineGradient`).
        let ds: [UnsafeMutablePointer<Scalar>]
        /// (B, S, G) `Dt[s, g] = ∂s_s/∂pre_t[gU + k]`.
        let dt: [UnsafeMutablePointer<Scalar>]
        /// (B, S) `self[s]`, the direct dependence of `s_s` on the previous state outside `TW`.
        let selfCoef: [UnsafeMutablePointer<Scalar>]
        /// lru: (B, 2S) the state `[Re s; Im s]` of each lane, and the previous step's.
        let s: [UnsafeMutablePointer<Scalar>]
        let sPrev: [UnsafeMutablePointer<Scalar>]
        /// lru: (7S) the step's coefficients from the weights, `λ_re, λ_im, γ, Re ∂λ/∂ν,
        /// Im ∂λ/∂ν, Re ∂λ/∂θ, Im ∂λ/∂θ` (`ν = nu_log`, `θ = theta_log`), refreshed at each
        /// `advance` (`refreshLRUCoefficients`).
        let lruCoefficients: [UnsafeMutablePointer<Scalar>]
        /// (B, I) layer 0's input of the step.
        let input: UnsafeMutablePointer<Scalar>
        /// (B) the lanes that step (`n ≤ length`); the others are frozen.
        let active: UnsafeMutablePointer<Bool>

        init(_ shapes: [Shape], lanes b: Int, inputs: Int, _ arena: AlignedBuffers) {
            var h: [UnsafeMutablePointer<Scalar>] = [], c: [UnsafeMutablePointer<Scalar>] = []
            var hPrev: [UnsafeMutablePointer<Scalar>] = [], cPrev: [UnsafeMutablePointer<Scalar>] = []
            var pre: [UnsafeMutablePointer<Scalar>] = [], ds: [UnsafeMutablePointer<Scalar>] = []
            var dt: [UnsafeMutablePointer<Scalar>] = [], selfCoef: [UnsafeMutablePointer<Scalar>] = []
            var s: [UnsafeMutablePointer<Scalar>] = [], sPrev: [UnsafeMutablePointer<Scalar>] = []
            var coefficients: [UnsafeMutablePointer<Scalar>] = []
            for shape in shapes {
                s.append(arena.zeros(shape.isLRU ? b * shape.stateSize : 0))
                sPrev.append(arena.zeros(shape.isLRU ? b * shape.stateSize : 0))
                coefficients.append(arena.zeros(7 * shape.complexState))
                h.append(arena.zeros(b * shape.units))
                c.append(arena.zeros(shape.hasCell ? b * shape.units : 0))
                hPrev.append(arena.zeros(b * shape.units))
                cPrev.append(arena.zeros(shape.hasCell ? b * shape.units : 0))
                pre.append(arena.zeros(b * 2 * shape.rows))
                ds.append(arena.zeros(b * shape.stateSize * shape.gates))
                dt.append(arena.zeros(b * shape.stateSize * shape.gates))
                selfCoef.append(arena.zeros(b * shape.stateSize))
            }
            self.h = h; self.c = c; self.hPrev = hPrev; self.cPrev = cPrev
            self.pre = pre; self.ds = ds; self.dt = dt; self.selfCoef = selfCoef
            self.s = s; self.sPrev = sPrev; self.lruCoefficients = coefficients
            self.input = arena.zeros(b * inputs)
            self.active = arena.make(b, repeating: true)
        }
    }

    /// The top of a step: the loss's inputs and the readout's errors, for `B` lanes.
    struct ReadoutBuffers {
        /// (B, O) the top layer's pre-activation (cross-entropy).
        let logits: UnsafeMutablePointer<Scalar>
        /// (B) `log Σ_j exp(z_j)` of the top softmax.
        let logSumExp: UnsafeMutablePointer<Double>
        /// (B) the lanes with a target at this step.
        let hasTarget: UnsafeMutablePointer<Bool>
        /// The readout's errors of the step for every lane, `(B, width)`, two buffers that the
        /// backward through the dense layers above `L` alternates between (`OnlineGradient.q`
        /// points at the one that ends on `h^L`).
        let errors: UnsafeMutablePointer<Scalar>
        let errorsBelow: UnsafeMutablePointer<Scalar>

        init(lanes b: Int, outputs: Int, maxWidth: Int, _ arena: AlignedBuffers) {
            logits = arena.zeros(b * outputs)
            logSumExp = arena.make(b, repeating: 0)
            hasTarget = arena.make(b, repeating: false)
            errors = arena.zeros(b * maxWidth)
            errorsBelow = arena.zeros(b * maxWidth)
        }
    }

    /// The gradient sum of the pending window and the per-lane scratch of the same-step backward
    /// (`layerVJP`, `perLayerErrors`, uoro's cotangents).
    struct BackwardBuffers {
        /// (P) summed gradient of the pending window, `ParameterLayout` order.
        let accumulator: UnsafeMutablePointer<Scalar>
        /// (2 · max width) one lane's same-step cotangent, and the one sent below (alternating).
        let cotangent: UnsafeMutablePointer<Scalar>
        let cotangentBelow: UnsafeMutablePointer<Scalar>
        /// (max R) one lane's row factors (`cs`); the gated carry's factors (snap1, rflo).
        let rowScratchS: UnsafeMutablePointer<Scalar>
        /// (max R) one lane's row factors (`ct`).
        let rowScratchT: UnsafeMutablePointer<Scalar>
        /// A constant 1 (the bias column's "input" in the row kernels).
        let one: UnsafeMutablePointer<Scalar>
        /// (max 2S + max width) one lane's cotangent on an lru's state `[Re s; Im s]`, then the
        /// error `D ⊙ q` its skip sends down (rtrl's and uoro's gradient at an lru top).
        let stateCotangent: UnsafeMutablePointer<Scalar>

        init(parameters: Int, maxWidth: Int, maxRows: Int, _ arena: AlignedBuffers) {
            accumulator = arena.zeros(parameters)
            cotangent = arena.zeros(2 * maxWidth)
            cotangentBelow = arena.zeros(2 * maxWidth)
            rowScratchS = arena.zeros(maxRows)
            rowScratchT = arena.zeros(maxRows)
            one = arena.make(1, repeating: 1)
            stateCotangent = arena.zeros(maxRows + maxWidth)
        }
    }

    /// rtrl's influence (`OnlineGradient+RTRL`); empty for the other algorithms.
    struct RTRLCarry {
        /// Per layer `l ≤ L` and lane, a pointer to `M^l` of the lane, `(S_l, cols_l)` row-major
        /// (an lru: `(2S + U, cols_l)`, its state rows then its output's, `Shape.rtrlRows`),
        /// at `l · (B + 1) + lane`; the entry at lane `B` (`laneCapacity`) is the layer's spare
        /// block (the step's new `M` is formed there, then swapped with the lane's). Dense layers:
        /// this step's.
        let blocks: UnsafeMutablePointer<UnsafeMutablePointer<Scalar>>
        /// `cols_l`, the parameters of layers `0 … l`, per layer `l ≤ L`.
        let columns: [Int]
        /// (max S, max width) one lane's Jacobian scratch (`Jt`, `Jx`).
        let jacobian: UnsafeMutablePointer<Scalar>

        init(_ shapes: [Shape], top: Int, lanes b: Int, maxWidth: Int, enabled: Bool, _ arena: AlignedBuffers) {
            var columns: [Int] = [], table: [UnsafeMutablePointer<Scalar>] = []
            var maxState = 1
            if enabled {
                for l in 0...top {
                    let cols = shapes[l].end
                    columns.append(cols)
                    for _ in 0...b { table.append(arena.zeros(shapes[l].rtrlRows * cols)) }
                    maxState = max(maxState, shapes[l].stateSize)
                }
            }
            self.blocks = arena.copy(table)
            self.columns = columns
            self.jacobian = arena.zeros(enabled ? maxState * maxWidth : 0)
        }
    }

    /// snap1's and rflo's influence and scratch (`OnlineGradient+PerLayer`); empty otherwise.
    struct PerLayerCarry {
        /// `M̄[l]` for recurrent `l ≤ L` (nil otherwise), rows of `C = blockStride` scalars, row `r`
        /// of lane `t` at `r · rowStride[l] + t · laneStride[l]`, `influenceCount[l]` scalars
        /// (`Shape.influenceStrides`, given for every layer). An lru layer (snap1): lane `t`'s
        /// `lruInfluenceCount` scalars at `t · laneStride[l]` (`OnlineGradient+LRU`).
        let m: [UnsafeMutablePointer<Scalar>?]
        let rowStride: [Int], laneStride: [Int], influenceCount: [Int]
        /// (B, inputStride) every lane's row `[x; h_{n-1}; 1]` of an rnn layer's carry.
        let inputs: UnsafeMutablePointer<Scalar>
        /// The row stride of `inputs`: the widest carried layer's `blockStride`.
        let inputStride: Int
        /// (max U) the diagonal of an rnn layer's `TW` (snap1).
        let recurrentDiagonal: UnsafeMutablePointer<Scalar>
        /// (max U, inputStride) an rnn layer's gradient rows summed over lanes.
        let gradientRows: UnsafeMutablePointer<Scalar>
        /// (B) the lanes active at this step, `count` of them first.
        let activeLanes: UnsafeMutablePointer<Int>
        /// (B, S) every lane's errors `q^l` on each layer's `h` at this step, at the stacked
        /// offsets (0 for lanes without a target, and on an lstm's `c`).
        let errors: UnsafeMutablePointer<Scalar>

        /// - Parameters:
        ///   - enabled: snap1 or rflo: the influence rows.
        ///   - errors: a per-layer algorithm (snap1, rflo, kf-rtrl): the lanes' errors `q^l`.
        init(_ shapes: [Shape], top: Int, lanes b: Int, maxWidth: Int, stackedStateSize s: Int, enabled: Bool,
             errors: Bool, _ arena: AlignedBuffers) {
            var m: [UnsafeMutablePointer<Scalar>?] = [], rowStride: [Int] = [], laneStride: [Int] = []
            var counts: [Int] = []
            var maxColumns = 1, carried = false
            for (l, shape) in shapes.enumerated() {
                let strides = shape.influenceStrides(laneCapacity: b)
                rowStride.append(strides.row); laneStride.append(strides.lane); counts.append(strides.count)
                if enabled && shape.isLRU && l <= top {
                    m.append(arena.zeros(strides.count))  // the complex influences, lane by lane
                } else if enabled && shape.isRecurrent && l <= top {
                    m.append(arena.zeros(strides.count))
                    maxColumns = max(maxColumns, shape.blockStride)
                    carried = true
                } else {
                    m.append(nil)
                }
            }
            self.m = m
            self.rowStride = rowStride; self.laneStride = laneStride; self.influenceCount = counts
            self.inputStride = maxColumns
            self.inputs = arena.zeros(carried ? b * maxColumns : 0)
            self.recurrentDiagonal = arena.zeros(carried ? maxWidth : 0)
            self.gradientRows = arena.zeros(carried ? maxWidth * maxColumns : 0)
            self.activeLanes = arena.make(b, repeating: 0)
            self.errors = arena.zeros(errors ? b * s : 0)
        }
    }

    /// kf-rtrl's factors and scratch (`OnlineGradient+KFRTRL`); empty for the other algorithms.
    struct KroneckerCarry {
        /// Per recurrent layer `l ≤ L` (nil otherwise): `u` of every lane, `(B, C_l)`,
        /// `C_l = I + U + 1` (the columns of `[W_s | W_t | b]`; indrnn as rnn, `w_t` the diagonal).
        let u: [UnsafeMutablePointer<Scalar>?]
        /// Every lane's `Aᵀ`, `(B, U, U)`: lane `t`'s `A[k, j]` at `t · U² + j · U + k`, so that the
        /// lanes' `Aᵀ TWᵀ` is one product with contiguous lane blocks.
        let a: [UnsafeMutablePointer<Scalar>?]
        /// `C_l` per layer (0 where not carried).
        let columns: [Int]
        /// (B, max U, max U) all lanes' `(H A)ᵀ`, laid out as `a`.
        let product: UnsafeMutablePointer<Scalar>
        /// (max C) one lane's `â = [x; h_{n-1}; 1]`.
        let row: UnsafeMutablePointer<Scalar>
        /// (B, max U) every lane's `Aᵀ q` (0 for lanes without a target).
        let projected: UnsafeMutablePointer<Scalar>
        /// (max U, max C) the layer's gradient rows `Σ_lanes (Aᵀq) uᵀ`.
        let gradientRows: UnsafeMutablePointer<Scalar>
        /// (2 · recurrent layers) one lane's signs `c1, c2` per layer, bottom-up.
        let signs: UnsafeMutablePointer<Scalar>

        init(_ shapes: [Shape], top: Int, lanes b: Int, enabled: Bool, _ arena: AlignedBuffers) {
            var u: [UnsafeMutablePointer<Scalar>?] = [], a: [UnsafeMutablePointer<Scalar>?] = [], columns: [Int] = []
            var maxSquare = 1, maxColumns = 1, maxUnits = 1, recurrent = 0
            for (l, shape) in shapes.enumerated() {
                let c = shape.inputs + shape.units + 1
                if enabled && shape.isRecurrent && l <= top {
                    u.append(arena.zeros(b * c))
                    a.append(arena.zeros(b * shape.units * shape.units))
                    columns.append(c)
                    maxSquare = max(maxSquare, shape.units * shape.units)
                    maxColumns = max(maxColumns, c)
                    maxUnits = max(maxUnits, shape.units)
                    recurrent += 1
                } else {
                    u.append(nil); a.append(nil); columns.append(0)
                }
            }
            self.u = u; self.a = a; self.columns = columns
            product = arena.zeros(enabled ? b * maxSquare : 0)
            row = arena.zeros(enabled ? maxColumns : 0)
            projected = arena.zeros(enabled ? b * maxUnits : 0)
            gradientRows = arena.zeros(enabled ? maxUnits * maxColumns : 0)
            signs = arena.zeros(enabled ? 2 * recurrent : 0)
        }
    }

    /// uoro's pair and scratch (`OnlineGradient+UORO`); empty for the other algorithms.
    struct UOROCarry {
        /// (B, S) `ã` of every lane over the stacked state.
        let a: UnsafeMutablePointer<Scalar>
        /// (B, cols_L) `θ̃` of every lane over the parameters of layers `0 … L`.
        let theta: UnsafeMutablePointer<Scalar>
        /// (B) `|θ̃|²` of each lane, from its last pair update: carried, part of `OnlineState`, so
        /// that a resumed run is bit-identical.
        let thetaSquares: UnsafeMutablePointer<Double>
        /// (B, S) `J ã` of every lane.
        let ja: UnsafeMutablePointer<Scalar>
        /// (S) one lane's noise `ν`.
        let nu: UnsafeMutablePointer<Scalar>
        /// (B, max R) input-side tangent of the rows.
        let rowsS: UnsafeMutablePointer<Scalar>
        /// (B, max R) state-side tangent of the rows.
        let rowsT: UnsafeMutablePointer<Scalar>
        /// (2, B, max width) tangents of dense layers (alternating halves).
        let tangent: UnsafeMutablePointer<Scalar>
        /// (Σ_l R_l) `ν̃`'s row factors per layer, Ds side (`cs`), layer `l`'s at `rowOffset[l]`.
        let cs: UnsafeMutablePointer<Scalar>
        /// (Σ_l R_l) Dt side (`ct`).
        let ct: UnsafeMutablePointer<Scalar>
        /// (B) `q · ã^L[h]` of each lane (0 without a target).
        let gradientFactors: UnsafeMutablePointer<Scalar>
        /// Layer `l`'s rows in `cs` / `ct`.
        let rowOffset: [Int]
        /// One lane's cotangents of each lru layer at `lruOffset[l]`: `[c_s (2S) | c_h (U) | -c_h (U)]`,
        /// the cotangent on its state (`ν` plus what its output sends back) and the one on its
        /// output from above (0 at the top), for `ν̃`'s blocks (`OnlineGradient+LRU`).
        let lruCotangents: UnsafeMutablePointer<Scalar>
        let lruOffset: [Int]

        init(_ shapes: [Shape], top: Int, lanes b: Int, maxWidth: Int, maxRows: Int, stackedStateSize s: Int,
             enabled: Bool, _ arena: AlignedBuffers) {
            a = arena.zeros(enabled ? b * s : 0)
            theta = arena.zeros(enabled ? b * shapes[top].end : 0)
            thetaSquares = arena.make(b, repeating: 0)
            ja = arena.zeros(enabled ? b * s : 0)
            nu = arena.zeros(enabled ? s : 0)
            rowsS = arena.zeros(enabled ? b * maxRows : 0)
            rowsT = arena.zeros(enabled ? b * maxRows : 0)
            tangent = arena.zeros(enabled ? 2 * b * maxWidth : 0)
            var rowOffset: [Int] = [], rowTotal = 0, lruOffset: [Int] = [], lruTotal = 0
            for shape in shapes {
                rowOffset.append(rowTotal); rowTotal += shape.rows
                lruOffset.append(lruTotal); lruTotal += shape.isLRU ? shape.stateSize + 2 * shape.units : 0
            }
            self.rowOffset = rowOffset
            self.lruOffset = lruOffset
            lruCotangents = arena.zeros(enabled ? lruTotal : 0)
            cs = arena.zeros(enabled ? rowTotal : 0)
            ct = arena.zeros(enabled ? rowTotal : 0)
            gradientFactors = arena.zeros(enabled ? b : 0)
        }
    }

    /// The weights' transposes, `W_sᵀ` (I, R) at `sw[l]` and `W_tᵀ` (U, R) at `tw[l]` in `values`
    /// (-1: the layer's products read `w` itself), made from the weights at the start of each
    /// `advance` (`transposeWeights`).
    struct TransposedWeights {
        let values: UnsafeMutablePointer<Scalar>
        let sw: [Int], tw: [Int]

        init(_ shapes: [Shape], lanes b: Int, _ arena: AlignedBuffers) {
            var sw: [Int] = [], tw: [Int] = [], total = 0
            for shape in shapes {
                let matrix = shape.isRecurrent && !shape.isDiagonal  // a diagonal `w_t` has no product
                let keep = Self.keepsTranspose(lanes: b, rows: shape.rows, inputs: shape.inputs,
                                     units: matrix ? shape.units : 0)
                sw.append(keep ? total : -1)
                if keep { total += shape.rows * shape.inputs }
                tw.append(keep && matrix ? total : -1)
                if keep && matrix { total += shape.rows * shape.units }
            }
            self.values = arena.zeros(total)
            self.sw = sw; self.tw = tw
        }

        /// Whether a layer's per-step products `x W_sᵀ`, `h W_tᵀ` (B lanes) run on transposed
        /// copies of its weights (row-major NN products) instead of `w` (NT). Measured with
        /// OpenBLAS 0.3.21 on AMD Zen 4 (Cooperlake kernels): NN takes 0.55–0.65 of NT's time for
        /// 2–16 lanes and up to 128 units (the NT small-matrix path is the slow one), while
        /// transposing costs one pass over the weights, as much as a one-lane product; beyond
        /// about 128 KB of weights the products are bound by memory and the transpose's pass is
        /// not repaid.
        static func keepsTranspose(lanes: Int, rows: Int, inputs: Int, units: Int) -> Bool {
            lanes >= 2 && rows * (inputs + units) <= 32_768
        }
    }
}
