import RNNCore

/// `reber`: embedded Reber grammar strings (Hochreiter & Schmidhuber 1997). Inputs are one-hot
/// over the 7 symbols `BTPSXVE`; the target at every step but the last is the set of symbols that
/// may come next (multi-hot). Binary cross-entropy, metric: accuracy (all 7 outputs right at 0.5).
/// The embedded form must remember the second symbol until the second to last one.
public enum EmbeddedReber: GeneratedDatasetKind {
    public static let kind = DatasetKind.reber
    public static let layout = DatasetLayout.sequences
    public static let alphabet: [Character] = ["B", "T", "P", "S", "X", "V", "E"]
    public static let keys = DatasetKey.sizes(train: 2000, validation: 500) + [
        .boolean("embedded", \.embedded, default: true),
    ]

    /// Steps assumed per string for memory checks and shard costs: strings have no fixed length.
    /// Embedded strings have about 12 symbols on average (the inner grammar about 8) and 99% are
    /// shorter than 25; 40 keeps the estimates on the safe side.
    static let lengthEstimate = 40

    /// Transitions of the inner grammar: state → [(symbol, next state)]; next state -1 ends.
    static let transitions: [[(Int, Int)]] = [
        [(0, 1)],          // 0: B
        [(1, 2), (2, 3)],  // 1: T | P
        [(3, 2), (4, 4)],  // 2: S (loop) | X
        [(1, 3), (5, 5)],  // 3: T (loop) | V
        [(4, 3), (3, 6)],  // 4: X | S
        [(2, 4), (5, 6)],  // 5: P | V
        [(6, -1)],         // 6: E
    ]

    public static func shape(parameters c: DatasetConfig) -> DatasetShape {
        DatasetShape(inputs: alphabet.count, outputs: alphabet.count, loss: .binaryCrossEntropy, metric: .accuracy,
                     layout: layout)
    }

    public static func stepsPerSequence(_ c: DatasetConfig) -> StepCount { .estimate(lengthEstimate) }

    /// One string and, for each position, the set of symbols allowed next.
    static func string(embedded: Bool, rng: inout Xoshiro256) -> (symbols: [Int], next: [Set<Int>]) {
        var symbols: [Int] = [], next: [Set<Int>] = []
        var state = 0
        while state >= 0 {
            let options = transitions[state]
            let pick = options[options.count == 1 ? 0 : rng.nextInt(below: options.count)]
            symbols.append(pick.0)
            state = pick.1
            next.append(state >= 0 ? Set(transitions[state].map(\.0)) : [])
        }
        guard embedded else { return (symbols, next) }
        let branch = rng.nextInt(below: 2) == 0 ? 1 : 2  // T or P
        var s = [0, branch], n: [Set<Int>] = [[1, 2], [0]]
        s += symbols
        n += next.dropLast() + [[branch]]
        s += [branch, 6]
        n += [[6], []]
        return (s, n)
    }

    public static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let embedded = c.embedded ?? true
        let width = alphabet.count
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let (symbols, next) = string(embedded: embedded, rng: &rng)
            var t = [Double](repeating: 0, count: symbols.count * width)
            for (k, set) in next.enumerated() { for s in set { t[k * width + s] = 1 } }
            return SequenceSample(length: symbols.count, inputs: .oneHot(symbols.map(Int32.init)),
                                  targets: .values(t), mask: (0..<symbols.count).map { $0 < symbols.count - 1 })
        }
        let (train, validation) = splits(train: c.train ?? 0, validation: c.validation ?? 0, one)
        return Dataset(kind: kind, shape: shape(parameters: c), train: train, validation: validation)
    }
}
