import Foundation
import RNNCore

/// One row of `gradient.csv` (SPEC 3.1): a sampled update's gradient `g` against the reference
/// `g_ref`, for all parameters (`all`) and each tensor:
/// ```
/// norm = |g|    reference_norm = |g_ref|    cos = g·g_ref / (|g| |g_ref|)    rel_bias = |g - g_ref| / |g_ref|
/// ```
/// (`cos` empty when either norm is 0, `rel_bias` empty when `|g_ref|` is 0).
public struct GradientRow: Sendable, Equatable {
    public var epoch: Int
    public var update: Int
    public var step: Int
    public var parameter: String
    public var norm: Double
    public var referenceNorm: Double
    public var cos: Double?
    public var relBias: Double?

    /// The rows of one sampled update: `all`, then every tensor in layout order.
    static func rows(epoch: Int, _ d: UpdateDiagnostics, tensors: [(name: String, range: Range<Int>, shape: [Int])]) -> [GradientRow] {
        func row(_ name: String, _ c: GradientComparison) -> GradientRow {
            GradientRow(epoch: epoch, update: d.update, step: d.step, parameter: name, norm: c.norm,
                        referenceNorm: c.referenceNorm, cos: c.cos, relBias: c.relBias)
        }
        return [row("all", d.comparison())] + tensors.map { row($0.name, d.comparison(over: $0.range)) }
    }

    static var columns: [Column<GradientRow>] {
        [Column(name: "epoch") { String($0.epoch) }, Column(name: "update") { String($0.update) },
         Column(name: "step") { String($0.step) }, Column(name: "parameter") { $0.parameter },
         Column(name: "norm") { NumberText.format($0.norm) }, Column(name: "reference_norm") { NumberText.format($0.referenceNorm) },
         Column(name: "cos") { NumberText.format($0.cos) }, Column(name: "rel_bias") { NumberText.format($0.relBias) }]
    }

    init(epoch: Int, update: Int, step: Int, parameter: String, norm: Double, referenceNorm: Double, cos: Double?, relBias: Double?) {
        self.epoch = epoch; self.update = update; self.step = step; self.parameter = parameter
        self.norm = norm; self.referenceNorm = referenceNorm; self.cos = cos; self.relBias = relBias
    }

    /// Reads back a row written with `columns` (exact).
    init?(fields f: [String]) {
        guard f.count == 8, let e = Int(f[0]), let u = Int(f[1]), let s = Int(f[2]), let n = Double(f[4]), let r = Double(f[5]) else { return nil }
        self.init(epoch: e, update: u, step: s, parameter: f[3], norm: n, referenceNorm: r,
                  cos: f[6].isEmpty ? nil : Double(f[6]), relBias: f[7].isEmpty ? nil : Double(f[7]))
    }
}

/// One row of `credit.csv` (SPEC 3.1): `|∂C_t / ∂h^l_{t-k}|` averaged over the epoch's sampled
/// updates, untruncated, for the lags inside the sequence.
public struct CreditRow: Sendable, Equatable {
    public var epoch: Int
    public var layer: Int
    public var lag: Int
    public var norm: Double

    static var columns: [Column<CreditRow>] {
        [Column(name: "epoch") { String($0.epoch) }, Column(name: "layer") { String($0.layer) },
         Column(name: "lag") { String($0.lag) }, Column(name: "norm") { NumberText.format($0.norm) }]
    }

    init(epoch: Int, layer: Int, lag: Int, norm: Double) {
        self.epoch = epoch; self.layer = layer; self.lag = lag; self.norm = norm
    }

    init?(fields f: [String]) {
        guard f.count == 4, let e = Int(f[0]), let l = Int(f[1]), let k = Int(f[2]), let n = Double(f[3]) else { return nil }
        self.init(epoch: e, layer: l, lag: k, norm: n)
    }

    /// The smallest lag whose last-epoch credit at `layer` is below 1% of lag 0's (nil when none is).
    static func horizon(_ rows: [CreditRow], layer: Int) -> Int? {
        guard let last = rows.map(\.epoch).max() else { return nil }
        let profile = rows.filter { $0.epoch == last && $0.layer == layer }.sorted { $0.lag < $1.lag }
        guard let zero = profile.first(where: { $0.lag == 0 })?.norm, zero > 0 else { return nil }
        return profile.first { $0.lag > 0 && $0.norm < 0.01 * zero }?.lag
    }
}

