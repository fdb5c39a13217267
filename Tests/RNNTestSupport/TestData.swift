import RNNCore

/// Deterministic test data: random sequences with the shapes of a spec.
public enum TestData {
    public static func samples(spec: NetworkSpec, lengths: [Int], seed: UInt64, targetEvery: Int = 1,
                        oneHot: Bool = false) -> [SequenceSample] {
        var rng = Xoshiro256(seed: seed, stream: 99)
        let i = spec.inputs, o = spec.outputs
        return lengths.map { length in
            let inputs: SequenceSample.Inputs = oneHot
                ? .oneHot((0..<length).map { _ in Int32(rng.nextInt(below: i)) })
                : .dense((0..<(length * i)).map { _ in rng.uniform(-1, 1) })
            let mask = (0..<length).map { ($0 + 1) % targetEvery == 0 || $0 == length - 1 }
            let targets: SequenceSample.Targets
            switch spec.loss {
            case .crossEntropy: targets = .classes((0..<length).map { _ in Int32(rng.nextInt(below: o)) })
            case .binaryCrossEntropy: targets = .values((0..<(length * o)).map { _ in Double(rng.nextInt(below: 2)) })
            case .mse: targets = .values((0..<(length * o)).map { _ in rng.uniform(-1, 1) })
            }
            return SequenceSample(length: length, inputs: inputs, targets: targets, mask: mask)
        }
    }
}
