/// What training carries from one batch to the next: the parameters and the optimizer's state
/// (step count and moment buffers). Values are float64; a float32 trainer's values convert
/// exactly both ways, so a trainer restored from its own state continues bit for bit.
public struct TrainerState: Sendable, Equatable {
    public var parameters: [Double]
    /// Optimizer steps taken (Adam's bias correction uses it).
    public var optimizerStep: Int
    /// Momentum buffer (sgd, rmsprop) or `exp_avg` (adam); empty when the rule keeps none.
    public var optimizerFirst: [Double]
    /// `exp_avg_sq` (adam) or `square_avg` (rmsprop); empty when the rule keeps none.
    public var optimizerSecond: [Double]

    public init(parameters: [Double], optimizerStep: Int, optimizerFirst: [Double], optimizerSecond: [Double]) {
        self.parameters = parameters
        self.optimizerStep = optimizerStep
        self.optimizerFirst = optimizerFirst
        self.optimizerSecond = optimizerSecond
    }
}

extension TruncatedBPTT {
    /// The state to save in a checkpoint.
    public func exportState() -> TrainerState {
        let o = optimizer
        func values(_ b: UnsafeMutableBufferPointer<Scalar>) -> [Double] {
            b.count >= o.count && o.count > 0 ? (0..<o.count).map { Double(b[$0]) } : []
        }
        return TrainerState(parameters: parameters, optimizerStep: o.step,
                            optimizerFirst: o.needsFirst ? values(o.first) : [],
                            optimizerSecond: o.needsSecond ? values(o.second) : [])
    }

    /// Continues from a saved state; false (nothing changed) when it does not fit this trainer
    /// (another network or optimizer).
    public func restore(_ state: TrainerState) -> Bool {
        let o = optimizer
        guard state.parameters.count == layout.count, state.optimizerStep >= 0,
              state.optimizerFirst.count == (o.needsFirst ? o.count : 0),
              state.optimizerSecond.count == (o.needsSecond ? o.count : 0) else { return false }
        for i in 0..<layout.count { params[i] = Scalar(state.parameters[i]) }
        for (i, v) in state.optimizerFirst.enumerated() { o.first[i] = Scalar(v) }
        for (i, v) in state.optimizerSecond.enumerated() { o.second[i] = Scalar(v) }
        o.step = state.optimizerStep
        return true
    }
}
