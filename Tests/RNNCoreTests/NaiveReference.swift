import Foundation
import RNNCore
import RNNTestSupport

/// An independent, deliberately plain reference of the model (SPEC section 2): scalar loops in
/// float64, one lane at a time, no BLAS, no workspace, no truncation logic of its own. The tests
/// differentiate it with central finite differences and compare against the engine.
struct NaiveReference {
    let spec: NetworkSpec

    /// Forward pass of one lane. Steps `1 ..< frozenBefore` use `frozen` weights, later steps
    /// `weights`: finite differences of `weights` then see `h_{a-1}` (and an LSTM's `c_{a-1}`) as a
    /// constant, which is exactly what "no gradient flows past step a" means. With
    /// `cutCell: false`, the LSTM cells before `frozenBefore` are computed with `weights` instead
    /// (only `h` is cut): the gradient a wrong, h-only truncation would give.
    /// - Returns: per step, the output vector and the logits of the top layer.
    func run(_ sample: SequenceSample, weights: [Double], frozen: [Double], frozenBefore: Int, steps: Int,
             cutCell: Bool = true)
        -> [(y: [Double], z: [Double])]
    {
        let layout = ParameterLayout(spec)
        var state = spec.layers.map { [Double](repeating: 0, count: $0.units) }
        var cells = state
        var live = (state: state, cells: cells)  // everything with `weights` (cutCell: false only)
        var out: [(y: [Double], z: [Double])] = []
        for n in 1...steps {
            var x: [Double]
            switch sample.inputs {
            case .dense(let v): x = Array(v[((n - 1) * spec.inputs)..<(n * spec.inputs)])
            case .oneHot(let idx):
                x = [Double](repeating: 0, count: spec.inputs)
                x[Int(idx[n - 1])] = 1
            }
            if n < frozenBefore && !cutCell {
                _ = step(x, weights, layout, &live.state, &live.cells)
            }
            if n == frozenBefore && !cutCell { cells = live.cells }
            out.append(step(x, n < frozenBefore ? frozen : weights, layout, &state, &cells))
        }
        return out
    }

    /// One step of the whole stack: updates `state` (h per layer) and `cells` (LSTM c per layer).
    private func step(_ x: [Double], _ w: [Double], _ layout: ParameterLayout,
                      _ state: inout [[Double]], _ cells: inout [[Double]]) -> (y: [Double], z: [Double]) {
        var below = x
        var z: [Double] = []
        for (l, layer) in spec.layers.enumerated() {
            let e = layout.entries[l]
            if layer.isGated {
                (state[l], cells[l]) = Self.gatedStep(layer, e, w, below, state[l], cells[l])
                z = state[l]
                below = state[l]
                continue
            }
            z = [Double](repeating: 0, count: layer.units)
            for j in 0..<layer.units {
                var s = w[e.b + j]
                for k in 0..<layer.inputs { s += w[e.sw + j * layer.inputs + k] * below[k] }
                if let tw = e.tw {
                    for k in 0..<layer.units { s += w[tw + j * layer.units + k] * state[l][k] }
                }
                z[j] = s
            }
            let hOut = Self.activate(layer.activation, z)
            state[l] = hOut
            below = hOut
        }
        return (below, z)
    }

