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
        func num(_ d: Double) -> String { NumberText.format(d) }
        add(0, "name", YAMLText.quote(name))
        lines.append("dataset:")
        let d = dataset
        add(1, "kind", d.kind.rawValue)
        if let v = d.train { add(1, "train", String(v)) }
        if let v = d.validation { add(1, "validation", String(v)) }
        if let v = d.length { add(1, "length", String(v)) }
        if let v = d.bits { add(1, "bits", String(v)) }
        if let v = d.symbols { add(1, "symbols", String(v)) }
        if let v = d.delay { add(1, "delay", String(v)) }
        if let v = d.waves { add(1, "waves", String(v)) }
        if let v = d.noise { add(1, "noise", num(v)) }
        if let v = d.embedded { add(1, "embedded", String(v)) }
        if let v = d.inputs { add(1, "inputs", String(v)) }
        if let v = d.classes, d.kind == .random { add(1, "classes", String(v)) }
        if let p = d.path { add(1, "path", YAMLText.quote(relativePath(p))) }
        if let v = d.sequence { add(1, "sequence", YAMLText.quote(v)) }
        if let v = d.inputColumns { add(1, "inputs", "[" + v.map(YAMLText.quote).joined(separator: ", ") + "]") }
        if let v = d.targetColumns { add(1, "targets", "[" + v.map(YAMLText.quote).joined(separator: ", ") + "]") }
        if let v = d.targetType, d.kind == .csv { add(1, "target_type", v.rawValue) }
        if let p = d.validationPath { add(1, "validation_path", YAMLText.quote(relativePath(p))) }
        lines.append("model:")
        lines.append("  layers:")
        for l in networkSpec.layers {
            lines.append("    - {type: \(l.kind.rawValue), units: \(l.units)" + (l.isGated ? "}" : ", activation: \(l.activation.rawValue)}"))
        }
        add(1, "loss", loss.rawValue)
        if let p = initFrom { add(1, "init_from", YAMLText.quote(relativePath(p))) }
        lines.append("training:")
        add(1, "epochs", String(epochs))
        add(1, "batch", String(batch))
        add(1, "tau_max", tauMaxText)
        if let tb = tauB { add(1, "tau_b", String(tb)) } else { add(1, "tau_b", tauMax.map(String.init) ?? "length  # the sequence length") }
        lines.append("  optimizer:")
        let o = optimizer
        add(2, "name", o.name.rawValue)
        add(2, "lr", num(o.lr))
        switch o.name {
        case .sgd:
            add(2, "momentum", num(o.momentum))
            add(2, "nesterov", String(o.nesterov))
        case .adam:
            add(2, "beta1", num(o.beta1)); add(2, "beta2", num(o.beta2)); add(2, "eps", num(o.eps))
        case .rmsprop:
            add(2, "alpha", num(o.alpha)); add(2, "eps", num(o.eps)); add(2, "momentum", num(o.momentum))
        }
        add(2, "weight_decay", num(o.weightDecay))
        add(1, "clip_norm", clipNorm.map(num) ?? "null")
        add(1, "seed", String(seed))
        add(1, "shuffle", String(shuffle))
        add(1, "precision", precision.rawValue)
        for p in [d.path, d.validationPath, initFrom].compactMap({ $0 }) {
            lines.append("# checksum of \(relativePath(p)): \(FileChecksum.of(p))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `path` relative to the experiment file's folder when it lies below it.
    func relativePath(_ path: String) -> String {
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL.path + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// Short hash of the canonical YAML (first 6 hex digits of FNV-1a 64).
    public var configHash: String { Hash.short(canonicalYAML()) }
}

enum Hash {
    static func fnv1a(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return h
    }

    static func short(_ text: String) -> String {
        let h = fnv1a(text.utf8)
        return String(String(h, radix: 16).leftPadded(to: 16).prefix(6))
    }
}

/// Checksums of data files, read once per process.
enum FileChecksum {
    nonisolated(unsafe) private static var cache: [String: String] = [:]
    private static let lock = NSLock()

    static func of(_ path: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        if let c = cache[path] { return c }
        let value: String
        if let data = FileManager.default.contents(atPath: path) {
            value = "fnv1a64:" + String(Hash.fnv1a(data), radix: 16).leftPadded(to: 16)
        } else {
            value = "unreadable"
        }
        cache[path] = value
        return value
    }
}

extension String {
    func leftPadded(to n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}
