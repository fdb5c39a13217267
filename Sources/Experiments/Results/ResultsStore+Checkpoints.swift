import Foundation

extension ResultsStore {
    // MARK: Checkpoints

    public func checkpointPath(_ name: String, _ id: String) -> String { "\(runDirectory(name, id))/checkpoint/state.safetensors" }

    /// What a run's checkpoint folder holds.
    public enum CheckpointLookup: Sendable {
        case none
        case found(Checkpoint)
        /// Written for another resolved configuration: the run starts over.
        case otherConfig
        /// Unreadable (truncated, corrupt): the run starts over, and says why.
        case damaged(String)
    }

    public func loadCheckpoint(_ name: String, _ run: PlannedRun) -> CheckpointLookup {
        let path = checkpointPath(name, run.id)
        guard let data = reader.contents(atPath: path) else { return .none }
        switch Checkpoint.decode(data, metric: run.config.metric) {
        case .failure(let e): return .damaged("\(path): \(e)")
        case .success(let c): return c.canonicalConfig == run.canonical ? .found(c) : .otherConfig
        }
    }

    /// Replaces the run's checkpoint atomically (a killed writer leaves the previous one whole),
    /// stamped with the run's canonical configuration.
    public func saveCheckpoint(_ name: String, _ run: PlannedRun, _ checkpoint: Checkpoint) throws(WriteError) {
        let path = checkpointPath(name, run.id)
        var stamped = checkpoint
        stamped.canonicalConfig = run.canonical
        try AtomicFile.makeDirectory((path as NSString).deletingLastPathComponent)
        try writer.write(stamped.encoded(metric: run.config.metric), to: path)
    }

    /// Removes the checkpoint (when the run is over, or starts over).
    public func removeCheckpoint(_ name: String, _ id: String) {
        let path = checkpointPath(name, id)
        let dir = (path as NSString).deletingLastPathComponent
        unlink(path)
        AtomicFile.removeStaleTemporaries(in: dir)
        rmdir(dir)
    }
}
