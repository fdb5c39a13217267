import Foundation
import RNNCore
import RNNDatasets

extension ExperimentConfig {
    /// The fully resolved configuration as canonical YAML: fixed key order, every default filled
    /// in, numbers in their shortest round-trip form (`1e-3` and `0.001` both read `0.001`), data
    /// files by their path relative to the experiment file plus a checksum of their contents.
    /// Two grid points with the same settings give the same text, hence the same run id.
    /// The description is left out: editing it does not invalidate finished runs.
    public func canonicalYAML() -> String {
        var lines: [String] = []
        func add(_ indent: Int, _ key: String, _ value: String) {
            lines.append(String(repeating: "  ", count: indent) + "\(key): \(value)")
        }
        add(0, "name", YAMLText.quote(name))
        lines.append("dataset:")
        let d = dataset
        let descriptor = d.kind.descriptor
        add(1, "kind", d.kind.rawValue)
        for key in descriptor.canonicalKeys where !descriptor.annotationKeys.contains(key.name) {
            if let v = key.value(in: d) { add(1, key.name, canonicalText(v, key.type)) }
        }
        lines.append("model:")
        for key in ModelSettings.keys { lines += key.canonical(ModelSettings.of(self), self) }
        lines.append("training:")
        for key in TrainingSettings.keys { lines += key.canonical(training, self) }
        if !diagnostics.isOff {  // left out when off, so adding the block changed no existing run id
            lines.append("diagnostics:")
            for key in GradientDiagnostics.keys { lines += key.canonical(diagnostics, self) }
        }
        let dataFiles = descriptor.canonicalKeys.filter { $0.type == .file }.compactMap { key -> String? in
            if case .text(let path)? = key.value(in: d) { return path }
            return nil
        }
        for p in dataFiles + [initFrom].compactMap({ $0 }) {
            lines.append("# checksum of \(relativePath(p)): \(FileChecksum.of(p))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A dataset key's value as canonical YAML: numbers in their shortest round-trip form, files by
    /// their path relative to the experiment file, names quoted, lists in flow style.
    func canonicalText(_ value: DatasetKey.Value, _ type: DatasetKey.ValueType) -> String {
        switch value {
        case .integer(let v): return String(v)
        case .real(let v): return NumberText.format(v)
        case .boolean(let v): return String(v)
        case .text(let v):
            switch type {
            case .file: return YAMLText.quote(relativePath(v))
            case .choice: return v
            default: return YAMLText.quote(v)
            }
        case .texts(let v): return "[" + v.map(YAMLText.quote).joined(separator: ", ") + "]"
        case .integers(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .reals(let v): return "[" + v.map { NumberText.format($0) }.joined(separator: ", ") + "]"
        }
    }

    /// `path` relative to the experiment file's folder when it lies below it.
    func relativePath(_ path: String) -> String {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL.path + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// Short hash of the canonical YAML (first 6 hex digits of FNV-1a 64).
    public var configHash: String { Hash.short(canonicalYAML()) }
}
