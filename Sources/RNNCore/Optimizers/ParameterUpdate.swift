import RNNKernels

/// The update step every training algorithm shares (SPEC 3, step 3; SPEC 3.3 "share the update
/// step"): given the gradient `g` of one update (`ΔSW`, `ΔTW`, `Δb` of every layer, in
/// `ParameterLayout` order),
/// ```
/// norm = |g|₂                              (squares summed in float64, as clip_grad_norm_)
/// g   ← g · min(1, clip / (norm + 1e-6))   (clip_norm set; 1e-6: clip_grad_norm_'s epsilon)
/// W   ← optimizer(W, g)                    (`Optimizer`: sgd, adam, rmsprop, PyTorch's rules)
/// ```
/// then whether every weight is still finite. The algorithm computes `g` and calls `norm`, then
/// (after its observer saw the unclipped gradient) `apply`. Its state — the optimizer's step count
/// and moments — is what a checkpoint saves beside the parameters (`TrainerState`).
///
/// Owns no parameter or gradient buffer: the algorithm's network owns `W`, the algorithm `g`.
public final class ParameterUpdate<Scalar: RNNScalar> {
    /// Max global L2 norm, as `torch.nn.utils.clip_grad_norm_`; nil for none.
    public let clipNorm: Double?
    /// Parameters it updates (`ParameterLayout.count`).
    public let count: Int
    let optimizer: Optimizer<Scalar>

    public init(optimizer: OptimizerSettings, clipNorm: Double?, count: Int) {
        self.clipNorm = clipNorm
        self.count = count
        self.optimizer = Optimizer(settings: optimizer, count: count)
    }

    /// Optimizer steps taken so far (Adam's `t`).
    public var steps: Int { optimizer.step }

    /// Global L2 norm of `g`, as `clip_grad_norm_` computes it: the squares summed in float64
    /// (float32 through `rnn_sum_squares_f32`; otherwise over eight interleaved partial sums:
    /// independent chains, so the loop runs at the adder's throughput rather than its latency).
    func norm(_ gradient: UnsafeMutableBufferPointer<Scalar>) -> Double {
        let g = gradient.baseAddress!, n = count
        if Scalar.self == Float.self {
            return rnn_sum_squares_f32(UnsafeRawPointer(g).assumingMemoryBound(to: Float.self), n).squareRoot()
        }
        var s = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        var i = 0
        while i + 8 <= n {
            @inline(__always) func sq(_ k: Int) -> Double { let v = Double(g[i + k]); return v * v }
            s.0 += sq(0); s.1 += sq(1); s.2 += sq(2); s.3 += sq(3)
            s.4 += sq(4); s.5 += sq(5); s.6 += sq(6); s.7 += sq(7)
            i += 8
        }
        var sum = ((s.0 + s.1) + (s.2 + s.3)) + ((s.4 + s.5) + (s.6 + s.7))
        while i < n { let v = Double(g[i]); sum += v * v; i += 1 }
        return sum.squareRoot()
    }

    /// Clips `g` in place (its `norm` as `norm` returned it), takes one optimizer step on
    /// `parameters`, and returns whether every weight is still finite.
    func apply(_ gradient: UnsafeMutableBufferPointer<Scalar>, norm: Double,
               to parameters: UnsafeMutableBufferPointer<Scalar>) -> Bool {
        if let clip = clipNorm {
            let coef = clip / (norm + 1e-6)  // 1e-6: torch.nn.utils.clip_grad_norm_'s epsilon
            if coef < 1 {
                let c = Scalar(coef)
                for i in 0..<count { gradient[i] *= c }
            }
        }
        optimizer.update(parameters: parameters.baseAddress!, gradients: gradient.baseAddress!)
        return Self.allFinite(parameters, count: count)
    }

