import Foundation
import RNNCore

/// Data generation draws from `Xoshiro256(seed, stream: 2)`, the training split first and then the
/// validation split: every generator is a pure function of the seed and its parameters.
func dataGenerator(_ seed: UInt64) -> Xoshiro256 { Xoshiro256(seed: seed, stream: 2) }

/// The training split (`train` samples) then the validation split (`validation`), drawn in that
/// order from `one`.
func splits(_ c: DatasetConfig, _ one: () -> SequenceSample) -> (train: [SequenceSample], validation: [SequenceSample]) {
    let train = (0..<c.train!).map { _ in one() }
    return (train, (0..<c.validation!).map { _ in one() })
}

/// `count-ones`: the seed's training set. Binary inputs (0/1) of `length` steps; the target, at the
/// last step only, is the number of ones. With one identity `rnn` unit, `SW = TW = 1`, `b = 0`
/// solves it exactly. Baseline: predicting the mean `length/2` costs `length/4` (MSE).
enum CountOnes {
    static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let length = c.length!
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let x = (0..<length).map { _ in Double(rng.nextInt(below: 2)) }
            var t = [Double](repeating: 0, count: length)
            t[length - 1] = x.reduce(0, +)
            return SequenceSample(length: length, inputs: .dense(x), targets: .values(t),
                                  mask: (0..<length).map { $0 == length - 1 })
        }
        let (train, validation) = splits(c, one)
        return Dataset(kind: .countOnes, layout: .sequences, inputSize: 1, outputSize: 1, defaultLoss: .mse,
                       metric: .none, train: train, validation: validation,
                       baseline: (Double(length) / 4, "predict length/2"))
    }
}

/// `binary-addition`: two `bits`-bit numbers fed least significant bit first (2 inputs), one extra
/// step for the carry; the target at every step is that bit of the sum. Binary cross-entropy,
/// metric: sequence accuracy (every bit right).
enum BinaryAddition {
    static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let bits = c.bits!
        let steps = bits + 1
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let a = rng.nextInt(below: 1 << bits), b = rng.nextInt(below: 1 << bits)
            let sum = a + b
            var x: [Double] = [], t: [Double] = []
            for k in 0..<steps {
                x.append(Double((a >> k) & 1))
                x.append(Double((b >> k) & 1))
                t.append(Double((sum >> k) & 1))
            }
            return SequenceSample(length: steps, inputs: .dense(x), targets: .values(t),
                                  mask: [Bool](repeating: true, count: steps))
        }
        let (train, validation) = splits(c, one)
        return Dataset(kind: .binaryAddition, layout: .sequences, inputSize: 2, outputSize: 1,
                       defaultLoss: .binaryCrossEntropy, metric: .sequenceAccuracy, train: train,
                       validation: validation, baseline: (Foundation.log(2.0), "predict 0.5 for every bit"))
    }
}

/// `adding` (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015): `length` steps of
/// (value ~ U[0,1], marker); one marker in the first half, one in the second; the target at the last
/// step is the sum of the two marked values. Baseline: predicting 1 costs Var = 1/6 ≈ 0.167 (MSE).
enum AddingProblem {
    static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let length = max(c.length!, 2)
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            var x = [Double](repeating: 0, count: 2 * length)
            for n in 0..<length { x[2 * n] = rng.nextUnit() }
            let half = length / 2
            let first = rng.nextInt(below: half), second = half + rng.nextInt(below: length - half)
            x[2 * first + 1] = 1
            x[2 * second + 1] = 1
            var t = [Double](repeating: 0, count: length)
            t[length - 1] = x[2 * first] + x[2 * second]
            return SequenceSample(length: length, inputs: .dense(x), targets: .values(t),
                                  mask: (0..<length).map { $0 == length - 1 })
        }
        let (train, validation) = splits(c, one)
        return Dataset(kind: .adding, layout: .sequences, inputSize: 2, outputSize: 1, defaultLoss: .mse,
                       metric: .none, train: train, validation: validation,
                       baseline: (1.0 / 6.0, "predict 1 (constant)"))
    }
}

/// `copy` (copy-memory task): `length` symbols from `symbols` classes, then `delay` blanks, then a
/// go marker, then `length` blanks during which the symbols must be reproduced in order. Inputs are
/// one-hot over `symbols + 2` (the symbols, blank, go); targets exist only at the recall steps.
/// Each symbol is recalled `length + delay + 1` steps after it was shown. Cross-entropy, metric:
/// accuracy on recall steps. Baseline: a memoryless guess, `ln(symbols)`.
enum CopyMemory {
    static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        let symbols = c.symbols!, length = c.length!, delay = c.delay!
        let blank = Int32(symbols), go = Int32(symbols + 1)
        let steps = length + delay + 1 + length
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let shown = (0..<length).map { _ in Int32(rng.nextInt(below: symbols)) }
            var x = [Int32](repeating: blank, count: steps)
            var t = [Int32](repeating: 0, count: steps)
            var mask = [Bool](repeating: false, count: steps)
            for k in 0..<length { x[k] = shown[k] }
            x[length + delay] = go
            for k in 0..<length {
                t[length + delay + 1 + k] = shown[k]
                mask[length + delay + 1 + k] = true
            }
            return SequenceSample(length: steps, inputs: .oneHot(x), targets: .classes(t), mask: mask)
        }
        let (train, validation) = splits(c, one)
        return Dataset(kind: .copy, layout: .sequences, inputSize: symbols + 2, outputSize: symbols,
                       defaultLoss: .crossEntropy, metric: .accuracy, train: train, validation: validation,
                       baseline: (Foundation.log(Double(symbols)), "memoryless guess, ln(symbols)"))
    }
}

