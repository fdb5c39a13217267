/// A layer stack and its loss: everything needed to build parameters and train.
public struct NetworkSpec: Sendable, Equatable, Codable {
    public var layers: [LayerSpec]
    public var loss: Loss

    public init(layers: [LayerSpec], loss: Loss) {
        self.layers = layers
        self.loss = loss
    }

    /// Builds a stack from `(kind, units, activation)` triples; input sizes chain from `inputs`.
    public init(inputs: Int, layers: [(LayerKind, Int, Activation)], loss: Loss) {
        var specs: [LayerSpec] = []
        var previous = inputs
        for (kind, units, activation) in layers {
            specs.append(LayerSpec(kind: kind, inputs: previous, units: units, activation: activation))
            previous = units
        }
        self.init(layers: specs, loss: loss)
    }

    public var inputs: Int { layers.first?.inputs ?? 0 }
    public var outputs: Int { layers.last?.units ?? 0 }
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Problems that make the stack untrainable, as plain sentences (empty when valid).
    public func problems() -> [String] {
        var out: [String] = []
        if layers.isEmpty { out.append("the model needs at least one layer") }
        for (i, layer) in layers.enumerated() {
            if layer.units < 1 { out.append("layer \(i): units must be at least 1") }
            if !layer.isGated && layer.activation == .softmax && i != layers.count - 1 {
                out.append("layer \(i): softmax is allowed on the output layer only")
            }
            if i > 0 && layer.inputs != layers[i - 1].units {
                out.append("layer \(i): inputs \(layer.inputs) do not match the previous layer's \(layers[i - 1].units) units")
            }
        }
        if let last = layers.last, last.isGated {
            // Gated layers have fixed nonlinearities: they cannot produce a softmax or sigmoid output.
            if let required = loss.requiredActivation {
                out.append("loss \(loss.rawValue) needs a \(required.rawValue) output layer; \(last.kind.withArticle) layer cannot be the last layer (add a dense \(required.rawValue) layer on top)")
            }
        } else if let last = layers.last {
            if let required = loss.requiredActivation, last.activation != required {
                out.append("loss \(loss.rawValue) needs a \(required.rawValue) output layer, not \(last.activation.rawValue)")
            }
            if loss == .mse && last.activation == .softmax {
                out.append("softmax output is paired with cross-entropy, not mse")
            }
        }
        return out
    }
}

/// Where each layer's parameters live inside the one contiguous parameter buffer.
///
/// Per layer, in order:
/// - rnn, dense: `SW` (units × inputs, row-major), `TW` (units × units, rnn only), `b` (units);
///   a kind with a diagonal recurrence (`RecurrentWeight.diagonal`) has `w_t` (units) as `TW`;
/// - lstm, gru: `SW` (G·units × inputs), `TW` (G·units × units), `b_s` (G·units), `b_t` (G·units),
///   G = 4 (gates i, f, g, o) or 3 (r, z, n): PyTorch's `weight_ih_l0`, `weight_hh_l0`,
///   `bias_ih_l0`, `bias_hh_l0`.
/// Gradients and optimizer state use the same layout, so zeroing is one fill and the global norm
/// for `clip_norm` is one pass.
public struct ParameterLayout: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var sw: Int
        public var tw: Int?  // nil for dense layers
        /// `b` (rnn, dense) or `b_s` (lstm, gru).
        public var b: Int
        /// `b_t` of a gated layer; nil otherwise.
        public var bt: Int? = nil
    }
    public let entries: [Entry]
    public let count: Int

    public init(_ spec: NetworkSpec) {
        var offset = 0
        var entries: [Entry] = []
        for layer in spec.layers {
            if let tensors = layer.kind.tensors(layer) {
                // A kind with tensors of its own: `sw` is where its input weights start, `b` the layer's start.
                let start = offset
                var inputWeights = start
                for t in tensors {
                    if t.name == LRULayer.inputWeightsName { inputWeights = offset }
                    offset += t.shape.reduce(1, *)
                }
                entries.append(Entry(sw: inputWeights, tw: nil, b: start, bt: nil))
                continue
            }
            let rows = layer.kind.gates * layer.units
            let sw = offset
            offset += rows * layer.inputs
            var tw: Int? = nil
            if layer.isRecurrent {
                tw = offset
                offset += layer.recurrentWeightCount
            }
            let b = offset
            offset += layer.isGated ? rows : layer.units
            var bt: Int? = nil
            if layer.isGated {
                bt = offset
                offset += rows
            }
            entries.append(Entry(sw: sw, tw: tw, b: b, bt: bt))
        }
        self.entries = entries
        self.count = offset
    }

    /// Serialized tensor names and ranges, e.g. `layers.0.W_s` (SPEC section 6); gated layers
    /// have `b_s` and `b_t` instead of `b`.
    public func namedTensors(_ spec: NetworkSpec) -> [(name: String, range: Range<Int>, shape: [Int])] {
        var out: [(String, Range<Int>, [Int])] = []
        for (i, (layer, e)) in zip(spec.layers, entries).enumerated() {
            if let tensors = layer.kind.tensors(layer) {
                var offset = e.b
                for t in tensors {
                    let count = t.shape.reduce(1, *)
                    out.append(("layers.\(i).\(t.name)", offset..<(offset + count), t.shape))
                    offset += count
                }
                continue
            }
            let rows = layer.kind.gates * layer.units
            out.append(("layers.\(i).W_s", e.sw..<(e.sw + rows * layer.inputs), [rows, layer.inputs]))
            if let tw = e.tw {
                if layer.kind.traits.recurrentWeight == .matrix {
                    out.append(("layers.\(i).W_t", tw..<(tw + rows * layer.units), [rows, layer.units]))
                } else {
                    out.append(("layers.\(i).w_t", tw..<(tw + layer.units), [layer.units]))
                }
            }
            if let bt = e.bt {
                out.append(("layers.\(i).b_s", e.b..<(e.b + rows), [rows]))
                out.append(("layers.\(i).b_t", bt..<(bt + rows), [rows]))
            } else {
                out.append(("layers.\(i).b", e.b..<(e.b + layer.units), [layer.units]))
            }
        }
        return out
    }
}

extension NetworkSpec {
    /// PyTorch's default initialisation (`nn.RNN`, `nn.LSTM`, `nn.GRU`): every parameter of a layer uniform in
    /// `[-1/sqrt(units), 1/sqrt(units)]`, drawn in layout order from `Xoshiro256(seed, stream: 1)`
    /// (a kind with its own initialisation, lru, draws its values from the same stream in turn).
    /// Values are drawn in float64 and rounded, so float32 and float64 runs start at the same point.
    public func initialParameters(seed: UInt64) -> [Double] {
        var rng = Xoshiro256(seed: seed, stream: SeedStream.initialWeights)
        let layout = ParameterLayout(self)
        var values = [Double](repeating: 0, count: layout.count)
        var offset = 0
        for layer in layers {
            let layerValues = withUnsafeMutablePointer(to: &rng) { layer.kind.accept(InitialValues(layer: layer, rng: $0)) }
            for v in layerValues {
                values[offset] = v
                offset += 1
            }
        }
        return values
    }
}