    /// One whole update of any algorithm, from its gradient `g` (`lossSum` over `elements` target
    /// elements at step `n`): `|g|`, then `observe(|g|)` (the algorithm's observer sees the
    /// unclipped `g`), clip, optimizer step, finiteness of `W`; the update is added to `result`.
    /// False, with `result.divergence` saying what, when `|g|` or a weight is NaN or infinite.
    func take(_ gradient: UnsafeMutableBufferPointer<Scalar>, into parameters: UnsafeMutableBufferPointer<Scalar>,
              lossSum: Double, elements: Int, step n: Int, result: inout BatchResult,
              observe: (_ norm: Double) -> Void) -> Bool {
        let norm = self.norm(gradient)
        guard norm.isFinite else {
            result.divergence = "gradient norm is \(norm) at step \(n)"
            return false
        }
        observe(norm)
        guard apply(gradient, norm: norm, to: parameters) else {
            result.divergence = "a weight became NaN or infinite at step \(n)"
            return false
        }
        result.lossSum += lossSum
        result.elements += elements
        result.updates += 1
        result.gradNormSum += norm
        return true
    }

    /// Whether every weight is finite: `w - w` is 0 for a finite weight and NaN for an infinite or
    /// NaN one, so one NaN test of the summed differences (eight partial sums) decides, branch-free.
    static func allFinite(_ parameters: UnsafeMutableBufferPointer<Scalar>, count n: Int) -> Bool {
        let w = parameters.baseAddress!
        var s = (Scalar(0), Scalar(0), Scalar(0), Scalar(0), Scalar(0), Scalar(0), Scalar(0), Scalar(0))
        var i = 0
        while i + 8 <= n {
            @inline(__always) func z(_ k: Int) -> Scalar { w[i + k] - w[i + k] }
            s.0 += z(0); s.1 += z(1); s.2 += z(2); s.3 += z(3)
            s.4 += z(4); s.5 += z(5); s.6 += z(6); s.7 += z(7)
            i += 8
        }
        var sum = s.0 + s.1 + s.2 + s.3 + s.4 + s.5 + s.6 + s.7
        while i < n { sum += w[i] - w[i]; i += 1 }
        return !sum.isNaN
    }

    // MARK: - State

    /// The state to save in a checkpoint, with `parameters` (float64, `ParameterLayout` order).
    func exportState(parameters: [Double]) -> TrainerState {
        let o = optimizer
        func values(_ b: UnsafeMutableBufferPointer<Scalar>) -> [Double] {
            b.count >= o.count && o.count > 0 ? (0..<o.count).map { Double(b[$0]) } : []
        }
        return TrainerState(parameters: parameters, optimizerStep: o.step,
                            optimizerFirst: o.needsFirst ? values(o.first) : [],
                            optimizerSecond: o.needsSecond ? values(o.second) : [])
    }

    /// Continues from a saved state, writing its parameters into `parameters`; false (nothing
    /// changed) when it does not fit (another network or optimizer).
    func restore(_ state: TrainerState, into parameters: UnsafeMutableBufferPointer<Scalar>) -> Bool {
        let o = optimizer
        guard state.parameters.count == count, state.optimizerStep >= 0,
              state.optimizerFirst.count == (o.needsFirst ? o.count : 0),
              state.optimizerSecond.count == (o.needsSecond ? o.count : 0) else { return false }
        for i in 0..<count { parameters[i] = Scalar(state.parameters[i]) }
        for (i, v) in state.optimizerFirst.enumerated() { o.first[i] = Scalar(v) }
        for (i, v) in state.optimizerSecond.enumerated() { o.second[i] = Scalar(v) }
        o.step = state.optimizerStep
        return true
    }
}

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
    /// Adaptive truncation's window in force (`TruncatedBPTT.adaptiveChoice`); nil otherwise.
    public var adaptive: AdaptiveChoice? = nil

    public init(parameters: [Double], optimizerStep: Int, optimizerFirst: [Double], optimizerSecond: [Double]) {
        self.parameters = parameters
        self.optimizerStep = optimizerStep
        self.optimizerFirst = optimizerFirst
        self.optimizerSecond = optimizerSecond
    }
}
