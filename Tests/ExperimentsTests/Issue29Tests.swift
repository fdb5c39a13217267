import Foundation
import RNNTestSupport
import Testing
@testable import Experiments

/// Issue 29: comparing credit-assignment algorithms (the Experiments layer and the CLI).
@Suite("Issue 29", .serialized)
struct Issue29Tests {
    static let grown = """
        name: grown
        dataset: {kind: adding, length: 4, train: 8, validation: 4}
        model: {layers: [{type: rnn, units: 3}, {type: dense, activation: identity}]}
        training: {epochs: 1, batch: 4, tau_max: 2}
        sweep:
          training.tau_max: [2, 3]
          training.seed: [1, 2]

        """

    /// Bug 1: a sweep grown by `--set` (new values, more epochs) keeps every finished run in the
    /// summaries that a plain `summarize` of the file writes; the keys that vary are columns.
    @Test func everyFinishedRunIsASummaryRow() throws {
        let dir = scratchDirectory("allruns")
        writeFile("\(dir)/g.yaml", Self.grown)
        let results = "\(dir)/r"
        for extra in [[], ["--set", "sweep.training.tau_max=[2, 3, 4]"], ["--set", "training.epochs=2"]] {
            let r = try rnnExp(["run", "\(dir)/g.yaml", "--results", results, "--quiet", "--jobs", "1"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let folders = try FileManager.default.contentsOfDirectory(atPath: "\(results)/grown/runs").filter { !$0.hasPrefix(".") }.sorted()
        #expect(folders.count == 10, "\(folders)")
        let s = try rnnExp(["summarize", "\(dir)/g.yaml", "--results", results])
        #expect(s.status == 0, "\(s.stderr)")
        let summary = parseCSV(readFile("\(results)/grown/summary.csv") ?? "")
        #expect(column(summary, "run").sorted() == folders)
        #expect(summary.header.starts(with: ["run", "status", "in_grid", "training.epochs"]),
                "\(summary.header)")
        let rows = Dictionary(uniqueKeysWithValues: summary.rows.map { row in
            (row[0], Dictionary(uniqueKeysWithValues: zip(summary.header, row).map { ($0, $1) }))
        })
        #expect(rows.values.filter { $0["in_grid"] == "true" }.count == 4)
        #expect(rows.values.filter { $0["tau_max"] == "4" }.count == 2)
        #expect(rows.values.filter { $0["training.epochs"] == "2" }.count == 4)
        #expect(rows.values.allSatisfy { $0["status"] == "done" })
        // The long table has every run's epochs.
        let long = parseCSV(readFile("\(results)/grown/metrics.csv") ?? "")
        #expect(Set(column(long, "run")) == Set(folders))
        #expect(long.rows.count == 6 * 2 + 4 * 3)
        // summary-by-setting.csv over the same rows: a setting per (tau_max, epochs) with its 2 seeds.
        let bySetting = parseCSV(readFile("\(results)/grown/summary-by-setting.csv") ?? "")
        #expect(bySetting.header.prefix(4) == ["training.tau_max", "training.epochs", "runs", "done"], "\(bySetting.header)")
        let settings = bySetting.rows.map { "\($0[0])/\($0[1])/\($0[2])/\($0[3])" }.sorted()
        #expect(settings == ["2/1/2/2", "2/2/2/2", "3/1/2/2", "3/2/2/2", "4/1/2/2"], "\(settings)")
        // The report draws the varying key as a setting: a learning curve per (tau_max, epochs).
        let record = ExperimentRecord.decode(FileManager.default.contents(atPath: "\(results)/grown/experiment.json") ?? Data())
        #expect(record?.sweptKeys == ["training.tau_max", "training.seed", "training.epochs"])
        #expect(record?.sweepValues["training.tau_max"] == ["2", "3", "4"])
        let html = readFile("\(results)/grown/report.html") ?? ""
        #expect(html.contains("tau_max=4, epochs=1") && html.contains("tau_max=2, epochs=2"), "learning curves per setting")
    }

    /// Bug 2: every run's saved `config.yaml` is a valid experiment file that reproduces the run:
    /// for every example and every algorithm, each grid point's file plans to the same run id, and
    /// re-running one point's file trains bit-identical final weights. (Smaller data and models
    /// and one epoch, for speed; an algorithm the example's model does not take is left out, but
    /// every algorithm is covered.)
    @Test func savedConfigsAreExperimentFilesThatReproduceTheirRuns() throws {
        let dir = scratchDirectory("saved-config")
        try FileManager.default.copyItem(atPath: "\(repositoryRoot)/experiments", toPath: "\(dir)/experiments")
        let examples = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/experiments").filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(examples.count >= 8)
        var covered: [String: Int] = [:]
        for example in examples {
            let file = "\(dir)/experiments/\(example)"
            let stream = example.hasPrefix("echo") || example.hasPrefix("online") || example.hasPrefix("text") || example.hasPrefix("adaptive")
            let smaller = ["training.epochs=1"] + (example.hasPrefix("count-ones") ? [] : ["model.layers.0.units=6"])
                + (stream ? ["dataset.train=600", "dataset.validation=200"] : ["dataset.train=24", "dataset.validation=8"])
            for algorithm in ["bptt", "rtrl", "snap1", "uoro", "rflo"] {
                let overrides = smaller + ["sweep.training.algorithm=[\(algorithm)]"]
                let plan: ExperimentPlan
                switch Planner.plan(files: [file], overrides: overrides) {
                case .success(let p): plan = p[0]
                case .failure(let e):
                    // rflo on gated layers: not this example's algorithm.
                    #expect(algorithm != "bptt" && e.errors.allSatisfy { $0.keyPath == "training.algorithm" }, "\(example) \(algorithm): \(e)")
                    continue
                }
                covered[algorithm, default: 0] += 1
                let store = ResultsStore(root: "\(dir)/r1-\(algorithm)")
                for (i, run) in plan.runs.enumerated() {
                    try store.begin(plan.name, run)
                    let saved = readFile("\(store.runDirectory(plan.name, run.id))/config.yaml") ?? ""
                    let copy = "\(dir)/experiments/saved-\(i).yaml"
                    writeFile(copy, saved)
                    switch Planner.plan(files: [copy]) {
                    case .success(let p):
                        #expect(p[0].runs.map(\.id) == [run.id], "\(example) \(algorithm)")
                        #expect(p[0].name == plan.name)
                    case .failure(let e):
                        Issue.record("\(example) \(algorithm) \(run.id): its config.yaml does not validate: \(e)")
                    }
                    guard i == 0 else { continue }
                    let v = try rnnExp(["validate", copy])
                    #expect(v.status == 0, "\(example) \(algorithm): \(v.stderr)")
                    // Train this point, then its saved file, and compare the final weights.
                    let only = run.swept.filter { !$0.text.isEmpty }.map { "\($0.key)=\($0.text)" }
                    let one = try Planner.plan(files: [file], overrides: overrides, only: only).get()
                    #expect(one[0].runs.map(\.id) == [run.id])
                    #expect(Runner(plans: one, store: store, options: .init(jobs: 1)).run().allDone)
                    let again = try Planner.plan(files: [copy]).get()
                    let store2 = ResultsStore(root: "\(dir)/r2-\(algorithm)")
                    #expect(Runner(plans: again, store: store2, options: .init(jobs: 1)).run().allDone)
                    let a = FileManager.default.contents(atPath: "\(store.runDirectory(plan.name, run.id))/final.safetensors")
                    let b = FileManager.default.contents(atPath: "\(store2.runDirectory(plan.name, run.id))/final.safetensors")
                    #expect(a != nil && a == b, "\(example) \(algorithm): the saved config trains other weights")
                }
            }
        }
        #expect(covered["bptt"] == examples.count)
        for algorithm in ["rtrl", "snap1", "uoro", "rflo"] { #expect((covered[algorithm] ?? 0) >= 3, "\(algorithm): \(covered)") }
    }

    static let echoComparison = """
        name: cmp
        dataset: {kind: echo, lags: [2, 4], train: 400, validation: 100}
        model: {layers: [{type: rnn, units: 4}, {type: dense}]}
        training: {epochs: 1, batch: 4}
        sweep:
          training.algorithm: [bptt, rtrl]
          training.tau_max: [2, 5]
          training.seed: [1, 2]

        """

    /// Bug 3: a bad `--only` or `--set` value is the only error reported; the document alone (no
    /// grid point: an echo stream without tau_max) adds no false one at the dataset line.
    @Test(arguments: [["--only", "foo=1"], ["--only", "algorithm=rtlr"], ["--set", "training.tau_max=7"]])
    func aBadSelectionIsTheOnlyError(_ arguments: [String]) throws {
        let dir = scratchDirectory("bad-only")
        writeFile("\(dir)/cmp.yaml", Self.echoComparison)
        let r = try rnnExp(["plan", "\(dir)/cmp.yaml"] + arguments)
        #expect(r.status == 2)
        let errors = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("warning") && $0.contains(": ") && !$0.hasPrefix("1 error") }
        #expect(errors.count == 1, "\(r.stderr)")
        #expect(errors.first?.hasPrefix("\(arguments[0]) \(arguments[1])") == true, "\(r.stderr)")
        #expect(r.stderr.contains("1 error;"), "\(r.stderr)")
        #expect(!r.stderr.contains("stream"), "\(r.stderr)")
    }

    /// Bug 10: `plan`'s header counts the grid's runs by what happens to them: done, to train
    /// (from scratch), resume (a checkpoint), continue (a finished run with fewer epochs).
    @Test func planCountsDoneAndToTrain() throws {
        let dir = scratchDirectory("plan-counts")
        writeFile("\(dir)/g.yaml", Self.grown)
        let results = "\(dir)/r"
        let before = try rnnExp(["plan", "\(dir)/g.yaml", "--results", results])
        #expect(before.stdout.contains("; 4 runs: 0 done, 4 to train, 0 resume, 0 continue; 0 skipped"), "\(before.stdout)")
        #expect(try rnnExp(["run", "\(dir)/g.yaml", "--results", results, "--quiet", "--jobs", "1"]).status == 0)
        let after = try rnnExp(["plan", "\(dir)/g.yaml", "--results", results])
        #expect(after.stdout.contains("; 4 runs: 4 done, 0 to train, 0 resume, 0 continue; 0 skipped"), "\(after.stdout)")
        let longer = try rnnExp(["plan", "\(dir)/g.yaml", "--results", results, "--set", "training.epochs=3", "--only", "seed=1"])
        #expect(longer.stdout.contains("; 4 runs: 0 done, 0 to train, 0 resume, 4 continue; 0 skipped"), "\(longer.stdout)")
    }

    /// Bug 14: one summary column per quantity. A swept key whose fixed column (SPEC 6: tau_max,
    /// seed, …; algorithm) shows the same text for every run is not repeated; one whose text
    /// differs somewhere (`full` → the 4 steps of the sequence) keeps its column beside it.
    @Test func summaryHasOneColumnPerQuantity() throws {
        let dir = scratchDirectory("one-column")
        let file = """
            name: cols
            dataset: {kind: adding, length: 4, train: 8, validation: 4}
            model: {layers: [{type: rnn, units: 3}, {type: dense, activation: identity}]}
            training: {epochs: 1, batch: 4}
            sweep:
              training.algorithm: [bptt, rtrl]
              training.tau_max: [2, 3]
              training.seed: [1, 2]

            """
        writeFile("\(dir)/c.yaml", file)
        writeFile("\(dir)/f.yaml", file.replacingOccurrences(of: "name: cols", with: "name: colsfull").replacingOccurrences(of: "[2, 3]", with: "[2, full]"))
        for name in ["c", "f"] {
            let r = try rnnExp(["run", "\(dir)/\(name).yaml", "--results", "\(dir)/r", "--quiet", "--jobs", "1"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let fixed = ["dataset", "layers", "tau_max", "tau_b", "batch", "optimizer", "lr", "seed"]
        let plain = parseCSV(readFile("\(dir)/r/cols/summary.csv") ?? "")
        #expect(Set(plain.header).count == plain.header.count)
        #expect(fixed.allSatisfy(plain.header.contains), "\(plain.header)")
        for duplicate in ["training.algorithm", "training.tau_max", "training.seed"] {
            #expect(!plain.header.contains(duplicate), "\(plain.header)")
        }
        #expect(column(plain, "algorithm") == ["bptt", "bptt", "bptt", "bptt", "rtrl", "rtrl"])
        #expect(column(plain, "tau_max") == ["2", "2", "3", "3", "", ""])
        #expect(column(plain, "seed") == ["1", "2", "1", "2", "1", "2"])
        let full = parseCSV(readFile("\(dir)/r/colsfull/summary.csv") ?? "")
        #expect(fixed.allSatisfy(full.header.contains), "\(full.header)")
        #expect(!full.header.contains("training.algorithm") && !full.header.contains("training.seed"), "\(full.header)")
        #expect(column(full, "training.tau_max") == ["2", "2", "full", "full", "", ""])
        #expect(column(full, "tau_max") == ["2", "2", "4", "4", "", ""])
        // The header comes from the runs' settings: the same before any run has finished.
        let plan = try Planner.plan(files: ["\(dir)/f.yaml"]).get()[0]
        try ResultsStore(root: "\(dir)/empty").writeSummaries(plan, explainGrids: [])
        #expect(parseCSV(readFile("\(dir)/empty/colsfull/summary.csv") ?? "").header == full.header)
        // Runs outside the grid (more epochs) keep one column per quantity: a bptt run's
        // algorithm, which its config.yaml leaves out at the default, is still `bptt`.
        let more = try rnnExp(["run", "\(dir)/c.yaml", "--results", "\(dir)/r", "--quiet", "--jobs", "1", "--set", "training.epochs=2"])
        #expect(more.status == 0, "\(more.stderr)")
        let grown = parseCSV(readFile("\(dir)/r/cols/summary.csv") ?? "")
        #expect(grown.rows.count == 12 && !grown.header.contains("training.algorithm") && !grown.header.contains("training.seed"), "\(grown.header)")
        // The report still reads the swept keys (its settings and curves) from the merged columns.
        let html = readFile("\(dir)/r/cols/report.html") ?? ""
        #expect(html.contains("algorithm=rtrl") && html.contains("tau_max=3"))
    }

    /// Bug 6: summary-by-setting.csv (and the report's settings table) give mean, sd and n over
    /// seeds for every numeric result column, gradient diagnostics and speed included, computed
    /// here from summary.csv.
    @Test func everyResultColumnHasSeedStatistics() throws {
        let dir = scratchDirectory("seed-stats")
        writeFile("\(dir)/s.yaml", """
            name: stats
            dataset: {kind: binary-addition, bits: 4, train: 16, validation: 8}
            model: {layers: [{type: rnn, units: 4}, {type: dense, activation: sigmoid}]}
            training: {epochs: 2, batch: 4, optimizer: {name: adam, lr: 0.05}}
            diagnostics: {gradient_every: 1, credit_lags: 3}
            sweep:
              training.tau_max: [2, full]
              training.seed: [1, 2, 3]

            """)
        let r = try rnnExp(["run", "\(dir)/s.yaml", "--results", "\(dir)/r", "--quiet", "--jobs", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = parseCSV(readFile("\(dir)/r/stats/summary.csv") ?? "")
        let bySetting = parseCSV(readFile("\(dir)/r/stats/summary-by-setting.csv") ?? "")
        let measures = ["final_train_loss", "final_val_loss", "best_val_loss", "final_val_accuracy", "wall_s",
                        "sample_steps_per_s", "mean_grad_cos", "mean_grad_rel_bias", "credit_horizon"]
        for m in measures {
            for stat in ["mean", "sd", "n"] { #expect(bySetting.header.contains("\(m)_\(stat)"), "\(m)_\(stat): \(bySetting.header)") }
        }
        for (row, setting) in zip(bySetting.rows, ["2", "full"]) {
            let mine = summary.rows.filter { $0[summary.header.firstIndex(of: "training.tau_max")!] == setting }
            #expect(mine.count == 3)
            for m in measures {
                let x = mine.compactMap { Double($0[summary.header.firstIndex(of: m)!]) }.filter(\.isFinite)
                guard let i = bySetting.header.firstIndex(of: "\(m)_mean") else { continue }
                // The credit horizon is empty where no lag up to credit_lags falls below 1%.
                #expect(row[bySetting.header.firstIndex(of: "\(m)_n")!] == String(x.count), "\(m)")
                guard m != "credit_horizon" || x.count >= 2 else { continue }
                let mean = x.reduce(0, +) / Double(x.count)
                let sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count - 1)).squareRoot()
                #expect(x.count == 3, "\(m)")
                #expect(abs((Double(row[i]) ?? .nan) - mean) <= 1e-12 * max(1, abs(mean)), "\(m)")
                #expect(abs((Double(row[i + 1]) ?? .nan) - sd) <= 1e-9 * max(1, sd), "\(m)")
            }
        }
        let html = readFile("\(dir)/r/stats/report.html") ?? ""
        let settingsTable = html.components(separatedBy: "<h2>Settings</h2>").last ?? ""
        #expect(settingsTable.contains("<th>mean_grad_cos</th>") && settingsTable.contains("<th>sample_steps_per_s</th>"))
    }

    /// Bug 13: every command that takes experiment files takes `--only` with run's meaning: the
    /// selected grid points (the first of them for the commands that look at one), and a bad
    /// selection is a located error (exit 2).
    @Test func everyFileCommandTakesOnly() throws {
        let dir = scratchDirectory("only-everywhere")
        writeFile("\(dir)/g.yaml", Self.grown)
        let file = "\(dir)/g.yaml"
        let only = ["--only", "tau_max=3", "--only", "seed=2"]
        let selected = "tau_max=3,seed=2-"
        let validate = try rnnExp(["validate", file] + only)
        #expect(validate.status == 0 && validate.stdout.contains("ok, 1 run"), "\(validate.stdout)\(validate.stderr)")
        let explain = try rnnExp(["explain", file] + only)
        #expect(explain.status == 0 && explain.stdout.hasPrefix(selected), "\(explain.stdout)\(explain.stderr)")
        let gradcheck = try rnnExp(["gradcheck", file] + only)
        #expect(gradcheck.status == 0 && gradcheck.stdout.hasPrefix(selected), "\(gradcheck.stdout)\(gradcheck.stderr)")
        let export = try rnnExp(["dataset", "export", file, "--output", "\(dir)/data.csv"] + only)
        #expect(export.status == 0 && export.stderr.contains(selected), "\(export.stderr)")
        let slurm = try rnnExp(["slurm", file, "--output", "\(dir)/slurm", "--results", "\(dir)/r"] + only)
        #expect(slurm.status == 0 && slurm.stdout.contains("(1 run in 1 array task)"), "\(slurm.stdout)\(slurm.stderr)")
        let script = readFile("\(dir)/slurm/rnn-exp-grown.sbatch") ?? ""
        #expect(script.contains("--only tau_max=3 --only seed=2"), "\(script)")
        for command in [["validate"], ["explain"], ["gradcheck"], ["dataset", "export"], ["slurm"]] {
            let bad = try rnnExp(command + [file, "--only", "seed=9"] + (command == ["slurm"] ? ["--output", "\(dir)/slurm2"] : []))
            #expect(bad.status == 2 && bad.stderr.contains("--only seed=9:1:6: training.seed: 9 is not one of the grid's values"), "\(command): \(bad.stderr)")
        }
    }

    static let rfloComparison = """
        name: rflo-cmp
        dataset: {kind: adding, length: 4, train: 8, validation: 4}
        model: {layers: [{type: rnn, units: 3}, {type: dense, activation: identity}]}
        training: {epochs: 1, batch: 4, rflo_decay: 0.5}
        sweep:
          training.algorithm: [bptt, rflo]
          training.tau_max: [2, 4]

        """

    /// Bug 4: a setting that belongs to one algorithm (rflo_decay to rflo, tau_max to bptt) is
    /// ignored at the other algorithms' points of an algorithm sweep, fixed or swept, and the
    /// points that differ only in it are one run; bptt run ids carry no rflo_decay.
    @Test func perAlgorithmSettingsCollapseAtOtherAlgorithms() throws {
        let dir = scratchDirectory("per-algorithm")
        writeFile("\(dir)/fixed.yaml", Self.rfloComparison)
        let fixed = try Planner.plan(files: ["\(dir)/fixed.yaml"]).get()[0]
        #expect(fixed.runs.map { String($0.id.dropLast(7)) } == ["algorithm=bptt,tau_max=2", "algorithm=bptt,tau_max=4", "algorithm=rflo"])
        #expect(fixed.runs.map(\.config.training.rfloDecay) == [0, 0, 0.5])
        #expect(fixed.runs.allSatisfy { !$0.configFile.contains("rflo_decay") || $0.config.training.algorithm == .rflo })
        writeFile("\(dir)/swept.yaml", Self.rfloComparison.replacingOccurrences(of: ", rflo_decay: 0.5", with: "")
                  + "  training.rflo_decay: [0, 0.5]\n")
        let swept = try Planner.plan(files: ["\(dir)/swept.yaml"]).get()[0]
        #expect(swept.runs.map { String($0.id.dropLast(7)) } == ["algorithm=bptt,tau_max=2", "algorithm=bptt,tau_max=4",
                                                                  "algorithm=rflo,rflo_decay=0", "algorithm=rflo,rflo_decay=0.5"])
        #expect(swept.collapsed.map(\.label) == ["algorithm=bptt,tau_max=2,rflo_decay=0.5", "algorithm=bptt,tau_max=4,rflo_decay=0.5",
                                                   "algorithm=rflo,tau_max=4,rflo_decay=0", "algorithm=rflo,tau_max=4,rflo_decay=0.5"])
        // The bptt runs are the same runs as in a file without rflo at all.
        writeFile("\(dir)/bptt.yaml", Self.rfloComparison.replacingOccurrences(of: ", rflo_decay: 0.5", with: "")
                  .replacingOccurrences(of: "[bptt, rflo]", with: "[bptt, rtrl]"))
        let bptt = try Planner.plan(files: ["\(dir)/bptt.yaml"]).get()[0]
        #expect(Array(swept.runs.prefix(2).map(\.id)) == Array(bptt.runs.prefix(2).map(\.id)))
        // Without an algorithm sweep, a fixed rflo_decay on bptt is still a located error.
        writeFile("\(dir)/single.yaml", Self.rfloComparison.components(separatedBy: "sweep:")[0])
        guard case .failure(let e) = Planner.plan(files: ["\(dir)/single.yaml"]) else { Issue.record("accepted"); return }
        #expect(e.errors.map(\.keyPath) == ["training.rflo_decay"])
        let r = try rnnExp(["run", "\(dir)/swept.yaml", "--results", "\(dir)/r", "--quiet", "--jobs", "1"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// Bug 4: gradcheck with an approximate algorithm set on a file with tau_max says why it does
    /// not check it, not that the file has no valid point.
    @Test func gradcheckSaysWhyItSkipsApproximateAlgorithms() throws {
        let dir = scratchDirectory("gradcheck-rflo")
        writeFile("\(dir)/g.yaml", Self.grown)
        for algorithm in ["rflo", "snap1", "uoro"] {
            let r = try rnnExp(["gradcheck", "\(dir)/g.yaml", "--set", "training.algorithm=\(algorithm)"])
            #expect(r.status == 2)
            #expect(r.stderr.contains("\(algorithm) approximates the gradient; gradcheck applies to bptt and rtrl"), "\(r.stderr)")
            #expect(!r.stderr.contains("tau_max") && !r.stderr.contains("no valid grid point"), "\(r.stderr)")
        }
    }

    /// Bug 11: every error at once. An lstm + rflo file with rflo_decay 1.5 has two problems,
    /// and validate reports both.
    @Test func aRangeErrorDoesNotHideTheLayerError() throws {
        let dir = scratchDirectory("all-errors")
        writeFile("\(dir)/l.yaml", """
            dataset: {kind: adding, length: 4, train: 8, validation: 4}
            model: {layers: [{type: lstm, units: 3}, {type: dense, activation: identity}]}
            training: {epochs: 1, batch: 4, algorithm: rflo, rflo_decay: 1.5}

            """)
        let r = try rnnExp(["validate", "\(dir)/l.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("l.yaml:3:62: training.rflo_decay: must be at most 1, found 1.5"), "\(r.stderr)")
        #expect(r.stderr.contains("l.yaml:3:44: training.algorithm: ") && r.stderr.contains("rnn"), "\(r.stderr)")
        #expect(r.stderr.contains("2 errors;"), "\(r.stderr)")
    }

    /// Bug 11: an error at some points of a sweep names them (their grid keys) and says how many
    /// of the grid's points are valid; an error at every point is the file's and is said once.
    @Test func aPointErrorNamesItsPoint() throws {
        let dir = scratchDirectory("point-error")
        writeFile("\(dir)/p.yaml", """
            dataset: {kind: adding, length: 4, train: 8, validation: 4}
            model: {layers: [{type: rnn, units: 3}, {type: dense, activation: identity}]}
            training: {epochs: 1, batch: 32, algorithm: rtrl}
            sweep:
              model.layers.0.units: [4, 256]
              training.seed: [1, 2]

            """)
        let r = try rnnExp(["validate", "\(dir)/p.yaml"])
        #expect(r.status == 2)
        let errors = r.stderr.split(separator: "\n").filter { $0.contains("training.algorithm: rtrl would carry") }
        #expect(errors.count == 1, "\(r.stderr)")
        #expect(errors.first?.contains("grid points units=256,seed=1; units=256,seed=2") == true, "\(r.stderr)")
        #expect(errors.first?.contains("the other 2 points of the grid (4) are valid") == true, "\(r.stderr)")
        // Every point invalid, each for its own reason: each names its points and says so.
        writeFile("\(dir)/q.yaml", (readFile("\(dir)/p.yaml") ?? "").replacingOccurrences(of: "[4, 256]", with: "[256, 300]"))
        let q = try rnnExp(["validate", "\(dir)/q.yaml"])
        #expect(q.status == 2 && q.stderr.contains("(at grid points units=300,seed=1; units=300,seed=2; no point of the grid (4) is valid)"),
                "\(q.stderr)")
        // The same error at every point is the file's: said once, without points.
        writeFile("\(dir)/e.yaml", (readFile("\(dir)/p.yaml") ?? "").replacingOccurrences(of: "units: 3}", with: "units: 256}")
                  .replacingOccurrences(of: "  model.layers.0.units: [4, 256]\n", with: ""))
        let e = try rnnExp(["validate", "\(dir)/e.yaml"])
        #expect(e.status == 2 && e.stderr.contains("1 error;") && !e.stderr.contains("grid point"), "\(e.stderr)")
    }
}
