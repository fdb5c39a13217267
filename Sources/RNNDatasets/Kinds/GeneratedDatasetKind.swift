import RNNCore

/// A kind whose data is generated from the run seed, so its shape follows from its parameters.
public protocol GeneratedDatasetKind: DatasetKindDescriptor {
    /// The shape, from the parameters alone; `make` builds its dataset with this very shape.
    static func shape(parameters config: DatasetConfig) -> DatasetShape
}

extension GeneratedDatasetKind {
    public static func shape(_ config: DatasetConfig) -> DatasetShape? { shape(parameters: config) }
}

/// Data generation draws from `Xoshiro256(seed, stream: 2)`, the training split first and then the
/// validation split: every generator is a pure function of the seed and its parameters.
func dataGenerator(_ seed: UInt64) -> Xoshiro256 { Xoshiro256(seed: seed, stream: SeedStream.data) }

/// The training split (`train` samples) then the validation split (`validation`), drawn in that
/// order from `one`.
func splits(train: Int, validation: Int, _ one: () -> SequenceSample) -> (train: [SequenceSample], validation: [SequenceSample]) {
    let trainSplit = (0..<train).map { _ in one() }
    return (trainSplit, (0..<validation).map { _ in one() })
}
