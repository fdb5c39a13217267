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
                // LSTM and GRU have fixed nonlinearities; their spec carries tanh (unused by the engine).
                if let kind, kind.isGated {
                    if let a = item["activation"] {
                        error(a.location, "\(lp).activation",
                              "\(kind.rawValue) layers have fixed gate nonlinearities: remove activation")
                    }
                    var units: Int? = nil
                    if let u = item["units"] { units = int(u, "\(lp).units", min: 1, max: Bounds.units) }
                    else if i != items.count - 1 { error(item.location, "\(lp).units", "missing (only the last layer may leave units out)") }
                    layers.append(LayerConfig(kind: kind, units: units, activation: .tanh))
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
                "    - {type: \(l.kind.rawValue), units: \(l.units)" + (l.isGated ? "}" : ", activation: \(l.activation.rawValue)}")
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
