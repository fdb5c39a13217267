import Foundation
import RNNCore
import RNNDatasets

/// Where plans and runs get their datasets: shapes at plan time, data at run time.
///
/// Generated kinds are made from the seed on each request (cheap, and they depend on the seed);
/// their shapes come from their descriptors without generating anything. File-backed kinds
/// (`text`, `csv`) are read once: the plan-time read that finds their shape keeps the data for the
/// runs that follow.
public final class DatasetCatalog: @unchecked Sendable {
    private let lock = NSLock()
    private var loaded: [DatasetConfig: Dataset] = [:]

    public init() {}

    /// The dataset of a run: generated from `seed`, or read once from its files.
    public func dataset(_ c: DatasetConfig, seed: UInt64) throws(DatasetError) -> Dataset {
        guard c.kind.descriptor.readsFiles else { return try Dataset.load(c, seed: seed) }
        lock.lock()
        if let d = loaded[c] { lock.unlock(); return d }
        lock.unlock()
        let d = try Dataset.load(c, seed: seed)
        lock.lock()
        loaded[c] = d
        lock.unlock()
        return d
    }

    /// The shape of a dataset: from its descriptor, or from the data for file-backed kinds.
    public func shape(_ c: DatasetConfig) throws(DatasetError) -> DatasetShape {
        if let shape = c.kind.descriptor.shape(c) { return shape }
        return try dataset(c, seed: 0).shape
    }
}
