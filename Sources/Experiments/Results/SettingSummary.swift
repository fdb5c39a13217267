import CSV
import Foundation
import RNNCore

/// `summary-by-setting.csv` (SPEC 6): one row per setting — the swept values of every key except
/// the seeds (`SweepGrid.isSeedKey`) — in grid order, with `runs` (planned), `done`, and for
/// every numeric result column (`measures`) over the setting's `done` runs with a finite value
/// (`_n` of them):
/// ```
/// mean = Σx / n     sd = sqrt(Σ(x - mean)² / (n - 1))     ci95 = t_{0.975, n-1} · sd / sqrt(n)
/// ```
/// (`sd` and `ci95` empty below 2 runs).
enum SettingSummary {
    static let statistics = ["mean", "sd", "min", "max", "ci95"]

    /// `keys`: the summary's key columns; `runs`: its rows, their `swept` aligned to `keys`.
    /// `diagnostics`: some run records gradient diagnostics (their three columns get statistics too).
    static func csv(keys: [String], runs: [PlannedRun], records: [String: StoredRun], metric: MetricKind,
                    diagnostics: Bool = false) -> String {
        let settingKeys = keys.enumerated().filter { !SweepGrid.isSeedKey($0.element) }
        let measures = Self.measures(metric: metric, diagnostics: diagnostics)
        var header = settingKeys.map(\.element) + ["runs", "done"]
        for m in measures { header += (statistics + ["n"]).map { "\(m.name)_\($0)" } }
        var w = CSVWriter(header: header)

        var order: [[String]] = []
        var groups: [[String]: [PlannedRun]] = [:]
        for run in runs {
            let setting = settingKeys.map { run.swept[$0.offset].text }
            if groups[setting] == nil { order.append(setting) }
            groups[setting, default: []].append(run)
        }
        for setting in order {
            let runs = groups[setting] ?? []
            let done = runs.compactMap { records[$0.id] }.filter { $0.status == .done }
            var fields = setting + [String(runs.count), String(done.count)]
            for m in measures {
                let values = done.compactMap(m.value).filter(\.isFinite)
                fields += describe(values) + [String(values.count)]
            }
            w.append(fields)
        }
        return w.text
    }

    /// Every numeric result column of summary.csv (issue 29, bug 6), read as summary.csv writes it:
    /// the losses, the dataset's metric, the best epoch, time and speed, and with diagnostics
    /// `mean_grad_cos`, `mean_grad_rel_bias`, `credit_horizon`.
    static func measures(metric: MetricKind, diagnostics: Bool) -> [(name: String, value: (StoredRun) -> Double?)] {
        var m: [(name: String, value: (StoredRun) -> Double?)] =
            [("final_val_loss", { $0.records.last?.valLoss }), ("best_val_loss", { $0.best?.valLoss })]
        if let name = metric.columnName { m.append(("final_\(name)", { $0.records.last?.metric })) }
        m += [("final_train_loss", { $0.records.last?.trainLoss }), ("best_epoch", { $0.best.map { Double($0.epoch) } }),
              ("wall_s", { $0.records.last?.wallSeconds }), ("sample_steps_per_s", { $0.meanSampleStepsPerSecond })]
        if diagnostics {
            m += [("mean_grad_cos", { $0.meanGradCos }), ("mean_grad_rel_bias", { $0.meanGradRelBias }),
                  ("credit_horizon", { $0.creditHorizon.map(Double.init) })]
        }
        return m
    }

    /// mean, sd, min, max, ci95 as text (empty where undefined).
    static func describe(_ x: [Double]) -> [String] {
        guard !x.isEmpty else { return Array(repeating: "", count: statistics.count) }
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        var sd: Double? = nil, ci: Double? = nil
        if x.count >= 2 {
            let s = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot()
            sd = s
            ci = studentT975(degreesOfFreedom: x.count - 1) * s / n.squareRoot()
        }
        return [NumberText.format(mean), NumberText.format(sd), NumberText.format(x.min()), NumberText.format(x.max()),
                NumberText.format(ci)]
    }

    /// The 97.5% quantile of Student's t with `df` degrees of freedom (two-sided 95%): exact table
    /// values to 30, then the Cornish–Fisher expansion around the normal quantile (error < 1e-5).
    static func studentT975(degreesOfFreedom df: Int) -> Double {
        let table: [Double] = [12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
                               2.364624252, 2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
                               2.160368656, 2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
                               2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
                               2.059538553, 2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456]
        if df >= 1 && df <= table.count { return table[df - 1] }
        let z = 1.959963984540054, v = Double(max(df, 1))
        let z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z
        return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v)
            + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v)
    }
}
