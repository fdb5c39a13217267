import CSV
import Foundation
import RNNCore

/// One column of a results CSV: its header and how a record writes its field. A table is a list
/// of columns, so the header and every row come from one definition.
struct Column<Record> {
    let name: String
    let field: (Record) -> String
}

extension Array {
    func header<Record>() -> [String] where Element == Column<Record> { map(\.name) }
    func fields<Record>(_ r: Record) -> [String] where Element == Column<Record> { map { $0.field(r) } }
}

// MARK: - metrics.csv (per run; SPEC 6)

extension EpochRecord {
    /// The per-epoch columns: `epoch, updates, train_loss, val_loss, [metric], grad_norm, wall_s,
    /// sample_steps_per_s`.
    /// With `diagnostics`, `grad_cos, grad_rel_bias` follow (SPEC 3.1).
    /// With `windows` (random truncation), `mean_window, max_window` (SPEC 3.4).
    /// With `adaptive` (adaptive tau_max), `chosen_tau_max, rho` (SPEC 3.4).
    static func columns(metric: MetricKind, diagnostics: Bool = false, windows: Bool = false,
                        adaptive: Bool = false) -> [Column<EpochRecord>] {
        var c: [Column<EpochRecord>] = [
            Column(name: "epoch") { String($0.epoch) },
            Column(name: "updates") { String($0.updates) },
            Column(name: "train_loss") { NumberText.format($0.trainLoss) },
            Column(name: "val_loss") { NumberText.format($0.valLoss) },
        ]
        if let m = metric.columnName { c.append(Column(name: m) { NumberText.format($0.metric) }) }
        c += [
            Column(name: "grad_norm") { NumberText.format($0.gradNorm) },
            Column(name: "wall_s") { NumberText.format($0.wallSeconds) },
            Column(name: "sample_steps_per_s") { NumberText.format($0.sampleStepsPerSecond) },
        ]
        if diagnostics {
            c += [Column(name: "grad_cos") { NumberText.format($0.gradCos) },
                  Column(name: "grad_rel_bias") { NumberText.format($0.gradRelBias) }]
        }
        if windows {
            c += [Column(name: "mean_window") { NumberText.format($0.meanWindow) },
                  Column(name: "max_window") { NumberText.format($0.longestWindow) }]
        }
        if adaptive {
            c += [Column(name: "chosen_tau_max") { NumberText.format($0.chosenTauMax) },
                  Column(name: "rho") { NumberText.format($0.rho) },
                  Column(name: "estimate_s") { NumberText.format($0.estimateSeconds) }]
        }
        return c
    }

    /// Reads back a row written with `columns(metric:)` (numbers read back exactly); nil when the
    /// row is not one (a foreign or damaged file).
    init?(fields: [String], header: [String], metric: MetricKind) {
        var at: [String: String] = [:]
        for (h, f) in zip(header, fields) { at[h] = f }
        func real(_ name: String) -> Double? { at[name].flatMap { $0.isEmpty ? nil : Double($0) } }
        guard let epoch = at["epoch"].flatMap({ Int($0) }), let updates = at["updates"].flatMap({ Int($0) }),
              let trainLoss = real("train_loss"), let wall = real("wall_s") else { return nil }
        self.init(epoch: epoch, updates: updates, trainLoss: trainLoss, valLoss: real("val_loss"),
                  metric: metric.columnName.flatMap(real), gradNorm: real("grad_norm"), wallSeconds: wall,
                  sampleStepsPerSecond: real("sample_steps_per_s"), gradCos: real("grad_cos"), gradRelBias: real("grad_rel_bias"))
        meanWindow = real("mean_window")
        longestWindow = real("max_window")
        chosenTauMax = real("chosen_tau_max")
        rho = real("rho")
        estimateSeconds = real("estimate_s")
    }
}

// MARK: - One run's files, read once

/// What a run's folder holds, typed: status, epoch records, the dataset's baseline and floor, and
/// the gradient diagnostics (empty when off).
struct RunFolder {
    var status: RunStatus
    var records: [EpochRecord]
    var baselineLoss: Double?
    var floorLoss: Double?
    var gradientRows: [GradientRow] = []
    var creditRows: [CreditRow] = []
}

/// A planned run with its folder read back: one row of the summaries.
struct StoredRun {
    let run: PlannedRun
    let folder: RunFolder

    var status: RunStatus { folder.status }
    var records: [EpochRecord] { folder.records }
    var baselineLoss: Double? { folder.baselineLoss }
    var floorLoss: Double? { folder.floorLoss }
    var gradientRows: [GradientRow] { folder.gradientRows }
    var creditRows: [CreditRow] { folder.creditRows }

