import Foundation

/// A run's saved `config.yaml` read back as an experiment document, for the summaries (every
/// finished run of `results/NAME/runs/` is a row, issue 29 bug 1) and for the runs finished by an
/// earlier rnn-exp, whose file is the canonical text itself: `tau_max: full` on an online run,
/// `clip_norm: null`, `tau_b: length`. Those keys say what their absence says, so they are
/// dropped; so is a `sweep:` block (its one value per key repeats the settings above it).
enum StoredConfig {
    /// The document of a saved configuration, or nil when it does not parse.
    static func document(_ text: String, file: String) -> ConfigNode? {
        guard let node = try? ConfigNode.parse(yaml: text, file: file) else { return nil }
        return withoutInapplicableKeys(node)
    }

    /// `doc` without `sweep:` and without the keys an earlier canonical text wrote where they
    /// mean their default (see the type's comment).
    static func withoutInapplicableKeys(_ doc: ConfigNode) -> ConfigNode {
        guard case .mapping(var top, let at) = doc else { return doc }
        top.removeAll { $0.key == "sweep" }
        if let t = top.firstIndex(where: { $0.key == "training" }), case .mapping(var entries, let trainingAt) = top[t].value {
            let online = entries.last { $0.key == "algorithm" }?.value.text.flatMap(AlgorithmName.init(rawValue:))?.online != nil
            entries.removeAll { e in
                switch (e.key, e.value.text) {
                case ("clip_norm", "null"?), ("clip_norm", "~"?), ("clip_norm", ""?): return true
                case ("tau_b", "length"?): return true
                case ("tau_max", "full"?): return online
                default: return false
                }
            }
            top[t].value = .mapping(entries, at: trainingAt)
        }
        return .mapping(top, at: at)
    }

    /// A run's configuration resolved as if its file were `experimentFile` (data paths are
    /// relative to the experiment's folder); nil when it does not resolve.
    static func resolve(_ text: String, path: String, experimentFile: String, cache: DatasetCatalog) -> ExperimentConfig? {
        guard let doc = document(text, file: path) else { return nil }
        var resolver = ConfigResolver(file: experimentFile, cache: cache)
        guard let config = resolver.resolve(doc), resolver.errors.isEmpty else { return nil }
        return config
    }

    /// Every scalar of a document by its dotted path (list items by index), in document order.
    static func flatten(_ node: ConfigNode, _ prefix: String = "") -> [(key: String, text: String)] {
        switch node {
        case .scalar(let s, _, _): return [(prefix, s)]
        case .mapping(let entries, _):
            return entries.flatMap { flatten($0.value, prefix.isEmpty ? $0.key : "\(prefix).\($0.key)") }
        case .sequence(let items, _):
            return items.enumerated().flatMap { flatten($1, prefix.isEmpty ? String($0) : "\(prefix).\($0)") }
        }
    }
}
