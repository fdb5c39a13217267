import Foundation
import RNNCore

extension ResultsStore {
    // MARK: Training longer (issue 24, feature 4)

    /// Where a `done` run keeps its trainer state after its last epoch (parameters, optimizer
    /// step and moments, epoch records, diagnostics): a checkpoint at an epoch boundary, stamped
    /// with the run's canonical configuration.
    public func finalStatePath(_ name: String, _ id: String) -> String { "\(runDirectory(name, id))/final-state.safetensors" }

    /// What a run without a checkpoint of its own can continue from.
    public enum ContinuationLookup: Sendable {
        /// No finished run of the experiment differs from this one only in fewer `epochs`.
        case none
        /// The finished run `donor`'s final state: resumed from as from a checkpoint at the end
        /// of its last epoch, the run ends bit-identical to training it from scratch.
        case found(donor: String, Checkpoint)
        /// Such a run exists, but none of them kept a readable final state (finished by an older
        /// rnn-exp, or the file is damaged): the run starts over, and says why.
        case unusable(donor: String, reason: String)
    }

    /// The finished run this run continues from: among the experiment's `done` runs whose
    /// canonical configuration equals this run's except for a smaller `training.epochs`, the one
    /// with the most epochs whose final state reads back whole (the next one when it does not).
    /// A final state that does not match its run's configuration, or does not end at that run's
    /// last epoch, is never used. `index`: the experiment's done runs read once (a sweep's
    /// runner keeps one, so a run does not read every other run's folder); nil reads them now.
    public func continuation(_ name: String, _ run: PlannedRun, index: DonorIndex? = nil) -> ContinuationLookup {
        guard let wanted = Self.epochsApart(RunConfigFile.body(run.canonical)), wanted.epochs > 1 else { return .none }
        let candidates = (index ?? donorIndex(name)).donors[wanted.rest, default: []]
            .filter { $0.id != run.id && $0.epochs < wanted.epochs }
            .sorted { $0.epochs != $1.epochs ? $0.epochs > $1.epochs : $0.id < $1.id }
        var firstProblem: (donor: String, reason: String)? = nil
        for c in candidates {
            switch finalState(name, c.id, canonical: c.canonical, epochs: c.epochs, metric: run.config.metric) {
            case .success(let state): return .found(donor: c.id, state)
            case .failure(let reason): if firstProblem == nil { firstProblem = (c.id, reason.description) }
            }
        }
        if let p = firstProblem { return .unusable(donor: p.donor, reason: p.reason) }
        return .none
    }

    /// An experiment's `done` runs by their canonical configuration without its epochs line
    /// (`epochsApart`): where `continuation` looks for a run to continue from.
    public struct DonorIndex: Sendable {
        /// One finished run: its id, configuration (`RunConfigFile.body`) and epochs.
        public struct Donor: Sendable {
            public let id: String
            public let canonical: String
            public let epochs: Int
        }
        var donors: [String: [Donor]] = [:]

        /// Adds a run that finished `done` with configuration `canonical`: its canonical YAML, or
        /// its saved `config.yaml` (ignored without an epochs line).
        public mutating func add(id: String, canonical: String) {
            let body = RunConfigFile.body(ofSaved: canonical)
            guard let split = ResultsStore.epochsApart(body) else { return }
            donors[split.rest, default: []].removeAll { $0.id == id }
            donors[split.rest, default: []].append(Donor(id: id, canonical: body, epochs: split.epochs))
        }
    }

    /// Reads the experiment's `done` runs (their `status` and `config.yaml`) into a `DonorIndex`.
    public func donorIndex(_ name: String) -> DonorIndex {
        var index = DonorIndex()
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "\(experimentDirectory(name))/runs")) ?? []
        for id in ids.sorted() where status(name, id) == .done {
            guard let data = reader.contents(atPath: "\(runDirectory(name, id))/config.yaml") else { continue }
            index.add(id: id, canonical: String(decoding: data, as: UTF8.self))
        }
        return index
    }

    /// A finished run's final state, checked against its configuration (`canonical`: the donor's
    /// `RunConfigFile.body`): the same canonical text, records of epochs 0 ... `epochs`, and no batch of a further epoch in progress.
    func finalState(_ name: String, _ id: String, canonical: String, epochs: Int,
                    metric: MetricKind) -> Result<Checkpoint, ContinuationProblem> {
        let path = finalStatePath(name, id)
        guard let data = reader.contents(atPath: path) else {
            return .failure(.init("\(path) is missing (the run finished before rnn-exp kept final states)"))
        }
        switch Checkpoint.decode(data, metric: metric) {
        case .failure(let e): return .failure(.init("\(path): \(e)"))
        case .success(let c):
            guard RunConfigFile.body(c.canonicalConfig) == canonical else {
                return .failure(.init("\(path) was written for another configuration than the run's config.yaml"))
            }
            guard c.records.last?.epoch == epochs, c.batchesDone == 0, c.partial == Checkpoint.EpochSums() else {
                return .failure(.init("\(path) does not end at the run's last epoch (\(epochs))"))
            }
            return .success(c)
        }
    }

    /// Why a finished run's final state cannot be continued from (a sentence).
    public struct ContinuationProblem: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// A canonical configuration split into its `training.epochs` and the rest (the epochs line
    /// replaced by a placeholder); nil when it has no such line. Two runs whose rests are equal
    /// differ only in how many epochs they train.
    static func epochsApart(_ canonical: String) -> (epochs: Int, rest: String)? {
        var lines = canonical.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let training = lines.firstIndex(of: "training:") else { return nil }
        let prefix = "  epochs: "
        var index = training + 1
        while index < lines.count, lines[index].hasPrefix("  ") {
            if lines[index].hasPrefix(prefix), let epochs = Int(lines[index].dropFirst(prefix.count)) {
                lines[index] = prefix + "*"
                return (epochs, lines.joined(separator: "\n"))
            }
            index += 1
        }
        return nil
    }
}
