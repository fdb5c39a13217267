extension OnlineGradient {
    /// Per-layer shape and parameter offsets.
    struct Shape {
        let kind: LayerKind
        let traits: LayerTraits
        let activation: Activation
        let units: Int, inputs: Int, gates: Int, rows: Int, stateSize: Int
        let sw: Int, tw: Int, b: Int, bt: Int  // flat offsets; tw, bt = -1 when absent
        let start: Int                           // the layer's first parameter
        let end: Int                             // one past the layer's last parameter
        /// An lru layer (`LRULayer`): its carried state is the complex `s` (`S` entries), held as
        /// `[Re s; Im s]` (`stateSize = 2S`), its output `h = Re(C s) + D ⊙ x` a read-out of it;
        /// `rows = 2S` are the rows of `[B_re; B_im]` (at `sw`), `lru` its tensors' offsets.
        let isLRU: Bool
        /// lru: `S`, the complex state size (0 otherwise).
        let complexState: Int
        let lru: LRULayer.Offsets?

        /// Layer `layer`'s shape, at the offsets `entry` of its `ParameterLayout`.
        init(_ layer: LayerSpec, _ entry: ParameterLayout.Entry) {
            let g = layer.kind.gates
            kind = layer.kind
            traits = layer.kind.traits
            activation = layer.activation
            units = layer.units
            inputs = layer.inputs
            gates = g
            isLRU = layer.kind.traits.recurrentWeight == .complexDiagonal
            complexState = isLRU ? layer.stateSize : 0
            rows = isLRU ? 2 * layer.stateSize : g * layer.units
            stateSize = isLRU ? 2 * layer.stateSize : traits.statePerUnit * layer.units
            sw = entry.sw
            tw = entry.tw ?? -1
            b = entry.b
            bt = entry.bt ?? -1
            start = isLRU ? entry.b : entry.sw  // an lru's layout starts at nu_log (`ParameterLayout`)
            end = start + layer.parameterCount
            lru = isLRU ? LRULayer.Offsets(layer, start: entry.b) : nil
        }

        var isRecurrent: Bool { traits.isRecurrent }
        /// `TW` is the diagonal `w_t` (element-wise recurrence, indrnn): unit `k`'s own recurrent
        /// parameter is one entry, `w_t[k]`, whose input is `h_{n-1,k}`.
        var isDiagonal: Bool { traits.recurrentWeight == .diagonal }
        /// Rows of one lane's rtrl block: the state's, and for an lru its output's `U` rows after
        /// them (`∂h/∂θ`, formed each step from the state rows for the layer above; not carried).
        var rtrlRows: Int { stateSize + (isLRU ? units : 0) }
        /// snap1's scalars per lane of an lru layer: the complex `e^ν`, `e^θ`, `e^γ` (S each) and
        /// `E^B` (S × I), each as its real parts then its imaginary parts (`OnlineGradient+LRU`).
        var lruInfluenceCount: Int { 2 * complexState * (3 + inputs) }
        /// Columns of a weight row's `W_t` part: `U` (matrix), 1 (diagonal), 0 (dense).
        var recurrentColumns: Int { isRecurrent ? (isDiagonal ? 1 : units) : 0 }
        var isGated: Bool { traits.isGated }
        /// The state has a cell `c` beside `h` (`S = 2U`).
        var hasCell: Bool { traits.hasCell }
        /// How the state depends on the previous state outside `TW` (what `self` multiplies).
        var directDependence: DirectStateDependence { traits.directDependence }
        /// Columns of one (state row, gate) block of the per-layer influence: `I + U + 1` (rnn),
        /// `I + U + 2` (gated), `I + 2` (indrnn: `W_s` row, `w_t[k]`, `b[k]`).
        var blockColumns: Int { inputs + recurrentColumns + (isGated ? 2 : 1) }
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
            if isLRU {
                // Lane by lane, each lane's block starting on a cache line (plus one, as the gated).
                let lane = (lruInfluenceCount + 15) / 16 * 16 + 16
                return (0, lane, laneCapacity * lane)
            }
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
            if isDiagonal {
                base[tw + r] += t * hPrev[r]
            } else if isRecurrent {
                let wt = base + tw + r * units
                for j in 0..<units { wt[j] += t * hPrev[j] }
            }
            base[b + r] += a
            if isGated { base[bt + r] += t }
        }
    }
}