    /// Mean over the run's sampled updates (parameter `all`).
    var meanGradCos: Double? { mean(gradientRows.filter { $0.parameter == "all" }.compactMap(\.cos)) }
    var meanGradRelBias: Double? { mean(gradientRows.filter { $0.parameter == "all" }.compactMap(\.relBias)) }
    /// The credit horizon of the lowest recurrent layer (SPEC 3.1).
    var creditHorizon: Int? {
        guard let layer = run.config.lowestRecurrentLayer else { return nil }
        return CreditRow.horizon(creditRows, layer: layer)
    }

    private func mean(_ x: [Double]) -> Double? { x.isEmpty ? nil : x.reduce(0, +) / Double(x.count) }

    /// Adaptive tau_max (SPEC 3.4): the effective window, the mean over the trained epochs of the
    /// chosen `tau_max`, and the `tau_b` that goes with it under the run's rule (nil before an
    /// epoch, or for another truncation).
    var adaptiveWindow: (tauMax: Double, tauB: Double)? {
        guard let adaptive = run.config.adaptiveTruncation else { return nil }
        let windows = records.compactMap(\.chosenTauMax)
        guard let tauMax = mean(windows) else { return nil }
        let tauB = windows.map { adaptive.rule.tauB(forTauMax: Int($0)) }.map(Double.init).reduce(0, +) / Double(windows.count)
        return (tauMax, tauB)
    }

    /// The mean of the run's per-epoch `ρ` (adaptive tau_max).
    var meanRho: Double? { mean(records.compactMap(\.rho)) }

    /// The epoch with the lowest finite validation loss (the first of equals).
    var best: EpochRecord? {
        var best: EpochRecord? = nil
        for r in records {
            if let v = r.valLoss, v.isFinite, best == nil || v < best!.valLoss! { best = r }
        }
        return best
    }

    /// Mean training speed over the trained epochs (epoch 0 only evaluates).
    var meanSampleStepsPerSecond: Double? {
        let speeds = records.dropFirst().compactMap(\.sampleStepsPerSecond)
        return speeds.isEmpty ? nil : speeds.reduce(0, +) / Double(speeds.count)
    }
}

// MARK: - summary.csv and the experiment's metrics.csv (SPEC 6)

enum SummaryTable {
    /// `run, status`, `in_grid` (only when some row is a run outside the file's grid: whether the
    /// row is in it), every swept key, the fixed settings, then the run's outcome.
    /// With `diagnostics` (some run of the experiment records them): `mean_grad_cos,
    /// mean_grad_rel_bias, credit_horizon` at the end.
    /// `stepCounts`: each run's tau_max and tau_b in steps (`ExperimentConfig.stepCounts`); the
    /// columns hold the config's text where it gives none.
    /// Which algorithm columns an experiment's summary has: `algorithm` when some run is not
    /// `bptt` (SPEC 3.3), `rflo_decay` when some run is `rflo`; an all-bptt experiment's summary
    /// is as before.
    struct AlgorithmColumns {
        var algorithm = false
        var rfloDecay = false

        init(algorithm: Bool = false, rfloDecay: Bool = false) {
            self.algorithm = algorithm
            self.rfloDecay = rfloDecay
        }

        init(_ configs: [ExperimentConfig]) {
            algorithm = configs.contains { $0.training.algorithm != .bptt }
            rfloDecay = configs.contains { $0.training.algorithm == .rflo }
        }
    }

    /// The fixed column that shows a swept key's quantity (`training.tau_max` → `tau_max`), if any.
    static func fixedColumn(forKey key: String) -> String? {
        ["dataset.kind": "dataset", "training.algorithm": "algorithm", "training.rflo_decay": "rflo_decay",
         "training.tau_max": "tau_max", "training.tau_b": "tau_b", "training.batch": "batch",
         "training.optimizer.name": "optimizer", "training.optimizer.lr": "lr", "training.seed": "seed"][key]
    }

