import RNNCore

/// Cuts a split into the engine's batches, deterministically from the run seed.
///
/// - Sequence datasets: sequences are shuffled each epoch (`shuffle: true`) with
///   `Xoshiro256(seed, stream: 3 + epoch)` and grouped `batch` at a time; the last partial batch is
///   kept (smaller), as PyTorch's DataLoader does by default.
/// - Stream datasets: the stream is cut into `batch` contiguous lanes of `floor(N / batch)` steps
///   (the rest is dropped, as PyTorch's word-language-model example does); one batch per epoch,
///   the state carried through it.
public enum Batcher {
    public static func batches<Scalar: RNNScalar>(
        _ split: [SequenceSample], layout: DatasetLayout, batch: Int, shuffle: Bool, seed: UInt64, epoch: Int,
        inputSize: Int, outputSize: Int
    ) -> [SequenceBatch<Scalar>] {
        guard !split.isEmpty, batch > 0 else { return [] }
        switch layout {
        case .sequences:
            var order = Array(split.indices)
            if shuffle {
                var rng = Xoshiro256(seed: seed, stream: SeedStream.shuffle(epoch: epoch))
                rng.shuffle(&order)
            }
            return stride(from: 0, to: order.count, by: batch).map { start in
                let lanes = order[start..<min(start + batch, order.count)].map { split[$0] }
                return SequenceBatch<Scalar>(lanes, inputSize: inputSize, outputSize: outputSize)
            }
        case .stream:
            return split.map { SequenceBatch<Scalar>(lanes(of: $0, count: batch, inputSize: inputSize, outputSize: outputSize),
                                                     inputSize: inputSize, outputSize: outputSize) }
        }
    }

    /// `count` contiguous lanes of a stream sample (fewer when the stream is shorter than `count`).
    public static func lanes(of stream: SequenceSample, count: Int, inputSize: Int, outputSize: Int) -> [SequenceSample] {
        let lanes = max(1, min(count, stream.length))
        let length = stream.length / lanes
        return (0..<lanes).map { k in
            let r = (k * length)..<((k + 1) * length)
            let inputs: SequenceSample.Inputs
            switch stream.inputs {
            case .dense(let x): inputs = .dense(Array(x[(r.lowerBound * inputSize)..<(r.upperBound * inputSize)]))
            case .oneHot(let x): inputs = .oneHot(Array(x[r]))
            }
            let targets: SequenceSample.Targets
            switch stream.targets {
            case .values(let y): targets = .values(Array(y[(r.lowerBound * outputSize)..<(r.upperBound * outputSize)]))
            case .classes(let y): targets = .classes(Array(y[r]))
            }
            return SequenceSample(length: length, inputs: inputs, targets: targets, mask: Array(stream.mask[r]))
        }
    }
}
