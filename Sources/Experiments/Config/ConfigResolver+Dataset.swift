import Foundation
import RNNCore
import RNNDatasets

extension ConfigResolver {
    // MARK: dataset

    mutating func resolveDataset(_ node: ConfigNode?, at: SourceLocation) -> (config: DatasetConfig, shape: DatasetShape, kindAt: SourceLocation)? {
        guard let node else { error(at, "dataset", "missing: every experiment needs a dataset: block with a kind"); return nil }
        guard case .mapping = node else { _ = entries(node, "dataset", allowed: []); return nil }
        guard let kindNode = node["kind"] else {
            error(node.location, "dataset.kind", "missing (one of: \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        guard let kind = choice(kindNode, "dataset.kind", "dataset kind", DatasetKind.self) else { return nil }
        let descriptor = kind.descriptor
        _ = entries(node, "dataset", allowed: ["kind"] + descriptor.keys.map(\.name))
        let start = errors.count
        var c = DatasetConfig(kind: kind)
        for key in descriptor.keys {
            let path = "dataset.\(key.name)"
            guard let valueNode = node[key.name] else {
                if let missing = key.whenMissing { error(node.location, path, missing) }
                continue
            }
            if let value = datasetValue(valueNode, path, key.type) { key.set(value, in: &c) }
        }
        guard errors.count == start else { return nil }
        c = c.resolved()
        for problem in descriptor.problems(c) {
            let written = problem.keys.first { node[$0] != nil }
            error(written.flatMap { node[$0]?.location } ?? node.location, "dataset.\(written ?? problem.keys.first ?? "")",
                  problem.message)
        }
        guard errors.count == start else { return nil }
        // Size bound: the generated splits must fit in memory.
        // Sequence datasets: sequences × steps; streams: train and validation are steps already.
        let steps = descriptor.layout == .stream ? 1 : descriptor.stepsPerSequence(c).value
        let values = ((c.train ?? 0) + (c.validation ?? 0)) * steps * descriptor.valuesPerStep(c)
        if values > Bounds.datasetValues {
            error(node.location, "dataset", "the dataset would hold \(values) values (more than \(Bounds.datasetValues)); lower train, validation or length")
            return nil
        }
        do {
            let shape = try datasets.shape(c)
            return (c, shape, kindNode.location)
        } catch {
            let at = error.line > 0 ? SourceLocation(file: error.file, line: error.line, column: error.column)
                                    : (node["path"]?.location ?? node.location)
            let message = error.line > 0 ? error.message : "\(error.file): \(error.message)"
            self.error(at, error.line > 0 ? "" : "dataset.path", message)
            return nil
        }
    }

    /// One value of a `dataset:` key, checked against the type its kind declares.
    mutating func datasetValue(_ node: ConfigNode, _ path: String, _ type: DatasetKey.ValueType) -> DatasetKey.Value? {
        switch type {
        case .integer(let r): return int(node, path, min: r.lowerBound, max: r.upperBound).map { .integer($0) }
        case .real(let r): return double(node, path, min: r.lowerBound, max: r.upperBound).map { .real($0) }
        case .boolean: return bool(node, path).map { .boolean($0) }
        case .file: return existingPath(node, path).map { .text($0) }
        case .name: return string(node, path).map { .text($0) }
        case .names: return stringList(node, path).map { .texts($0) }
        case .choice(let what, let names): return choice(node, path, what, names: names).map { .text($0) }
        case .integers(let r):
            return numberList(node, path) { $0.int($1, $2, min: r.lowerBound, max: r.upperBound) }.map { .integers($0) }
        case .reals(let r):
            return numberList(node, path) { $0.double($1, $2, min: r.lowerBound, max: r.upperBound) }.map { .reals($0) }
        }
    }
}