/// Collects one run's diagnostics: gradient rows as sampled updates arrive, credit norms summed
/// per (layer, lag) over the epoch, and the epoch's means for `metrics.csv`.
final class DiagnosticsRecorder {
    let tensors: [(name: String, range: Range<Int>, shape: [Int])]
    private(set) var gradientRows: [GradientRow] = []
    private(set) var creditRows: [CreditRow] = []
    private var creditSum: [[Double]] = []
    private var creditCount: [[Int]] = []
    private var epochCos: [Double] = [], epochBias: [Double] = []

    init(spec: NetworkSpec) {
        tensors = ParameterLayout(spec).namedTensors(spec)
    }

    /// Records a sampled update: its gradient rows when `gradient_every` asked for them (credit
    /// alone samples every update, and writes no gradient rows), and its credit profile.
    func record(epoch: Int, _ d: UpdateDiagnostics, gradients: Bool) {
        let credit = d.credit
        guard gradients else { return accumulate(credit) }
        let rows = GradientRow.rows(epoch: epoch, d, tensors: tensors)
        gradientRows += rows
        if let all = rows.first {
            if let c = all.cos { epochCos.append(c) }
            if let b = all.relBias { epochBias.append(b) }
        }
        accumulate(credit)
    }

    private func accumulate(_ credit: [[Double]]?) {
        guard let credit else { return }
        if creditSum.isEmpty {
            creditSum = credit.map { [Double](repeating: 0, count: $0.count) }
            creditCount = credit.map { [Int](repeating: 0, count: $0.count) }
        }
        for (l, lags) in credit.enumerated() where l < creditSum.count {
            for (k, v) in lags.enumerated() where k < creditSum[l].count && v.isFinite {
                creditSum[l][k] += v
                creditCount[l][k] += 1
            }
        }
    }

    /// Closes an epoch: its credit means become rows; returns (grad_cos, grad_rel_bias) means.
    func endEpoch(_ epoch: Int) -> (cos: Double?, relBias: Double?) {
        for (l, lags) in creditSum.enumerated() {
            for (k, sum) in lags.enumerated() where creditCount[l][k] > 0 {
                creditRows.append(CreditRow(epoch: epoch, layer: l, lag: k, norm: sum / Double(creditCount[l][k])))
            }
        }
        creditSum = creditSum.map { [Double](repeating: 0, count: $0.count) }
        creditCount = creditCount.map { [Int](repeating: 0, count: $0.count) }
        func mean(_ x: [Double]) -> Double? { x.isEmpty ? nil : x.reduce(0, +) / Double(x.count) }
        defer { epochCos = []; epochBias = [] }
        return (mean(epochCos), mean(epochBias))
    }

    /// Everything needed to continue exactly (checkpoints): the rows so far and the epoch in
    /// progress's credit sums. The epoch's cos and rel_bias lists are the rows of that epoch.
    var state: DiagnosticsState {
        DiagnosticsState(gradientRows: gradientRows, creditRows: creditRows, creditSum: creditSum, creditCount: creditCount)
    }

    func restore(_ s: DiagnosticsState, epochInProgress epoch: Int) {
        gradientRows = s.gradientRows
        creditRows = s.creditRows
        creditSum = s.creditSum
        creditCount = s.creditCount
        let current = gradientRows.filter { $0.epoch == epoch && $0.parameter == "all" }
        epochCos = current.compactMap(\.cos)
        epochBias = current.compactMap(\.relBias)
    }
}

/// A run's diagnostics so far, as a checkpoint keeps them.
public struct DiagnosticsState: Sendable, Equatable {
    public var gradientRows: [GradientRow] = []
    public var creditRows: [CreditRow] = []
    var creditSum: [[Double]] = []
    var creditCount: [[Int]] = []

    /// `layer,lag,sum-bits-hex,count` per entry, `;`-separated (exact).
    var partialText: String {
        var items: [String] = []
        for (l, lags) in creditSum.enumerated() {
            for (k, v) in lags.enumerated() { items.append("\(l),\(k),\(String(v.bitPattern, radix: 16)),\(creditCount[l][k])") }
        }
        return items.joined(separator: ";")
    }

    static func partial(_ text: String) -> (sum: [[Double]], count: [[Int]])? {
        var sum: [[Double]] = [], count: [[Int]] = []
        for item in text.split(separator: ";") {
            let f = item.split(separator: ",")
            guard f.count == 4, let l = Int(f[0]), let k = Int(f[1]), let bits = UInt64(f[2], radix: 16), let n = Int(f[3]),
                  l >= 0, k >= 0, l == sum.count - 1 || l == sum.count, l < 1_000, k < 10_000_000 else { return nil }
            if l == sum.count { sum.append([]); count.append([]) }
            guard k == sum[l].count else { return nil }
            sum[l].append(Double(bitPattern: bits))
            count[l].append(n)
        }
        return (sum, count)
    }
}
