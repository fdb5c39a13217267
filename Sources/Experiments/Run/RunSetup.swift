import Foundation
import RNNCore
import RNNDatasets

/// Everything a run starts from: its dataset, its network and its initial weights (seeded, or
/// `model.init_from`). One place, used by training (`RunExecutor`) and `gradcheck` alike.
public struct RunSetup {
    public let dataset: Dataset
    public let spec: NetworkSpec
    /// Initial parameters in `ParameterLayout` order, float64.
    public let initialParameters: [Double]

    /// Why a run could not be set up (a plain sentence naming the file where one is involved).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func prepare(_ config: ExperimentConfig, datasets: DatasetCatalog) throws(Failure) -> RunSetup {
        let spec = config.networkSpec
        let seed = UInt64(config.seed)
        let dataset: Dataset
        do { dataset = try datasets.dataset(config.dataset, seed: seed) } catch {
            throw Failure(description: error.description)
        }
        var initial = spec.initialParameters(seed: seed)
        if let path = config.initFrom {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw Failure(description: "cannot read \(path)")
            }
            switch Safetensors.decode(data, spec: spec) {
            case .success(let p): initial = p
            case .failure(let e): throw Failure(description: "\(path): \(e)")
            }
        }
        return RunSetup(dataset: dataset, spec: spec, initialParameters: initial)
    }

    /// The training split cut into batches of the run's size, in epoch `epoch`'s order.
    public func trainingBatches<Scalar: RNNScalar>(_ config: ExperimentConfig, epoch: Int, shuffle: Bool,
                                                   as _: Scalar.Type = Scalar.self) -> [SequenceBatch<Scalar>] {
        batches(dataset.train, config, epoch: epoch, shuffle: shuffle)
    }

    /// The validation split in file order.
    public func validationBatches<Scalar: RNNScalar>(_ config: ExperimentConfig, as _: Scalar.Type = Scalar.self)
        -> [SequenceBatch<Scalar>] {
        batches(dataset.validation, config, epoch: 0, shuffle: false)
    }

    func batches<Scalar: RNNScalar>(_ split: [SequenceSample], _ config: ExperimentConfig, epoch: Int,
                                    shuffle: Bool) -> [SequenceBatch<Scalar>] {
        Batcher.batches(split, layout: dataset.layout, batch: config.batch, shuffle: shuffle,
                        seed: UInt64(config.seed), epoch: epoch, inputSize: dataset.inputSize, outputSize: spec.outputs)
    }
}
