import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 24: what a new user reads — report options checked like config keys, `summarize` on a
/// results folder, the stop message, resumed runs, the piped log, the live view's ETA, `slurm/`.
@Suite("What a user reads", .serialized)
struct UserMessagesTests {
    func tinySweep() throws -> (dir: String, file: String, results: String) {
        let dir = scratchDirectory("msg")
        writeFile("\(dir)/tiny.yaml", EndToEndTests.sweepYAML)
        let r = try rnnExp(["run", "\(dir)/tiny.yaml", "--results", "\(dir)/results", "--quiet", "--jobs", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        return (dir, "\(dir)/tiny.yaml", "\(dir)/results")
    }

    /// Bug 3: unknown columns and keys are located errors with a did-you-mean, exit 2, nothing written.
    @Test func reportRejectsWhatItCannotUse() throws {
        let (_, _, results) = try tinySweep()
        let folder = "\(results)/tiny"
        try FileManager.default.removeItem(atPath: "\(folder)/report.html")
        let cases: [([String], String)] = [
            (["--metric", "final_val_los"], "--metric final_val_los: not a column of summary.csv; did you mean final_val_loss?"),
            (["--x", "training.tau_mx"], "--x training.tau_mx: not a swept key; did you mean training.tau_max?"),
            (["--group", "training.seeed"], "--group training.seeed: not a swept key; did you mean training.seed?"),
            (["--y", "zebra"], "--y zebra: not a swept key (swept: training.tau_max, training.seed)"),
        ]
        for (args, message) in cases {
            let r = try rnnExp(["report", folder] + args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr == message + "\n1 error; nothing was written.\n", "\(args)")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/report.html"), "\(args)")
        }
        // Short names of swept keys are accepted.
        let ok = try rnnExp(["report", folder, "--x", "tau_max", "--group", "seed", "--metric", "best_val_loss"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let html = try #require(readFile("\(folder)/report.html"))
        #expect(html.contains("<code>best_val_loss</code> over <code>tau_max</code>"))
    }

    /// Bug 6: `summarize` takes the results folder as well as the experiment file.
    @Test func summarizeTakesTheResultsFolder() throws {
        let (dir, _, results) = try tinySweep()
        try FileManager.default.removeItem(atPath: "\(results)/tiny/summary.csv")
        let r = try rnnExp(["summarize", "\(results)/tiny"], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("summary.csv: 4 of 4 runs done"), "\(r.stdout)")
        #expect(parseCSV(readFile("\(results)/tiny/summary.csv") ?? "").rows.count == 4)
        let empty = scratchDirectory("msg-empty")
        let bad = try rnnExp(["summarize", empty])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("\(empty):1:1: a folder without experiment.json: give the experiment file (YAML)"), "\(bad.stderr)")
    }

    static let copyYAML = """
        name: resume
        dataset: {kind: copy, symbols: 2, length: 1, delay: 2, train: 40, validation: 8}
        model: {layers: [{type: rnn, units: 6}, {type: dense}]}
        training: {epochs: 3, batch: 4, tau_max: 5}

        """

    /// Bug 6: a run continued from its checkpoint says so, and `plan` shows where it resumes; the
    /// piped log names the dataset's metric.
    @Test func resumedRunsSaySoAndTheLogNamesTheMetric() throws {
        let dir = scratchDirectory("msg-resume")
        let file = "\(dir)/resume.yaml"
        writeFile(file, Self.copyYAML)
        let plan = try Planner.plan(files: [file]).get()[0]
        let run = plan.runs[0]
        let store = ResultsStore(root: "\(dir)/results")
        // 40 sequences in batches of 4: 10 batches an epoch; stop in the second epoch.
        var polls = 0
        let stopped = RunExecutor.execute(run.config, datasets: plan.datasets, shouldStop: { polls += 1; return polls > 13 },
                                          checkpoint: { try? store.saveCheckpoint(plan.name, run, $0) })
        #expect(stopped.status == .interrupted)
        #expect(store.standing(plan.name, run) == .resumes(epoch: 2))
        let shown = try rnnExp(["plan", file, "--results", "\(dir)/results"])
        #expect(shown.stdout.contains("\(run.id)  resumes at epoch 2 (from its checkpoint)"), "\(shown.stdout)")
        let r = try rnnExp(["run", file, "--results", "\(dir)/results", "--jobs", "1", "--no-report"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("\(run.id) resumes at epoch 2 from its checkpoint\n"), "\(r.stderr)")
        #expect(r.stderr.contains("\(run.id) epoch 3/3 train_loss="), "\(r.stderr)")
        #expect(r.stderr.contains(" val_accuracy="), "\(r.stderr)")
        #expect(!r.stderr.contains("metric="), "\(r.stderr)")
    }

    /// Bug 6: after a stop, the message lists the interrupted runs and then the command to type.
    @Test func theStopMessageGivesTheCommand() throws {
        let dir = scratchDirectory("msg-stop")
        let file = "\(dir)/resume.yaml"
        // Far more epochs than any machine finishes before the stop below.
        writeFile(file, Self.copyYAML.replacingOccurrences(of: "epochs: 3", with: "epochs: 900000"))
        let results = "\(dir)/results"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binaryPath)
        p.arguments = ["run", file, "--results", results, "--jobs", "1", "--quiet"]
        let err = Pipe()
        p.standardError = err
        try p.run()
        #expect(waitWhileRunning(p) { someRunHasACheckpoint("\(results)/resume/runs") })
        kill(p.processIdentifier, SIGINT)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130, "\(text)")
        let id = try Planner.plan(files: [file]).get()[0].runs[0].id
        #expect(text.contains("finished runs are kept; 1 interrupted run will continue from its checkpoint (\(id)), "
                              + "and the runs not started will train, when you run the same command again:\n"
                              + "  \(binaryPath) run \(file) --results \(results) --jobs 1 --quiet\n"), "\(text)")
    }

