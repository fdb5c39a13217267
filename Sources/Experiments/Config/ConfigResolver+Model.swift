import Foundation
import RNNCore
import RNNDatasets

extension ConfigResolver {
    // MARK: model

    /// Reads `model.layers`: every layer's type, units and activation (a last layer without
    /// activation gets the loss's, set in `crossCheck`).
    mutating func resolveLayers(_ layersNode: ConfigNode) -> [LayerConfig] {
        var layers: [LayerConfig] = []
        if case .sequence(let items, _) = layersNode {
            if items.isEmpty { error(layersNode.location, "model.layers", "the list is empty: give at least one layer") }
            for (i, item) in items.enumerated() {
                let lp = "model.layers.\(i)"
                guard entries(item, lp, allowed: Self.layerKeys) != nil else { continue }
                guard let typeNode = item["type"] else { error(item.location, "\(lp).type", "missing (\(LayerKind.allCases.map(\.rawValue).joined(separator: ", ")))"); continue }
                let kind = choice(typeNode, "\(lp).type", "layer type", LayerKind.self)
                if let kind, kind != .lru {
                    for key in Self.lruKeys { if let node = item[key] { error(node.location, "\(lp).\(key)", "\(key) applies to lru layers only") } }
                }
                // LSTM and GRU have fixed nonlinearities; their spec carries tanh (unused by the
                // engine). An lru is linear: identity.
                if let kind, kind.hasFixedActivation {
                    if let a = item["activation"] {
                        error(a.location, "\(lp).activation", kind == .lru
                              ? "lru layers are linear: remove activation (put a dense layer above for a nonlinearity)"
                              : "\(kind.rawValue) layers have fixed gate nonlinearities: remove activation")
                    }
                    var units: Int? = nil
                    if let u = item["units"] { units = int(u, "\(lp).units", min: 1, max: Bounds.units) }
                    else if i != items.count - 1 { error(item.location, "\(lp).units", "missing (only the last layer may leave units out)") }
                    var layer = LayerConfig(kind: kind, units: units, activation: kind == .lru ? .identity : .tanh)
                    if kind == .lru { (layer.state, layer.ring) = resolveLRUKeys(item, lp) }
                    layers.append(layer)
                    continue
                }
                let isLast = i == items.count - 1
                var units: Int? = nil
                if let u = item["units"] { units = int(u, "\(lp).units", min: 1, max: Bounds.units) }
                else if !isLast { error(item.location, "\(lp).units", "missing (only the last layer may leave units out)") }
                let activation = item["activation"] == nil
                    ? (isLast ? nil : Activation.tanh)
                    : choice(item["activation"], "\(lp).activation", "activation", Activation.self)
                // A last layer without activation gets the loss's (set in crossCheck).
                if let kind { layers.append(LayerConfig(kind: kind, units: units, activation: activation ?? .identity)) }
            }
        } else {
            error(layersNode.location, "model.layers", "expected a list of layers, found \(layersNode.kindDescription)")
        }
        return layers
    }

    /// An lru layer's `state` (1 … the units bound) and its initialisation ring: `0 ≤ r_min ≤
    /// r_max < 1`, `max_phase` in `(0, 1]` (SPEC 2; nil where all are at their defaults).
    mutating func resolveLRUKeys(_ item: ConfigNode, _ lp: String) -> (Int?, LRURing?) {
        var state: Int? = nil
        if let node = item["state"] { state = int(node, "\(lp).state", min: 1, max: Bounds.units) }
        var ring = LRURing.standard
        if let node = item["r_min"], let v = double(node, "\(lp).r_min", min: 0, max: 0.999999) { ring.rMin = v }
        if let node = item["r_max"], let v = double(node, "\(lp).r_max", min: 0, open: true, max: 0.999999) { ring.rMax = v }
        if let node = item["max_phase"], let v = double(node, "\(lp).max_phase", min: 0, open: true, max: 1) { ring.maxPhase = v }
        if ring.rMin > ring.rMax, let node = item["r_min"] ?? item["r_max"] {
            error(node.location, "\(lp).r_min", "r_min (\(ring.rMin)) is above r_max (\(ring.rMax)): the ring of |λ| is [r_min, r_max]")
        }
        return (state, ring == .standard ? nil : ring)
    }
}

/// `model:` as the file gives it (SPEC 5): the layer stack, the loss (nil: the dataset's) and
/// the weights to start from.
struct ModelSettings: SectionSettings {
    var layers: [LayerConfig] = []
    var loss: Loss? = nil
    /// Absolute path.
    var initFrom: String? = nil

    static func of(_ config: ExperimentConfig) -> ModelSettings {
        ModelSettings(layers: config.layers, loss: config.loss, initFrom: config.initFrom)
    }

    /// The keys of `model:`, in the canonical YAML's order. The canonical YAML writes the resolved
    /// stack (units and activations filled in) and loss.
    static let keys: [SectionKey<ModelSettings>] = [
        SectionKey(name: "layers", type: .structured,
                   whenMissing: "missing: a list like - {type: rnn, units: 32, activation: tanh}", read: { r, node, _, s in
            if let node { s.layers = r.resolveLayers(node) }
        }, canonical: { _, c in
            ["  layers:"] + c.networkSpec.layers.map { l in
                var keys = "    - {type: \(l.kind.rawValue), units: \(l.units)" + (l.kind.hasFixedActivation ? "" : ", activation: \(l.activation.rawValue)")
                if l.kind == .lru {
                    // At their defaults, state and the ring stay out (stable run ids).
                    if let s = l.state, s != l.units { keys += ", state: \(s)" }
                    if let ring = l.ring, ring != .standard {
                        keys += ", r_min: \(NumberText.format(ring.rMin)), r_max: \(NumberText.format(ring.rMax)), max_phase: \(NumberText.format(ring.maxPhase))"
                    }
                }
                return keys + "}"
            }
        }),
        SectionKey(name: "loss", type: .choice(what: "loss", names: Loss.allCases.map(\.rawValue)), read: { r, node, path, s in
            s.loss = r.choice(node, path, "loss", Loss.self)
        }, canonical: { _, c in ["  loss: \(c.loss.rawValue)"] }),
        SectionKey(name: "init_from", type: .file, read: { r, node, path, s in
            if node != nil { s.initFrom = r.existingPath(node, path) }
        }, canonical: { _, c in c.initFrom.map { ["  init_from: " + YAMLText.quote(c.relativePath($0))] } ?? [] }),
    ]
}