    static func activate(_ a: Activation, _ z: [Double]) -> [Double] {
        switch a {
        case .tanh: return z.map { Foundation.tanh($0) }
        case .sigmoid: return z.map { 1 / (1 + Foundation.exp(-$0)) }
        case .relu: return z.map { max($0, 0) }
        case .identity: return z
        case .softmax:
            let m = z.max()!
            let e = z.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }

    /// Mean loss over the target elements at steps `(p, n]` of all lanes, forward from the zero
    /// state, with `weights` from step `a` on and `frozen` before.
    func windowLoss(_ samples: [SequenceSample], weights: [Double], frozen: [Double], a: Int, p: Int, n: Int,
                    cutCell: Bool = true) -> Double {
        var sum = 0.0, count = 0
        let o = spec.outputs
        for s in samples {
            let steps = min(n, s.length)
            guard steps > p else { continue }
            let outs = run(s, weights: weights, frozen: frozen, frozenBefore: a, steps: steps, cutCell: cutCell)
            for m in (p + 1)...steps where s.mask[m - 1] {
                let (y, z) = outs[m - 1]
                switch (spec.loss, s.targets) {
                case (.mse, .values(let t)):
                    for j in 0..<o { sum += (y[j] - t[(m - 1) * o + j]) * (y[j] - t[(m - 1) * o + j]) }
                    count += o
                case (.binaryCrossEntropy, .values(let t)):
                    for j in 0..<o {
                        let tv = t[(m - 1) * o + j]
                        sum -= tv * max(Foundation.log(y[j]), -100) + (1 - tv) * max(Foundation.log(1 - y[j]), -100)
                    }
                    count += o
                case (.crossEntropy, .classes(let c)):
                    let mz = z.max()!
                    let lse = Foundation.log(z.map { Foundation.exp($0 - mz) }.reduce(0, +)) + mz
                    sum += lse - z[Int(c[m - 1])]
                    count += 1
                default:
                    fatalError("test setup: loss and target kind disagree")
                }
            }
        }
        return count == 0 ? 0 : sum / Double(count)
    }

    /// Central finite differences of `windowLoss` with respect to every parameter, with the
    /// fourth-order stencil `(-f(x+2e) + 8f(x+e) - 8f(x-e) + f(x-2e)) / 12e`: its truncation error
    /// (~e⁴) and rounding error (~1e-16/e) both stay far below the 1e-6 tolerance at e = 1e-4.
    func finiteDifferenceGradient(_ samples: [SequenceSample], weights: [Double], a: Int, p: Int, n: Int,
                                  epsilon: Double = 1e-4, cutCell: Bool = true) -> [Double] {
        var w = weights
        var grad = [Double](repeating: 0, count: w.count)
        func loss(at i: Int, _ x: Double) -> Double {
            w[i] = x
            return windowLoss(samples, weights: w, frozen: weights, a: a, p: p, n: n, cutCell: cutCell)
        }
        for i in 0..<w.count {
            let x = w[i]
            let f2 = loss(at: i, x + 2 * epsilon), f1 = loss(at: i, x + epsilon)
            let m1 = loss(at: i, x - epsilon), m2 = loss(at: i, x - 2 * epsilon)
            w[i] = x
            grad[i] = (-f2 + 8 * f1 - 8 * m1 + m2) / (12 * epsilon)
        }
        return grad
    }
}

/// Every update's gradient the engine computes on `samples`, with learning rate 0 (weights fixed).
func engineUpdates(spec: NetworkSpec, weights: [Double], samples: [SequenceSample], truncation: Truncation)
    -> [(n: Int, p: Int, a: Int, elements: Int, loss: Double, grad: [Double])]
{
    let trainer = TruncatedBPTT<Double>(spec: spec, parameters: weights, truncation: truncation,
                                        optimizer: OptimizerSettings(name: .sgd, lr: 0))
    let batch = SequenceBatch<Double>(samples, inputSize: spec.inputs, outputSize: spec.outputs)
    var out: [(n: Int, p: Int, a: Int, elements: Int, loss: Double, grad: [Double])] = []
    _ = trainer.train(batch) { e in
        out.append((e.step, e.previousStep, e.windowStart, e.elements, e.loss, Array(e.gradients)))
    }
    return out
}

/// Float32 parameters after four ragged batches (lengths 12, 9, 12; 2 inputs, 3 outputs) of Adam
/// from `initialParameters(seed: 2)`: the run the full-BPTT equivalence tests compare.
func adamParametersAfterFourBatches(_ spec: NetworkSpec, _ truncation: Truncation) -> [Double] {
    let trainer = TruncatedBPTT<Float>(spec: spec, parameters: spec.initialParameters(seed: 2), truncation: truncation,
                                       optimizer: OptimizerSettings(name: .adam, lr: 0.01))
    for seed in 0..<4 as Range<UInt64> {
        let batch = SequenceBatch<Float>(TestData.samples(spec: spec, lengths: [12, 9, 12], seed: seed),
                                         inputSize: 2, outputSize: 3)
        _ = trainer.train(batch)
    }
    return trainer.parameters
}
