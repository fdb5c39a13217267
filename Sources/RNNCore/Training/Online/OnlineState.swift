/// Everything an `OnlineGradient` carries between calls, as flat float64 arrays, for
/// checkpoints: restoring it into an engine of the same spec, algorithm and lanes continues the
/// run bit-identically in float64 (float32 values round-trip exactly through float64).
///
/// Layouts:
/// - `state`: per recurrent layer in stack order, `h` (B, U), then `c` (B, U) for lstm; an lru
///   its state `[Re s; Im s]` (B, 2S).
/// - `influence`: rtrl: per layer `l ≤ L` that is recurrent, `M^l` as `(B, S_l, cols_l)` with
///   `cols_l` the parameters of layers `0 … l` (dense layers between are recomputed each step and
///   not stored; an lru's rows are its state's, `S_l = 2S`); snap1 / rflo: per recurrent layer
///   `(B, S_l, G, C_l)`, an lru under snap1 `(B, [e^ν, e^θ, e^γ (2S each), E^B (2, S, I)])` (each
///   complex vector as its real parts then its imaginary parts); uoro: `ã` (B, S) then
///   `θ̃` (B, cols_L); kf-rtrl: per recurrent layer `u` (B, C_l) then `Aᵀ` (B, U_l, U_l).
/// - `pendingGradient`: the unnormalised gradient sum of the open window (`ParameterLayout`),
///   with `pendingLossSum` and `pendingElements`.
/// - `step`: steps of the batch in flight already run (0 at a batch boundary).
/// - `tangentSquares`: uoro: `|θ̃|²` of each lane as its last pair update computed it (the next
///   step's `ρ0` uses it; carried rather than recomputed, so a resumed run is bit-identical);
///   empty otherwise.
/// UORO's and kf-rtrl's noise needs no generator state (a pure function of the step's key).
public struct OnlineState: Sendable, Equatable, Codable {
    public var algorithm: OnlineAlgorithm
    public var lanes: Int
    public var step: Int
    public var state: [Double]
    public var influence: [Double]
    public var pendingGradient: [Double]
    public var pendingLossSum: Double
    public var pendingElements: Int
    public var tangentSquares: [Double]

    public init(algorithm: OnlineAlgorithm, lanes: Int, step: Int, state: [Double], influence: [Double],
                pendingGradient: [Double], pendingLossSum: Double, pendingElements: Int, tangentSquares: [Double] = []) {
        self.algorithm = algorithm
        self.lanes = lanes
        self.step = step
        self.state = state
        self.influence = influence
        self.pendingGradient = pendingGradient
        self.pendingLossSum = pendingLossSum
        self.pendingElements = pendingElements
        self.tangentSquares = tangentSquares
    }
}

extension OnlineGradient {
    /// (buffer, count) of every carried tensor, in `OnlineState` order.
    var stateTensors: [(UnsafeMutablePointer<Scalar>, Int)] {
        var out: [(UnsafeMutablePointer<Scalar>, Int)] = []
        for (l, sh) in shapes.enumerated() where sh.isRecurrent {
            if sh.isLRU {  // its state is s, [Re s; Im s] per lane; h is recomputed from it each step
                out.append((layers.s[l], lanes * sh.stateSize))
                continue
            }
            out.append((layers.h[l], lanes * sh.units))
            if sh.hasCell { out.append((layers.c[l], lanes * sh.units)) }
        }
        return out
    }

