import Foundation
import RNNDatasets

extension ExperimentConfig {
    /// `tau_max` and `tau_b` as the numbers of steps they stand for (summary.csv's `tau_max` and
    /// `tau_b` columns, which a spreadsheet reads as numbers): `full` is the longest training
    /// sequence (going back that far is going back to the start of every sequence), and a
    /// `tau_b` left out is `tau_max`; random truncation's is its expected window,
    /// `min(1/(1 − c), longest sequence)`, rounded. Nil when the dataset cannot be read.
    public func stepCounts(datasets: DatasetCatalog) -> (tauMax: Int, tauB: Int)? {
        var tm: Int
        if let t = tauMax {
            tm = t
        } else if case .exact(let n) = dataset.kind.descriptor.stepsPerSequence(dataset.resolved()) {
            tm = n
        } else {
            guard let d = try? datasets.dataset(dataset, seed: UInt64(seed)), let n = d.train.map(\.length).max() else { return nil }
            tm = n
        }
        if training.randomTruncation, training.truncationContinue < 1 {
            tm = min(tm, Int((1 / (1 - training.truncationContinue)).rounded()))
        }
        return (tm, tauB ?? tm)
    }
}
