import RNNCore

/// The settings one section of an experiment file (`training:`, `model:`, `diagnostics:`) reads
/// into. `init()` holds every key's default; `of(_:)` takes the section back out of a resolved
/// configuration for the canonical YAML.
protocol SectionSettings: Sendable {
    init()
    static func of(_ config: ExperimentConfig) -> Self
}

/// One key of the `training:`, `model:` or `diagnostics:` section, as `DatasetKey` is for a
/// dataset kind: its YAML name, the type and range of its value, its default (the field's value
/// in `Settings()`), the field it fills, and its lines in the canonical YAML.
///
/// The resolver reads a section from its table (`ConfigResolver.resolveSection`: unknown keys,
/// located errors, defaults); `ExperimentConfig.canonicalYAML` writes it back from the same table,
/// in table order. A key declared with `omittedWhenDefault` is left out of the canonical YAML while
/// it holds its default, so adding such a key changes no run id.
struct SectionKey<Settings: SectionSettings>: Sendable {
    /// What the value must be.
    enum ValueType: Sendable, Equatable {
        case integer(ClosedRange<Int>)
        /// `excludingLower`: the lower bound is open (`clip_norm > 0`).
        case real(ClosedRange<Double>, excludingLower: Bool)
        case boolean
        /// One of `names`; `what` names the set in messages ("precision").
        case choice(what: String, names: [String])
        /// A number of steps (1 … the sequence bound) or `full`.
        case horizon
        /// A path relative to the experiment file, which must exist.
        case file
        /// A block or list with its own reader (`optimizer`, `layers`).
        case structured
    }

    /// The key as written in the experiment file.
    let name: String
    let type: ValueType
    /// For a required key, what to say when it is missing (nil: optional).
    var whenMissing: String? = nil
    /// Reads the key's node (nil: left out, the default stays) into the settings.
    let read: @Sendable (inout ConfigResolver, ConfigNode?, _ path: String, inout Settings) -> Void
    /// The key's lines in the canonical YAML, indented as in the section (none: left out).
    let canonical: @Sendable (Settings, ExperimentConfig) -> [String]

    /// `  name: text`, the canonical line of a scalar key.
    static func line(_ name: String, _ text: String) -> [String] { ["  \(name): \(text)"] }
}

// MARK: - Declaring keys

extension SectionKey {
    static func integer(_ name: String, _ field: WritableKeyPath<Settings, Int> & Sendable, in bounds: ClosedRange<Int>,
                        omittedWhenDefault: Bool = false) -> SectionKey {
        SectionKey(name: name, type: .integer(bounds), read: { r, node, path, s in
            guard let node else { return }
            if let v = r.int(node, path, min: bounds.lowerBound, max: bounds.upperBound) { s[keyPath: field] = v }
        }, canonical: { s, _ in
            omittedWhenDefault && s[keyPath: field] == Settings()[keyPath: field] ? [] : line(name, String(s[keyPath: field]))
        })
    }

    /// A real number in `bounds` (closed).
    static func real(_ name: String, _ field: WritableKeyPath<Settings, Double> & Sendable, in bounds: ClosedRange<Double>,
                     omittedWhenDefault: Bool = false) -> SectionKey {
        SectionKey(name: name, type: .real(bounds, excludingLower: false), read: { r, node, path, s in
            guard let node else { return }
            if let v = r.double(node, path, min: bounds.lowerBound, open: false, max: bounds.upperBound) { s[keyPath: field] = v }
        }, canonical: { s, _ in
            omittedWhenDefault && s[keyPath: field] == Settings()[keyPath: field] ? [] : line(name, NumberText.format(s[keyPath: field]))
        })
    }

    /// A real number; left out it is nil, written `null`.
    static func optionalReal(_ name: String, _ field: WritableKeyPath<Settings, Double?> & Sendable, in bounds: ClosedRange<Double>,
                             excludingLower: Bool) -> SectionKey {
        SectionKey(name: name, type: .real(bounds, excludingLower: excludingLower), read: { r, node, path, s in
            guard let node else { return }
            if let v = r.double(node, path, min: bounds.lowerBound, open: excludingLower, max: bounds.upperBound) { s[keyPath: field] = v }
        }, canonical: { s, _ in
            line(name, s[keyPath: field].map { NumberText.format($0) } ?? "null")
        })
    }

    static func boolean(_ name: String, _ field: WritableKeyPath<Settings, Bool> & Sendable, omittedWhenDefault: Bool = false) -> SectionKey {
        SectionKey(name: name, type: .boolean, read: { r, node, path, s in
            guard let node else { return }
            if let v = r.bool(node, path) { s[keyPath: field] = v }
        }, canonical: { s, _ in
            omittedWhenDefault && s[keyPath: field] == Settings()[keyPath: field] ? [] : line(name, String(s[keyPath: field]))
        })
    }

    /// One of an enumeration's raw values; `what` names the set in messages.
    static func choice<E: RawRepresentable & CaseIterable & Equatable & Sendable>(
        _ name: String, _ field: WritableKeyPath<Settings, E> & Sendable, what: String, omittedWhenDefault: Bool = false
    ) -> SectionKey where E.RawValue == String {
        SectionKey(name: name, type: .choice(what: what, names: E.allCases.map(\.rawValue)), read: { r, node, path, s in
            guard let node else { return }
            if let v = r.choice(node, path, what, E.self) { s[keyPath: field] = v }
        }, canonical: { s, _ in
            omittedWhenDefault && s[keyPath: field] == Settings()[keyPath: field] ? [] : line(name, s[keyPath: field].rawValue)
        })
    }

    /// A truncation horizon: steps, or `full` (nil, as is a missing key).
    static func horizon(_ name: String, _ field: WritableKeyPath<Settings, Int?> & Sendable) -> SectionKey {
        SectionKey(name: name, type: .horizon, read: { r, node, path, s in
            s[keyPath: field] = r.horizon(node, path)
        }, canonical: { s, _ in
            line(name, s[keyPath: field].map(String.init) ?? "full")
        })
    }
}