/// `reber`: embedded Reber grammar strings (Hochreiter & Schmidhuber 1997). Inputs are one-hot
/// over the 7 symbols `BTPSXVE`; the target at every step but the last is the set of symbols that
/// may come next (multi-hot). Binary cross-entropy, metric: accuracy (all 7 outputs right at 0.5).
/// The embedded form must remember the second symbol until the second to last one.
public enum EmbeddedReber {
    public static let alphabet: [Character] = ["B", "T", "P", "S", "X", "V", "E"]
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

    static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        var rng = dataGenerator(seed)
        func one() -> SequenceSample {
            let (symbols, next) = string(embedded: c.embedded!, rng: &rng)
            var t = [Double](repeating: 0, count: symbols.count * 7)
            for (k, set) in next.enumerated() { for s in set { t[k * 7 + s] = 1 } }
            return SequenceSample(length: symbols.count, inputs: .oneHot(symbols.map(Int32.init)),
                                  targets: .values(t), mask: (0..<symbols.count).map { $0 < symbols.count - 1 })
        }
        let (train, validation) = splits(c, one)
        return Dataset(kind: .reber, layout: .sequences, inputSize: 7, outputSize: 7,
                       defaultLoss: .binaryCrossEntropy, metric: .accuracy, train: train, validation: validation)
    }
}

/// `sine` (stream): next-step prediction of `x_t = (1/W) Σ_k a_k sin(2π f_k t + φ_k) + noise`, with
/// `W = waves` components, `a_k ~ U[0.5, 1]`, `f_k ~ U[0.01, 0.1]` cycles per step, `φ_k ~ U[0, 2π)`,
/// Gaussian noise of standard deviation `noise`. Input `x_t`, target `x_{t+1}`; validation continues
/// the series. Baseline: predicting `x_{t+1} = x_t` (its MSE on the validation split).
enum SineStream {
    static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        var rng = dataGenerator(seed)
        let waves = max(c.waves!, 1)
        let comps = (0..<waves).map { _ in (rng.uniform(0.5, 1), rng.uniform(0.01, 0.1), rng.uniform(0, 2 * Double.pi)) }
        let total = c.train! + c.validation! + 2
        let series = (0..<total).map { t -> Double in
            var v = 0.0
            for (a, f, phi) in comps { v += a * Foundation.sin(2 * Double.pi * f * Double(t) + phi) }
            return v / Double(waves) + c.noise! * rng.nextNormal()
        }
        func stream(_ from: Int, _ count: Int) -> [SequenceSample] {
            guard count > 0 else { return [] }
            return [SequenceSample(length: count, inputs: .dense(Array(series[from..<(from + count)])),
                                   targets: .values(Array(series[(from + 1)...(from + count)])),
                                   mask: [Bool](repeating: true, count: count))]
        }
        let v0 = c.train! + 1
        var persistence = 0.0
        for t in v0..<(v0 + c.validation!) { persistence += (series[t + 1] - series[t]) * (series[t + 1] - series[t]) }
        return Dataset(kind: .sine, layout: .stream, inputSize: 1, outputSize: 1, defaultLoss: .mse, metric: .none,
                       train: stream(0, c.train!), validation: stream(v0, c.validation!),
                       baseline: (persistence / Double(max(c.validation!, 1)), "predict x_{t+1} = x_t"))
    }
}

/// `random` (stream, for benchmarks): N(0, 1) inputs of size `inputs`, uniform class targets over
/// `classes`. Cross-entropy; baseline `ln(classes)`.
enum RandomStream {
    static func make(_ config: DatasetConfig, seed: UInt64) -> Dataset {
        let c = config.resolved()
        var rng = dataGenerator(seed)
        let i = c.inputs!, k = c.classes!
        func stream(_ count: Int) -> [SequenceSample] {
            guard count > 0 else { return [] }
            let x = (0..<(count * i)).map { _ in rng.nextNormal() }
            let t = (0..<count).map { _ in Int32(rng.nextInt(below: k)) }
            return [SequenceSample(length: count, inputs: .dense(x), targets: .classes(t),
                                   mask: [Bool](repeating: true, count: count))]
        }
        let train = stream(c.train!)
        let validation = stream(c.validation!)
        return Dataset(kind: .random, layout: .stream, inputSize: i, outputSize: k, defaultLoss: .crossEntropy,
                       metric: .none, train: train, validation: validation,
                       baseline: (Foundation.log(Double(k)), "uniform guess, ln(classes)"))
    }
}
