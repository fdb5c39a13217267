import Foundation
import Testing
import RNNCore
import RNNTestSupport

/// One update of an online run: step (global), mean loss, element count, gradient (float64).
struct OnlineUpdateRecord {
    let n: Int
    let loss: Double
    let elements: Int
    let grad: [Double]
}

/// Drives an `OnlineGradient` the way SPEC 3.3 schedules it: an update at every multiple of
/// `tauB` (global step count, from `offset`) and, unless `stream`, at the batch's last step;
/// plain SGD `w -= lr · grad` after each non-skipped update (what the numpy reference does).
func driveOnline<S: RNNScalar>(_ engine: OnlineGradient<S>, batch: SequenceBatch<S>, weights: inout [Double],
                               tauB: Int, lr: Double, offset: Int = 0, stream: Bool = false,
                               epoch: Int = 0, batchIndex: Int = 0) -> [OnlineUpdateRecord] {
    let tb = tauB > 0 ? tauB : batch.steps
    engine.begin(batch, epoch: epoch, batchIndex: batchIndex)
    var out: [OnlineUpdateRecord] = []
    var w = weights.map { S($0) }
    var g = [S](repeating: 0, count: w.count)
    while engine.step < batch.steps {
        let global = offset + engine.step
        let nextMultiple = (global / tb + 1) * tb - offset
        let n = min(nextMultiple, batch.steps)
        w.withUnsafeBufferPointer { engine.advance(to: n, parameters: $0) }
        let isUpdate = (offset + n) % tb == 0 || (n == batch.steps && !stream)
        guard isUpdate else { continue }
        let (sum, elements) = g.withUnsafeMutableBufferPointer { engine.takeGradient(into: $0) }
        guard elements > 0 else { continue }
        out.append(OnlineUpdateRecord(n: offset + n, loss: sum / Double(elements), elements: elements,
                                      grad: g.map { Double($0) }))
        if lr != 0 { for i in 0..<w.count { w[i] -= S(lr) * g[i] } }
    }
    weights = w.map { Double($0) }
    return out
}

/// A fresh engine, reset, run over one batch.
func onlineUpdates<S: RNNScalar>(_: S.Type, spec: NetworkSpec, algorithm: OnlineAlgorithm, weights: [Double],
                                 samples: [SequenceSample], tauB: Int, lr: Double = 0, rfloDecay: Double = 0,
                                 rfloFeedback: RFLOFeedback = .symmetric,
                                 seed: UInt64 = 0, batchIndex: Int = 0) throws -> (updates: [OnlineUpdateRecord], weights: [Double]) {
    let batch = SequenceBatch<S>(samples, inputSize: spec.inputs, outputSize: spec.outputs)
    let engine = try OnlineGradient<S>(spec: spec, algorithm: algorithm, lanes: batch.lanes, rfloDecay: rfloDecay,
                                       rfloFeedback: rfloFeedback, noiseSeed: seed)
    engine.resetState()
    var w = weights
    let ups = driveOnline(engine, batch: batch, weights: &w, tauB: tauB, lr: lr, batchIndex: batchIndex)
    return (ups, w)
}

/// The rms, over 16 groups (batch indices 0 ..< 16, so each its own noise), of the relative error
/// of `algorithm`'s one update per sequence on `copies` copies of `base`'s lanes (each lane its own
/// noise: the batch's gradient is the mean of `copies` estimates) against `exact`: the unbiasedness
/// checks of uoro and kf-rtrl, whose rms falls at the 1/sqrt(copies) rate.
func meanEstimateRMS(_ algorithm: OnlineAlgorithm, spec: NetworkSpec, weights: [Double], base: [SequenceSample],
                     exact: [Double], copies: Int, seed: UInt64) throws -> Double {
    var sum = 0.0
    let samples = Array((0..<copies).map { _ in base }.joined())
    for group in 0..<16 {
        let g = try onlineUpdates(Double.self, spec: spec, algorithm: algorithm, weights: weights, samples: samples,
                                  tauB: 0, seed: seed, batchIndex: group).updates[0].grad
        let r = normRelative(g, exact)
        sum += r * r
    }
    return (sum / 16).squareRoot()
}

