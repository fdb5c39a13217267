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
    /// lru: `state`, the complex state size (nil: units).
    public var state: Int? = nil
    /// lru: `r_min`, `r_max`, `max_phase` (nil: the paper's defaults).
    public var ring: LRURing? = nil
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
    /// `training:`.
    public var training: TrainingSettings
    /// Input and output size and metric, from the dataset.
    public var inputSize: Int
    public var outputSize: Int
    public var metric: MetricKind
    public var layout: DatasetLayout
    /// `diagnostics:` (SPEC 3.1); off by default.
    public var diagnostics = GradientDiagnostics()

    public var epochs: Int { get { training.epochs } set { training.epochs = newValue } }
    public var batch: Int { get { training.batch } set { training.batch = newValue } }
    /// nil means `full`.
    public var tauMax: Int? { get { training.tauMax } set { training.tauMax = newValue } }
    public var tauB: Int? { get { training.tauB } set { training.tauB = newValue } }
    public var optimizer: OptimizerSettings { get { training.optimizer } set { training.optimizer = newValue } }
    public var clipNorm: Double? { get { training.clipNorm } set { training.clipNorm = newValue } }
    public var seed: Int { get { training.seed } set { training.seed = newValue } }
    public var shuffle: Bool { get { training.shuffle } set { training.shuffle = newValue } }
    public var precision: Precision { get { training.precision } set { training.precision = newValue } }

    /// The layer stack with sizes chained from the dataset's input size.
    public var networkSpec: NetworkSpec {
        var specs: [LayerSpec] = []
        var previous = inputSize
        for (i, l) in layers.enumerated() {
            let units = l.units ?? (i == layers.count - 1 ? outputSize : 1)
            specs.append(LayerSpec(kind: l.kind, inputs: previous, units: units, activation: l.activation, state: l.state, ring: l.ring))
            previous = units
        }
        return NetworkSpec(layers: specs, loss: loss)
    }

    /// Adaptive tau_max's settings (`tau_max: adaptive`, or a style's `K: adaptive` with the
    /// style's rule); nil otherwise.
    public var adaptiveTruncation: AdaptiveTruncation? {
        guard training.adaptiveTruncation else { return nil }
        return AdaptiveTruncation(delta: training.truncationDelta, every: training.truncationEvery,
                                  maxLag: training.truncationMaxLag, rule: training.style?.rule ?? .window)
    }

    /// BPTT's truncation: the window `(tau_b, tau_max)`, random truncation (ARTBP) with the
    /// run's seed keying the draws, or adaptive tau_max.
    public var truncation: Truncation {
        if training.randomTruncation {
            return Truncation(random: RandomTruncation(continueProbability: training.truncationContinue, seed: UInt64(seed)))
        }
        if let adaptive = adaptiveTruncation { return Truncation(adaptive: adaptive) }
        return Truncation(tauB: tauB, tauMax: tauMax)
    }
    /// Influence values an online algorithm carries over the run's lanes (SPEC 3.3; `rtrl`:
    /// `B · n · P` per layer plus the cross blocks); nil for bptt.
    public var influenceValues: Int? {
        training.algorithm.online.map { OnlineGradient<Float>.influenceScalars(spec: networkSpec, algorithm: $0, lanes: batch) }
    }

    /// `values` scalars of `precision` in megabytes (one decimal).
    public static func megabytes(_ values: Double, _ precision: Precision) -> String {
        String(format: "%.1f", values * (precision == .float64 ? 8 : 4) / 1e6)
    }

    /// The training algorithm (SPEC 3, 3.3): BPTT(tau_b, tau_max), or an online algorithm with an
    /// update every tau_b steps (default 1).
    public var algorithm: Algorithm {
        guard let online = training.algorithm.online else { return .bptt(truncation) }
        return .online(online, tauB: tauB ?? 1, rfloDecay: training.rfloDecay, rfloFeedback: training.rfloFeedback)
    }

    /// `rnn64-tanh,dense10-softmax` (gated layers without activation: `lstm64`; an lru with its
    /// state size where it differs: `lru64s128`): the layer stack in one word, for summaries.
    public var layersText: String {
        networkSpec.layers.map { l in
            "\(l.kind.rawValue)\(l.units)" + (l.kind.hasFixedActivation ? "" : "-\(l.activation.rawValue)")
                + (l.kind == .lru && l.stateSize != l.units ? "s\(l.stateSize)" : "")
        }.joined(separator: ",")
    }

    /// The layer kinds of a `layersText` (`rnn64-tanh,dense10-softmax` → rnn, dense), as the
    /// report reads them back from `summary.csv`.
    public static func layerKinds(inLayersText text: String) -> [LayerKind] {
        text.split(separator: ",").compactMap { LayerKind(rawValue: String($0.prefix(while: \.isLetter))) }
    }

    /// The index of the lowest recurrent layer of a stack (nil: none): the layer whose credit
    /// profile `credit_horizon` and the report follow.
    public static func lowestRecurrentLayer(_ kinds: [LayerKind]) -> Int? { kinds.firstIndex { $0 != .dense } }

    public var lowestRecurrentLayer: Int? { Self.lowestRecurrentLayer(layers.map(\.kind)) }

    /// `full` or the number.
    public var tauMaxText: String {
        training.randomTruncation ? "random" : training.adaptiveTruncation ? "adaptive" : (tauMax.map(String.init) ?? "full")
    }

    /// The effective tau_b as text: the number, or `length` when it defaults to the sequence length.
    public var tauBText: String {
        if let tb = tauB { return String(tb) }
        if let tm = tauMax { return String(tm) }
        return training.adaptiveTruncation ? "adaptive" : "length"
    }
}