    /// With `algorithms`: `algorithm` (and `rflo_decay`) before `tau_max`; an online run's
    /// `tau_max` is empty (it does not truncate) and its `tau_b` the update interval.
    static func columns(sweptKeys: [String], metric: MetricKind, diagnostics: Bool = false,
                        algorithms: AlgorithmColumns = AlgorithmColumns(), adaptive: Bool = false, inGrid: ((StoredRun) -> Bool)? = nil,
                        stepCounts: @escaping (PlannedRun) -> (tauMax: Int, tauB: Int)? = { _ in nil }) -> [Column<StoredRun>] {
        var c: [Column<StoredRun>] = [Column(name: "run") { $0.run.id }, Column(name: "status") { $0.status.word }]
        if let inGrid { c.append(Column(name: "in_grid") { String(inGrid($0)) }) }
        for (i, key) in sweptKeys.enumerated() { c.append(Column(name: key) { $0.run.swept[i].text }) }
        c += [
            Column(name: "dataset") { $0.run.config.dataset.kind.rawValue },
            Column(name: "layers") { $0.run.config.layersText },
        ]
        if algorithms.algorithm { c.append(Column(name: "algorithm") { $0.run.config.training.algorithm.rawValue }) }
        if algorithms.rfloDecay {
            c.append(Column(name: "rflo_decay") { r in
                r.run.config.training.algorithm == .rflo ? NumberText.format(r.run.config.training.rfloDecay) : ""
            })
        }
        c += [
            Column(name: "tau_max") { r in
                guard r.run.config.training.algorithm == .bptt else { return "" }
                if r.run.config.training.adaptiveTruncation { return NumberText.format(r.adaptiveWindow?.tauMax) }
                return stepCounts(r.run).map { String($0.tauMax) } ?? r.run.config.tauMaxText
            },
            Column(name: "tau_b") { r in
                if case .online(_, let tauB, _, _) = r.run.config.algorithm { return String(tauB) }
                if r.run.config.training.adaptiveTruncation { return NumberText.format(r.adaptiveWindow?.tauB) }
                return stepCounts(r.run).map { String($0.tauB) } ?? r.run.config.tauBText
            },
            Column(name: "batch") { String($0.run.config.batch) },
            Column(name: "optimizer") { $0.run.config.optimizer.name.rawValue },
            Column(name: "lr") { NumberText.format($0.run.config.optimizer.lr) },
            Column(name: "seed") { String($0.run.config.seed) },
            Column(name: "epochs") { $0.records.last.map { String($0.epoch) } ?? "" },
            Column(name: "updates") { $0.records.last.map { String($0.updates) } ?? "" },
            Column(name: "final_train_loss") { $0.records.last.map { NumberText.format($0.trainLoss) } ?? "" },
            Column(name: "final_val_loss") { NumberText.format($0.records.last?.valLoss) },
            Column(name: "best_val_loss") { NumberText.format($0.best?.valLoss) },
            Column(name: "best_epoch") { $0.best.map { String($0.epoch) } ?? "" },
        ]
        if let m = metric.columnName { c.append(Column(name: "final_\(m)") { NumberText.format($0.records.last?.metric) }) }
        c += [
            Column(name: "wall_s") { $0.records.last.map { NumberText.format($0.wallSeconds) } ?? "" },
            Column(name: "sample_steps_per_s") { NumberText.format($0.meanSampleStepsPerSecond) },
            Column(name: "baseline_loss") { NumberText.format($0.baselineLoss) },
            Column(name: "floor_loss") { NumberText.format($0.floorLoss) },
        ]
        if adaptive {  // adaptive tau_max (SPEC 3.4): the last epoch's window and ρ, and their means over the epochs
            c += [Column(name: "chosen_tau_max_last") { NumberText.format($0.records.last?.chosenTauMax) },
                  Column(name: "chosen_tau_max_mean") { NumberText.format($0.adaptiveWindow?.tauMax) },
                  Column(name: "rho_last") { NumberText.format($0.records.last?.rho) },
                  Column(name: "rho_mean") { NumberText.format($0.meanRho) }]
        }
        if diagnostics {
            c += [Column(name: "mean_grad_cos") { NumberText.format($0.meanGradCos) },
                  Column(name: "mean_grad_rel_bias") { NumberText.format($0.meanGradRelBias) },
                  Column(name: "credit_horizon") { $0.creditHorizon.map(String.init) ?? "" }]
        }
        return c
    }

    /// The long table: `run, status`, the swept keys, then every per-epoch column.
    static func longColumns(sweptKeys: [String], metric: MetricKind, diagnostics: Bool = false, windows: Bool = false,
                            adaptive: Bool = false, inGrid: ((StoredRun) -> Bool)? = nil) -> [Column<(StoredRun, EpochRecord)>] {
        var c: [Column<(StoredRun, EpochRecord)>] = [Column(name: "run") { $0.0.run.id }, Column(name: "status") { $0.0.status.word }]
        if let inGrid { c.append(Column(name: "in_grid") { String(inGrid($0.0)) }) }
        for (i, key) in sweptKeys.enumerated() { c.append(Column(name: key) { $0.0.run.swept[i].text }) }
        for e in EpochRecord.columns(metric: metric, diagnostics: diagnostics, windows: windows, adaptive: adaptive) {
            c.append(Column(name: e.name) { e.field($0.1) })
        }
        return c
    }
}

// MARK: - Reading the tool's own CSV files back (report)

/// A results CSV read back: its header and rows, each field found by its column's name. The
/// tool's own files only; a damaged file reads as empty.
struct ResultsCSV {
    let header: [String]
    let rows: [[String]]
    private let index: [String: Int]

    init(path: String) {
        guard let data = FileManager.default.contents(atPath: path), let table = try? CSVTable.parse(data, file: path) else {
            header = []; rows = []; index = [:]
            return
        }
        header = table.header
        rows = table.rows
        var index: [String: Int] = [:]
        for (i, h) in header.enumerated() where index[h] == nil { index[h] = i }
        self.index = index
    }

    func field(_ row: [String], _ column: String) -> String? {
        index[column].flatMap { $0 < row.count ? row[$0] : nil }
    }
}
