/// The validation metric a dataset reports (SPEC section 4).
public enum MetricKind: String, Sendable, Codable, CaseIterable {
    /// No metric beyond the loss.
    case none
    /// Fraction of target steps predicted right: the arg-max class for class targets; every output
    /// thresholded at 0.5 matching for 0/1 targets.
    case accuracy
    /// Fraction of sequences whose every target step is right (0/1 targets thresholded at 0.5).
    case sequenceAccuracy = "sequence-accuracy"
    /// Cross-entropy in bits: mean of `-log2 p(target)` over target steps.
    case bitsPerCharacter = "bpc"

    /// The summary column this metric is written to.
    public var columnName: String? {
        switch self {
        case .none: return nil
        case .accuracy, .sequenceAccuracy: return "val_accuracy"
        case .bitsPerCharacter: return "val_bpc"
        }
    }
}

/// Accumulates a metric over the chunks of an evaluation pass.
public struct MetricAccumulator: Sendable {
    public let kind: MetricKind
    var correct = 0
    var total = 0
    var laneAllRight: [Bool] = []
    var laneHasTarget: [Bool] = []

    public init(kind: MetricKind) { self.kind = kind }

    /// The metric's value, given the mean loss it was evaluated with; nil for `.none` or no targets.
    public func value(meanLoss: Double) -> Double? {
        switch kind {
        case .none: return nil
        case .bitsPerCharacter: return meanLoss.isFinite ? meanLoss / _ln2 : meanLoss
        case .accuracy, .sequenceAccuracy: return total > 0 ? Double(correct) / Double(total) : nil
        }
    }

    mutating func beginBatch(lanes: Int) {
        guard kind == .sequenceAccuracy else { return }
        laneAllRight = [Bool](repeating: true, count: lanes)
        laneHasTarget = [Bool](repeating: false, count: lanes)
    }

    mutating func endBatch() {
        guard kind == .sequenceAccuracy else { return }
        for lane in 0..<laneAllRight.count where laneHasTarget[lane] {
            total += 1
            if laneAllRight[lane] { correct += 1 }
        }
    }

    /// Scores steps `(p, n]`; `outputs` points at the output of step `p + 1`, (steps, B, O).
    mutating func observe<Scalar: RNNScalar>(outputs: UnsafePointer<Scalar>, view: BatchView<Scalar>, p: Int, n: Int) {
        guard kind == .accuracy || kind == .sequenceAccuracy else { return }
        let b = view.lanes, o = view.outputSize
        for m in (p + 1)...n {
            for lane in 0..<b {
                let r = view.row(m, lane)
                guard view.mask[r] != 0 else { continue }
                let y = outputs + ((m - p - 1) * b + lane) * o
                var right = true
                if let classes = view.classTargets {
                    var best = 0
                    for j in 1..<o where y[j] > y[best] { best = j }
                    right = best == Int(classes[r])
                } else if let values = view.valueTargets {
                    for j in 0..<o where (y[j] > 0.5) != (values[r * o + j] > 0.5) { right = false }
                }
                if kind == .accuracy {
                    total += 1
                    if right { correct += 1 }
                } else {
                    laneHasTarget[lane] = true
                    if !right { laneAllRight[lane] = false }
                }
            }
        }
    }
}

private let _ln2 = 0.693_147_180_559_945_309_4
