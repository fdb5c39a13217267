import RNNCore
import RNNDatasets

/// Arithmetic precision of a run.
public enum Precision: String, Sendable, Codable, CaseIterable {
    case float32, float64
}

/// One entry of `model.layers`.
public struct LayerConfig: Sendable, Equatable {
    public var kind: LayerKind
    /// nil for the last layer means "the dataset's output size".
    public var units: Int?
    public var activation: Activation
}

/// A fully typed experiment (one grid point), with every default filled in by `ConfigResolver`.
public struct ExperimentConfig: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Absolute path of the experiment file.
    public var file: String
    public var dataset: DatasetConfig
    public var layers: [LayerConfig]
    public var loss: Loss
    /// Absolute path of a safetensors file to start from, or nil for the seeded initialisation.
    public var initFrom: String?
    public var epochs: Int
    public var batch: Int
    /// nil means `full`.
    public var tauMax: Int?
    public var tauB: Int?
    public var optimizer: OptimizerSettings
    public var clipNorm: Double?
    public var seed: Int
    public var shuffle: Bool
    public var precision: Precision
    /// Input and output size and metric, from the dataset.
    public var inputSize: Int
    public var outputSize: Int
    public var metric: MetricKind
    public var layout: DatasetLayout
    /// `diagnostics:` (SPEC 3.1); off by default.
    public var diagnostics = GradientDiagnostics()

    /// The layer stack with sizes chained from the dataset's input size.
    public var networkSpec: NetworkSpec {
        var specs: [LayerSpec] = []
        var previous = inputSize
        for (i, l) in layers.enumerated() {
            let units = l.units ?? (i == layers.count - 1 ? outputSize : 1)
            specs.append(LayerSpec(kind: l.kind, inputs: previous, units: units, activation: l.activation))
            previous = units
        }
        return NetworkSpec(layers: specs, loss: loss)
    }

    public var truncation: Truncation { Truncation(tauB: tauB, tauMax: tauMax) }

    /// `rnn64-tanh,dense10-softmax` (gated layers without activation: `lstm64`): the layer stack in one word, for summaries.
    public var layersText: String {
        networkSpec.layers.map { "\($0.kind.rawValue)\($0.units)" + ($0.isGated ? "" : "-\($0.activation.rawValue)") }.joined(separator: ",")
    }

    /// `full` or the number.
    public var tauMaxText: String { tauMax.map(String.init) ?? "full" }

    /// The effective tau_b as text: the number, or `length` when it defaults to the sequence length.
    public var tauBText: String {
        if let tb = tauB { return String(tb) }
        if let tm = tauMax { return String(tm) }
        return "length"
    }
}
