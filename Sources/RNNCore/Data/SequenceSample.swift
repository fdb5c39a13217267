/// One training sequence as a dataset produces it, in float64 and step-major order.
///
/// Shape letters: `L` steps, `I` inputs, `O` outputs.
public struct SequenceSample: Sendable, Equatable {
    /// Inputs of every step.
    public enum Inputs: Sendable, Equatable {
        /// Dense vectors, (L, I).
        case dense([Double])
        /// One-hot vectors given by their hot index, (L); the width is the dataset's input size.
        case oneHot([Int32])
    }
    /// Targets of every step; `mask` says which steps have one.
    public enum Targets: Sendable, Equatable {
        /// Real or 0/1 values per output unit, (L, O).
        case values([Double])
        /// Class ids `0 ..< C`, (L).
        case classes([Int32])
    }

    public var length: Int
    public var inputs: Inputs
    public var targets: Targets
    /// `true` where the step has a target, (L).
    public var mask: [Bool]

    public init(length: Int, inputs: Inputs, targets: Targets, mask: [Bool]) {
        self.length = length
        self.inputs = inputs
        self.targets = targets
        self.mask = mask
    }

    /// Number of steps that carry a target.
    public var targetCount: Int { mask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// A batch of `B` lanes laid out time-major for the engine: step `n` of every lane is contiguous,
/// so a window of steps is one (T·B, ·) matrix and its input projection one GEMM.
///
/// Lanes may have different lengths; steps past a lane's end have zero inputs and no targets.
public struct SequenceBatch<Scalar: RNNScalar>: @unchecked Sendable {
    public enum Inputs {
        /// (T, B, I)
        case dense([Scalar])
        /// (T, B) hot index, or -1 past a lane's end.
        case oneHot([Int32])
    }
    public enum Targets {
        /// (T, B, O)
        case values([Scalar])
        /// (T, B)
        case classes([Int32])
    }

    /// B
    public let lanes: Int
    /// T: the longest lane.
    public let steps: Int
    public let inputSize: Int
    public let outputSize: Int
    public let lengths: [Int]
    public let inputs: Inputs
    public let targets: Targets
    /// (T, B): 1 where the lane has a target at that step.
    public let mask: [UInt8]

    public init(lanes: Int, steps: Int, inputSize: Int, outputSize: Int, lengths: [Int],
                inputs: Inputs, targets: Targets, mask: [UInt8]) {
        self.lanes = lanes
        self.steps = steps
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.lengths = lengths
        self.inputs = inputs
        self.targets = targets
        self.mask = mask
    }

    /// Lays `samples` out time-major, padding shorter lanes.
    /// - Parameters:
    ///   - inputSize: I (the one-hot width for one-hot inputs).
    ///   - outputSize: O (the number of classes for class targets).
    public init(_ samples: [SequenceSample], inputSize: Int, outputSize: Int) {
        let b = samples.count
        let t = samples.map(\.length).max() ?? 0
        var mask = [UInt8](repeating: 0, count: t * b)
        for (lane, s) in samples.enumerated() {
            for n in 0..<s.length where s.mask[n] { mask[n * b + lane] = 1 }
        }
        let inputs: Inputs
        if case .oneHot = samples.first?.inputs {
            var idx = [Int32](repeating: -1, count: t * b)
            for (lane, s) in samples.enumerated() {
                guard case .oneHot(let v) = s.inputs else { continue }
                for n in 0..<s.length { idx[n * b + lane] = v[n] }
            }
            inputs = .oneHot(idx)
        } else {
            var x = [Scalar](repeating: 0, count: t * b * inputSize)
            for (lane, s) in samples.enumerated() {
                guard case .dense(let v) = s.inputs else { continue }
                for n in 0..<s.length {
                    for i in 0..<inputSize { x[(n * b + lane) * inputSize + i] = Scalar(v[n * inputSize + i]) }
                }
            }
            inputs = .dense(x)
        }
        let targets: Targets
        if case .classes = samples.first?.targets {
            var c = [Int32](repeating: 0, count: t * b)
            for (lane, s) in samples.enumerated() {
                guard case .classes(let v) = s.targets else { continue }
                for n in 0..<s.length where s.mask[n] { c[n * b + lane] = v[n] }
            }
            targets = .classes(c)
        } else {
            var y = [Scalar](repeating: 0, count: t * b * outputSize)
            for (lane, s) in samples.enumerated() {
                guard case .values(let v) = s.targets else { continue }
                for n in 0..<s.length where s.mask[n] {
                    for o in 0..<outputSize { y[(n * b + lane) * outputSize + o] = Scalar(v[n * outputSize + o]) }
                }
            }
            targets = .values(y)
        }
        self.init(lanes: b, steps: t, inputSize: inputSize, outputSize: outputSize,
                  lengths: samples.map(\.length), inputs: inputs, targets: targets, mask: mask)
    }
}