    var influenceTensors: [(UnsafeMutablePointer<Scalar>, Int)] {
        switch algorithm {
        case .rtrl:
            return (0...topRecurrent).filter { shapes[$0].isRecurrent }.flatMap { l in
                (0..<lanes).map { (rtrlBlock(l, $0), shapes[l].stateSize * rtrl.columns[l]) }
            }
        case .snap1, .rflo:
            // Lane by lane, row by row, whatever the layout in memory (`Shape.influenceStrides`;
            // each row padded to `blockStride`, the padding not state).
            return shapes.indices.flatMap { l -> [(UnsafeMutablePointer<Scalar>, Int)] in
                guard let m = perLayer.m[l] else { return [] }
                let sh = shapes[l], rowStride = perLayer.rowStride[l], laneStride = perLayer.laneStride[l]
                if sh.isLRU { return (0..<lanes).map { (m + $0 * laneStride, sh.lruInfluenceCount) } }
                let rows = sh.stateSize * sh.gates
                return (0..<(lanes * rows)).map { (m + ($0 % rows) * rowStride + ($0 / rows) * laneStride, sh.blockColumns) }
            }
        case .uoro:
            return [(uoro.a, lanes * stackedStateSize), (uoro.theta, lanes * influenceColumns)]
        case .kfRTRL:
            return shapes.indices.flatMap { l -> [(UnsafeMutablePointer<Scalar>, Int)] in
                guard let u = kf.u[l], let a = kf.a[l] else { return [] }
                return [(u, lanes * kf.columns[l]), (a, lanes * shapes[l].units * shapes[l].units)]
            }
        }
    }

    /// The carried state (see `OnlineState` for the layouts).
    public func exportState() -> OnlineState {
        func flat(_ tensors: [(UnsafeMutablePointer<Scalar>, Int)]) -> [Double] {
            var out: [Double] = []
            out.reserveCapacity(tensors.reduce(0) { $0 + $1.1 })
            for (p, n) in tensors { for i in 0..<n { out.append(Double(p[i])) } }
            return out
        }
        return OnlineState(algorithm: algorithm, lanes: lanes, step: step, state: flat(stateTensors),
                           influence: flat(influenceTensors),
                           pendingGradient: (0..<layout.count).map { Double(backward.accumulator[$0]) },
                           pendingLossSum: pendingLossSum, pendingElements: pendingElements,
                           tangentSquares: algorithm == .uoro ? (0..<lanes).map { uoro.thetaSquares[$0] } : [])
    }

    /// Restores `saved` (from `exportState()` of an engine with the same spec, algorithm and
    /// lanes, or at most as many lanes as `laneCapacity`), including the step count. The batch in flight is not part of it: at a batch
    /// boundary restore, then `begin` the next batch (which sets `step` to 0); inside a batch,
    /// `begin` the same batch first, then restore (so `step` = `saved.step`), then `advance`.
    public func restoreState(_ saved: OnlineState) throws {
        guard saved.algorithm == algorithm else {
            throw OnlineGradientError("saved online state is for \(saved.algorithm.rawValue), not \(algorithm.rawValue)")
        }
        guard saved.lanes >= 1 && saved.lanes <= laneCapacity else {
            throw OnlineGradientError("saved online state has \(saved.lanes) lanes, the engine at most \(laneCapacity)")
        }
        lanes = saved.lanes
        func load(_ values: [Double], into tensors: [(UnsafeMutablePointer<Scalar>, Int)], _ what: String) throws {
            let total = tensors.reduce(0) { $0 + $1.1 }
            guard values.count == total else {
                throw OnlineGradientError("saved online \(what) has \(values.count) values, the engine needs \(total)")
            }
            var k = 0
            for (p, n) in tensors { for i in 0..<n { p[i] = Scalar(values[k]); k += 1 } }
        }
        try load(saved.state, into: stateTensors, "state")
        try load(saved.influence, into: influenceTensors, "influence")
        try load(saved.pendingGradient, into: [(backward.accumulator, layout.count)], "pending gradient")
        if algorithm == .uoro {
            guard saved.tangentSquares.count == lanes else {
                throw OnlineGradientError("saved uoro state has \(saved.tangentSquares.count) tangent norms, the engine needs \(lanes)")
            }
            for lane in 0..<lanes { uoro.thetaSquares[lane] = saved.tangentSquares[lane] }
        }
        pendingLossSum = saved.pendingLossSum
        pendingElements = saved.pendingElements
        step = saved.step
    }
}