    /// Bug 4: within an epoch the run's ETA only goes down, and the sweep's countdown moves only
    /// part of the way towards a new estimate.
    @Test func etaCountsDown() {
        let perEpoch = 10.0
        let within = stride(from: 0.0, through: 14.0, by: 0.5).map {
            ProgressEstimate.runRemaining(perEpoch: perEpoch, epochsLeft: 3, sinceLastEpoch: $0)
        }
        #expect(within.first == 30)
        #expect(zip(within, within.dropFirst()).allSatisfy { $1 <= $0 })
        #expect(within.last == 20, "an epoch slower than the estimate holds at the epochs after it")
        #expect(ProgressEstimate.smoothedEpoch(previous: nil, latest: 8) == 8)
        #expect(ProgressEstimate.smoothedEpoch(previous: 10, latest: 20) == 13)

        var countdown = SmoothedCountdown(pull: 0.2)
        #expect(countdown.update(estimate: 60, now: 0) == 60)
        #expect(countdown.update(estimate: 50, now: 10) == 50, "an estimate that agrees with the clock is followed")
        let jumped = countdown.update(estimate: 150, now: 11)
        #expect(jumped == 49 + 0.2 * (150 - 49), "one long estimate moves it a fifth of the way")
        #expect(countdown.update(estimate: 0, now: 1000) == 0)
    }

    /// Bug 9: `rnn-exp slurm` writes slurm/ in the working tree; the project ignores it.
    @Test func slurmFolderIsIgnored() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let ignore = try #require(readFile(root.appendingPathComponent(".gitignore").path))
        #expect(ignore.split(separator: "\n").contains("slurm/"))
    }

    /// Bug 8: `full` is a number of steps in summary.csv's tau_max and tau_b: the longest training
    /// sequence when lengths vary (csv), tau_b given stays; the swept key's column keeps `full`.
    @Test func fullIsAStepCountInTheSummary() throws {
        let dir = scratchDirectory("msg-full")
        writeFile("\(dir)/d.csv", "id,x,y\na,1,\na,0,1\nb,1,\nb,0,\nb,1,0\nc,0,1\n")
        writeFile("\(dir)/full.yaml", """
            name: full
            dataset: {kind: csv, path: d.csv, sequence: id, inputs: x, targets: y}
            model: {layers: [{type: rnn, units: 3}, {type: dense}]}
            training: {epochs: 1, batch: 2}
            sweep:
              training.tau_max: [1, full]
              training.tau_b: [1, 2]

            """)
        let r = try rnnExp(["run", "\(dir)/full.yaml", "--results", "\(dir)/results", "--quiet", "--no-report"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = parseCSV(try #require(readFile("\(dir)/results/full/summary.csv")))
        #expect(column(summary, "training.tau_max") == ["1", "full", "full"])
        #expect(column(summary, "tau_max") == ["1", "3", "3"])
        #expect(column(summary, "tau_b") == ["1", "1", "2"])
        #expect(column(summary, "tau_max").allSatisfy { Int($0) != nil } && column(summary, "tau_b").allSatisfy { Int($0) != nil })
    }
}
