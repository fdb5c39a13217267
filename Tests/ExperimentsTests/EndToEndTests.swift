import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// End-to-end tests of the built `rnn-exp` binary (argument-parser's `AssertExecuteCommand`
/// style): exit codes, files and CSV columns, exactly.
@Suite("rnn-exp end to end", .serialized)
struct EndToEndTests {
    static let sweepYAML = """
        name: tiny
        description: a small grid for the tests
        dataset: {kind: adding, length: 6, train: 16, validation: 8}
        model:
          layers:
            - {type: rnn, units: 5, activation: tanh}
            - {type: dense, units: 1, activation: identity}
        training: {epochs: 3, batch: 4, optimizer: {name: adam, lr: 0.01}}
        sweep:
          training.tau_max: [2, full]
          training.seed: [1, 2]

        """

    func setUp() -> (dir: String, file: String, results: String) {
        let dir = scratchDirectory("e2e")
        writeFile("\(dir)/tiny.yaml", Self.sweepYAML)
        return (dir, "\(dir)/tiny.yaml", "\(dir)/results")
    }

    @Test func smallSweepWritesTheSpecLayout() throws {
        let (_, file, results) = setUp()
        let r = try rnnExp(["run", file, "--results", results, "--jobs", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let plan = try Planner.plan(files: [file]).get()[0]
        let ids = plan.runs.map(\.id)
        #expect(ids.count == 4)
        #expect(zip(ids, ["tau_max=2,seed=1-", "tau_max=2,seed=2-", "tau_max=full,seed=1-", "tau_max=full,seed=2-"])
            .allSatisfy { $0.hasPrefix($1) && $0.count == $1.count + 6 })
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(results)/tiny/runs").sorted() == ids.sorted())
        for id in ids {
            let dir = "\(results)/tiny/runs/\(id)"
            #expect(readFile("\(dir)/status") == "done\n")
            for f in ["config.yaml", "metrics.csv", "initial.safetensors", "final.safetensors"] {
                #expect(FileManager.default.fileExists(atPath: "\(dir)/\(f)"), "\(id)/\(f)")
            }
            let m = parseCSV(readFile("\(dir)/metrics.csv")!)
            #expect(m.header == ["epoch", "updates", "train_loss", "val_loss", "grad_norm", "wall_s", "sample_steps_per_s"])
            #expect(column(m, "epoch") == ["0", "1", "2", "3"])
        }
        let summary = parseCSV(readFile("\(results)/tiny/summary.csv")!)
        // Issue 29 bug 14: training.seed is the seed column (no duplicate); training.tau_max stays
        // beside tau_max because its text (full) differs from the step count.
        #expect(summary.header == ["run", "status", "training.tau_max", "dataset", "layers", "tau_max", "tau_b",
                                   "batch", "optimizer", "lr", "seed", "epochs", "updates", "final_train_loss", "final_val_loss",
                                   "best_val_loss", "best_epoch", "wall_s", "sample_steps_per_s", "baseline_loss", "floor_loss"])
        #expect(column(summary, "run") == ids)
        #expect(column(summary, "training.tau_max") == ["2", "2", "full", "full"])
        // Issue 24: the swept key's column as written, the effective tau_max and tau_b as step
        // counts (full: the 6 steps of an adding sequence), so a spreadsheet reads numbers.
        #expect(column(summary, "tau_max") == ["2", "2", "6", "6"])
        #expect(column(summary, "tau_b") == ["2", "2", "6", "6"])
        #expect(column(summary, "layers") == Array(repeating: "rnn5-tanh,dense1-identity", count: 4))
        // adding has one target, at the last step: windows without one are skipped, so every run
        // makes one update per batch: 4 batches × 3 epochs.
        #expect(column(summary, "updates") == ["12", "12", "12", "12"])
        #expect(column(summary, "baseline_loss").allSatisfy { Double($0).map { abs($0 - 1.0 / 6.0) < 1e-12 } ?? false })
        let long = parseCSV(readFile("\(results)/tiny/metrics.csv")!)
        #expect(long.header.prefix(4) == ["run", "status", "training.tau_max", "training.seed"])
        #expect(long.rows.count == 16)
        // Numbers read back exactly (shortest round-trip text, '.' decimal point).
        #expect(column(summary, "final_val_loss").allSatisfy { Double($0) != nil && !$0.contains(",") })
    }

    @Test func rerunSkipsForceRetrainsAndJobsDoNotChangeResults() throws {
        let (dir, file, results) = setUp()
        let first = try rnnExp(["run", file, "--results", results, "--jobs", "2", "--quiet"])
        #expect(first.status == 0)
        let before = lossesAndWeights(results, "tiny")
        let statusDate = try FileManager.default.attributesOfItem(atPath: "\(results)/tiny/runs/\(before.keys.sorted()[0])/status")[.modificationDate] as? Date

        let again = try rnnExp(["run", file, "--results", results, "--jobs", "2", "--quiet"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("0 trained, 4 already done."), "\(again.stderr)")
        let statusDate2 = try FileManager.default.attributesOfItem(atPath: "\(results)/tiny/runs/\(before.keys.sorted()[0])/status")[.modificationDate] as? Date
        #expect(statusDate == statusDate2)

        let forced = try rnnExp(["run", file, "--results", results, "--jobs", "2", "--quiet", "--force"])
        #expect(forced.stderr.contains("4 trained, 0 already done."), "\(forced.stderr)")
        #expect(lossesAndWeights(results, "tiny") == before)

        let serial = try rnnExp(["run", file, "--results", "\(dir)/serial", "--jobs", "1", "--quiet"])
        #expect(serial.status == 0)
        #expect(lossesAndWeights("\(dir)/serial", "tiny") == before, "--jobs 1 and --jobs 2 differ")
    }

    /// A sweep killed with SIGKILL at several (seeded) moments and restarted until it exits 0 ends
    /// with every run done once and results identical to an uninterrupted sweep.
    @Test func killedSweepRestartsToTheSameResults() throws {
        let (dir, file, results) = setUp()
        writeFile(file, Self.sweepYAML.replacingOccurrences(of: "epochs: 3", with: "epochs: 30")
            .replacingOccurrences(of: "training.seed: [1, 2]", with: "training.seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"))
        let reference = try rnnExp(["run", file, "--results", "\(dir)/reference", "--jobs", "2", "--quiet"])
        #expect(reference.status == 0)
        var rng = SplitMix64(seed: 2024)
        var kills = 0, attempts = 0
        while attempts < 40 {
            attempts += 1
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binaryPath)
            p.arguments = ["run", file, "--results", results, "--jobs", "2", "--quiet"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            if kills == 0 {
                // The first kill waits for the sweep to be under way (a run's first epoch
                // checkpointed), so at least one kill lands mid-sweep however fast the machine is;
                // the later ones come at seeded moments.
                #expect(waitWhileRunning(p) { someRunHasACheckpoint("\(results)/tiny/runs") },
                        "the sweep ended before any run wrote a checkpoint")
            } else {
                Thread.sleep(forTimeInterval: 0.02 + rng.unit() * 0.3)  // 20 ... 320 ms
            }
            if p.isRunning && kills < 8 {
                kill(p.processIdentifier, SIGKILL)
                kills += 1
            }
            p.waitUntilExit()
            if p.terminationReason == .exit && p.terminationStatus == 0 { break }
        }
        print("killed sweep: \(kills) SIGKILLs survived, \(attempts) invocations")
        #expect(kills >= 1)
        #expect(lossesAndWeights(results, "tiny") == lossesAndWeights("\(dir)/reference", "tiny"))
        let summary = parseCSV(readFile("\(results)/tiny/summary.csv")!)
        #expect(summary.rows.count == 20 && column(summary, "status").allSatisfy { $0 == "done" })
        #expect(Set(column(summary, "run")).count == 20)
        // Temporary files of killed writes are swept up by the next writer in the same folder.
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: results).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func brokenFileExitsTwoAndWritesNothing() throws {
        let dir = scratchDirectory("bad")
        writeFile("\(dir)/bad.yaml", validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, tau_maxx: 5}"))
        let r = try rnnExp(["run", "\(dir)/bad.yaml", "--results", "\(dir)/results"])
        #expect(r.status == 2)
        #expect(r.stderr == "\(dir)/bad.yaml:6:33: training.tau_maxx: unknown key; did you mean tau_max?\n1 error; nothing was run or written.\n")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/results"))
        let v = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(v.status == 2 && v.stderr == r.stderr)
    }

    @Test func weightsAreReadableByPythonSafetensors() throws {
        let (_, file, results) = setUp()
        #expect(try rnnExp(["run", file, "--results", results, "--quiet"]).status == 0)
        let plan = try Planner.plan(files: [file]).get()[0]
        let path = "\(results)/tiny/runs/\(plan.runs[0].id)/final.safetensors"
        let script = """
            import sys
            from safetensors.numpy import load_file
            t = load_file(sys.argv[1])
            print(sorted((k, v.dtype.name, list(v.shape)) for k, v in t.items()))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "python safetensors could not read \(path) (pip install safetensors==0.7.0)")
        #expect(text == "[('layers.0.W_s', 'float32', [5, 1]), ('layers.0.W_t', 'float32', [5, 5]), ('layers.0.b', 'float32', [5]), ('layers.1.W_s', 'float32', [1, 5]), ('layers.1.b', 'float32', [1])]\n".replacingOccurrences(of: "[5, 1]", with: "[5, 2]"))
    }

    /// Command-line mistakes are bad input too: exit 2 (not argument-parser's 64), with a usage hint.
    @Test func usageErrorsExitTwo() throws {
        for args in [["frobnicate"], ["run"], ["run", "--shard", "9/4", "x.yaml"], ["run", "--jobs", "many", "x.yaml"]] {
            let r = try rnnExp(args)
            #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix("Error: "), "\(args): \(r.stderr)")
        }
        let help = try rnnExp(["--help"])
        #expect(help.status == 0)
        let section = help.stdout.components(separatedBy: "SUBCOMMANDS:").last ?? ""
        let listed = section.split(separator: "\n")
            .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") && !$0.contains("See") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        // Issue 24: check-blas is in the README, so --help lists it too.
        #expect(listed == ["run", "plan", "validate", "gradcheck", "explain", "report", "slurm", "summarize", "dataset", "check-blas"], "\(help.stdout)")
    }

    /// `model.init_from` starts a run from saved weights: its initial.safetensors holds exactly the
    /// tensors of the file it names; a file of the wrong shape is a located error.
    @Test func initFromSavedWeights() throws {
        let (dir, file, results) = setUp()
        #expect(try rnnExp(["run", file, "--results", results, "--quiet", "--set", "sweep.training.seed=[1]",
                            "--set", "sweep.training.tau_max=[2]"]).status == 0)
        let source = try FileManager.default.contentsOfDirectory(atPath: "\(results)/tiny/runs")[0]
        let weights = "\(results)/tiny/runs/\(source)/final.safetensors"
        // Build the file by hand: same layers as tiny, starting from its final weights.
        writeFile("\(dir)/warm.yaml", """
            name: warm
            dataset: {kind: adding, length: 6, train: 16, validation: 8}
            model:
              layers:
                - {type: rnn, units: 5, activation: tanh}
                - {type: dense, units: 1, activation: identity}
              init_from: \(weights)
            training: {epochs: 1, batch: 4}

            """)
        let r = try rnnExp(["run", "\(dir)/warm.yaml", "--results", results, "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let warm = try FileManager.default.contentsOfDirectory(atPath: "\(results)/warm/runs")[0]
        func tensors(_ path: String) -> Data? {  // the data section, without the header (metadata differ)
            guard let d = FileManager.default.contents(atPath: path), d.count > 8 else { return nil }
            let n = Int(d.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            return d.suffix(from: 8 + n)
        }
        #expect(tensors("\(results)/warm/runs/\(warm)/initial.safetensors") == tensors(weights))
        writeFile("\(dir)/bad.yaml", (readFile("\(dir)/warm.yaml") ?? "").replacingOccurrences(of: "units: 5", with: "units: 6"))
        let bad = try rnnExp(["validate", "\(dir)/bad.yaml"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("bad.yaml:7:14: model.init_from: final.safetensors: layers.0.W_s has shape [5, 2], the model needs [6, 2]"), "\(bad.stderr)")
    }

    @Test func exampleExperimentsValidate() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot)/experiments")
            .filter { $0.hasSuffix(".yaml") }.sorted().map { "\(repositoryRoot)/experiments/\($0)" }
        #expect(files.count >= 5)
        let r = try rnnExp(["validate"] + files)
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// Issue 24 bug 7: gradcheck defaults to the first update whose window truncation cuts. On
    /// echo-truncation's first point (a stream, tau_b 1, tau_max 2) the update at n has
    /// a = max(1, n - 1): step 3 is the first with a > 1. `--step 1` checks the first update,
    /// where W_t's gradient is exactly 0 (h_0 = 0).
    @Test func gradcheckDefaultsToAnUpdateTruncationCuts() throws {
        let file = "\(repositoryRoot)/experiments/echo-truncation.yaml"
        let cut = try rnnExp(["gradcheck", file])
        #expect(cut.status == 0, "\(cut.stdout)\(cut.stderr)")
        #expect(cut.stdout.contains("update at step 3, errors injected at (2, 3], window from step 2"), "\(cut.stdout)")
        let first = try rnnExp(["gradcheck", file, "--step", "1"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("update at step 1, errors injected at (0, 1], window from step 1"), "\(first.stdout)")
        let none = try rnnExp(["gradcheck", file, "--step", "100000"])
        #expect(none.status == 2 && none.stderr.contains("no update with a target at step 100000"), "\(none.stderr)")
    }

    /// Issue 30 item 4: by default each tensor is checked on a sample (at most 64 entries) and the
    /// output says how many entries of each were checked; `--all-entries` checks every one.
    /// online-vs-truncated's first point: rnn 16 units on 1 input, dense 2 (W_t has 256 entries).
    @Test func gradcheckSamplesEntriesUnlessAskedForAll() throws {
        let file = "\(repositoryRoot)/experiments/online-vs-truncated.yaml"
        let sampled = try rnnExp(["gradcheck", file])
        #expect(sampled.status == 0, "\(sampled.stdout)\(sampled.stderr)")
        #expect(sampled.stdout.contains("layers.0.W_t  64/256 "), "\(sampled.stdout)")
        #expect(sampled.stdout.contains("layers.0.W_s  16/16 "), "\(sampled.stdout)")
        #expect(sampled.stdout.contains("130 of 322 entries checked"), "\(sampled.stdout)")
        let all = try rnnExp(["gradcheck", file, "--all-entries"])
        #expect(all.status == 0, "\(all.stdout)\(all.stderr)")
        #expect(all.stdout.contains("layers.0.W_t  256/256 "), "\(all.stdout)")
        #expect(!all.stdout.contains("entries checked"), "\(all.stdout)")
        let rtrl = try rnnExp(["gradcheck", file, "--set", "sweep.training.algorithm=[rtrl]"])
        #expect(rtrl.status == 0 && rtrl.stdout.contains(" RTRL "), "\(rtrl.stdout)\(rtrl.stderr)")
        #expect(!rtrl.stdout.contains("update at step 1,"), "\(rtrl.stdout)")
    }

    @Test func gradcheckPassesOnTheSeedNetwork() throws {
        let r = try rnnExp(["gradcheck", "\(repositoryRoot)/experiments/binary-addition.yaml"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ok: worst relative error"))
        #expect(r.stdout.contains("layers.0.W_t"))
    }

    /// Issue 14: `explain --json` for a many-to-one task (count-ones: a target at the last of 6
    /// steps), BPTT(2, 4): the first update with a target is at 6, errors reach back to 3; the
    /// dataset's lags 0...5 against the window (lag 5 is out of reach).
    @Test func explainJSONOfAManyToOneTask() throws {
        let dir = scratchDirectory("explain")
        writeFile("\(dir)/c.yaml", """
            dataset: {kind: count-ones, length: 6, train: 8, validation: 4}
            model: {layers: [{type: rnn, units: 3}, {type: dense, activation: identity}]}
            training: {epochs: 1, batch: 4, tau_max: 4, tau_b: 2}

            """)
        let r = try rnnExp(["explain", "\(dir)/c.yaml", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["update_step"] as? Int == 6 && json["previous_step"] as? Int == 4 && json["window_start"] as? Int == 3)
        #expect(json["injected"] as? [Int] == [6])
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.map { $0["type"] as? String } == ["rnn", "dense"])
        #expect(layers.map { $0["reached"] as? [Int] } == [[3, 4, 5, 6], [6]])
        let deps = try #require(json["dependencies"] as? [[String: Any]])
        #expect(deps.map { $0["lag"] as? Int } == [0, 5])
        #expect(deps.map { $0["some"] as? Bool } == [true, false] && deps.map { $0["all"] as? Bool } == [true, false])
        // --step picks another update; a step with no update is bad input.
        let four = try rnnExp(["explain", "\(dir)/c.yaml", "--json", "--step", "4"])
        #expect(four.status == 0 && four.stdout.contains("\"injected\": []"), "\(four.stdout)\(four.stderr)")
        let three = try rnnExp(["explain", "\(dir)/c.yaml", "--step", "3"])
        #expect(three.status == 2 && three.stderr.contains("no update happens at step 3: updates are at steps 2, 4, 6"), "\(three.stderr)")
    }

    /// Issue 24 bug 7 (explain's half): on a stream the first update is never cut, so `explain`
    /// defaults to the first update with a target whose window truncation cuts: echo, BPTT(1, 4),
    /// the update at step 5, whose window starts at 2.
    @Test func explainDefaultsToAnUpdateTruncationCuts() throws {
        let dir = scratchDirectory("explain-cut")
        writeFile("\(dir)/e.yaml", """
            dataset: {kind: echo, lags: [3], weights: [0.4], train: 40, validation: 20}
            model: {layers: [{type: rnn, units: 3}, {type: dense}]}
            training: {epochs: 1, batch: 2, tau_max: 4, tau_b: 1}

            """)
        let r = try rnnExp(["explain", "\(dir)/e.yaml", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["update_step"] as? Int == 5 && json["window_start"] as? Int == 2, "\(r.stdout)")
    }
}