/// ‖a − b‖ / ‖b‖ (‖b‖ floored at 1e-300).
func normRelative(_ a: [Double], _ b: [Double]) -> Double {
    var d = 0.0, n = 0.0
    for i in 0..<b.count { d += (a[i] - b[i]) * (a[i] - b[i]); n += b[i] * b[i] }
    return (d / max(n, 1e-300)).squareRoot()
}

/// The stacked state size S of a spec (recurrent layers bottom-up, lstm 2U).
func stackedState(_ spec: NetworkSpec) -> Int {
    spec.layers.reduce(0) { $0 + ($1.isRecurrent ? ($1.kind == .lstm ? 2 : 1) * $1.units : 0) }
}

/// UORO noise of a batch as the reference takes it, (T, B, S).
func noiseArray(seed: UInt64, epoch: Int = 0, batchIndex: Int, steps: Int, lanes: Int, size: Int) -> [[[Double]]] {
    (1...steps).map { n in
        (0..<lanes).map { OnlineNoise.signs(seed: seed, epoch: epoch, batch: batchIndex, lane: $0, step: n, count: size) }
    }
}

/// kf-rtrl's signs of a batch as the reference takes them, (T, B, R, 2): the step's `2R` signs
/// (`OnlineNoise`) as `[c1, c2]` per recurrent layer, bottom-up.
func kroneckerSigns(_ spec: NetworkSpec, seed: UInt64, epoch: Int = 0, batchIndex: Int, steps: Int, lanes: Int) -> [[[[Double]]]] {
    let r = spec.layers.filter(\.isRecurrent).count
    return (1...steps).map { n in
        (0..<lanes).map { lane in
            let signs = OnlineNoise.signs(seed: seed, epoch: epoch, batch: batchIndex, lane: lane, step: n, count: 2 * r)
            return (0..<r).map { [signs[2 * $0], signs[2 * $0 + 1]] }
        }
    }
}

/// Runs `Tests/Reference/online_reference.py` on one case; returns its updates and its carry.
enum OnlineReference {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/online_reference.py")

    /// Runs the reference on a case (`referenceCase` plus the algorithm's keys); with `carry`, also
    /// returns the carried state it writes at the end.
    static func run(_ json: [String: Any], carry: Bool = false) throws -> (updates: [OnlineUpdateRecord], carry: [String: Any]?) {
        let outputs = try runReferenceScript(script, case: json, extraOutputs: carry ? 1 : 0)
        let raw = try #require(outputs[0] as? [[String: Any]])
        let updates = try raw.map { r in
            OnlineUpdateRecord(n: try #require(r["n"] as? Int), loss: try #require(r["loss"] as? Double),
                               elements: try #require(r["elements"] as? Int), grad: try #require(r["grad"] as? [Double]))
        }
        return (updates, carry ? outputs[1] as? [String: Any] : nil)
    }
}

/// Expects two update lists to agree: same steps and elements, losses and gradients to `tolerance`
/// (relative, the gradient in norm). Returns the worst gradient difference.
@discardableResult
func expectSameUpdates(_ ours: [OnlineUpdateRecord], _ reference: [OnlineUpdateRecord], tolerance: Double,
                       _ label: String, sourceLocation: SourceLocation = #_sourceLocation) -> Double {
    #expect(ours.map(\.n) == reference.map(\.n), "\(label): update steps", sourceLocation: sourceLocation)
    #expect(ours.map(\.elements) == reference.map(\.elements), "\(label): elements", sourceLocation: sourceLocation)
    var worst = 0.0
    for (u, r) in zip(ours, reference) {
        #expect(relativeError(u.loss, r.loss, floor: 1e-12) < tolerance, "\(label): loss at n=\(u.n): \(u.loss) vs \(r.loss)",
                sourceLocation: sourceLocation)
        worst = max(worst, normRelative(u.grad, r.grad))
    }
    #expect(worst < tolerance, "\(label): gradient differs by \(worst)", sourceLocation: sourceLocation)
    #expect(!ours.isEmpty, "\(label): no update", sourceLocation: sourceLocation)
    print("online agreement: \(label): \(ours.count) updates, worst gradient rel \(worst)")
    return worst
}
