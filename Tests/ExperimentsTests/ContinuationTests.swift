import Foundation
import Testing
@testable import Experiments
import RNNCore
import RNNTestSupport

/// Issue 24, feature 4: training longer without starting over. A finished run keeps its final
/// state; a run whose configuration differs from it only in more `epochs` continues from there
/// and ends bit-identical (metrics rows, timing columns aside; final weights; diagnostics) to
/// the longer run trained from scratch.
@Suite("Training longer", .serialized)
struct ContinuationTests {
    /// A sequence dataset and a stream, Adam (its moments matter), both precisions; the first
    /// with gradient diagnostics.
    static let cases: [CheckpointTests.Case] = ["float32", "float64"].flatMap { precision in [
        CheckpointTests.Case(id: "adding (sequences), \(precision)", yaml: """
            name: longer
            dataset: {kind: adding, length: 8, train: 40, validation: 8}
            model: {layers: [{type: rnn, units: 6}, {type: dense, activation: identity}]}
            training: {epochs: EPOCHS, batch: 4, tau_max: 3, tau_b: 2, clip_norm: 0.5, precision: \(precision),
                       optimizer: {name: adam, lr: 0.02, weight_decay: 0.01}}
            diagnostics: {gradient_every: 3, credit_lags: 6}

            """),
        CheckpointTests.Case(id: "sine (stream), \(precision)", yaml: """
            name: longer
            dataset: {kind: sine, train: 400, validation: 50}
            model: {layers: [{type: rnn, units: 6}, {type: dense, activation: identity}]}
            training: {epochs: EPOCHS, batch: 4, tau_max: 6, clip_norm: 0.5, precision: \(precision),
                       optimizer: {name: adam, lr: 0.02, weight_decay: 0.01}}

            """),
    ] }

    /// The experiment of `c` with `epochs` epochs, written as `<epochs>.yaml` in `dir`.
    static func plan(_ c: CheckpointTests.Case, epochs: Int, in dir: String) throws -> (ExperimentPlan, PlannedRun) {
        let file = "\(dir)/e\(epochs).yaml"
        writeFile(file, c.yaml.replacingOccurrences(of: "EPOCHS", with: String(epochs)))
        let plan = try Planner.plan(files: [file]).get()[0]
        return (plan, plan.runs[0])
    }

    /// A run folder's metrics rows without the timing columns, its final weights and its
    /// diagnostics files.
    static func fingerprint(_ results: String, _ id: String) -> [String] {
        let dir = "\(results)/longer/runs/\(id)"
        let csv = parseCSV(readFile("\(dir)/metrics.csv") ?? "")
        let timing: Set<String> = ["wall_s", "sample_steps_per_s"]
        let kept = csv.header.indices.filter { !timing.contains(csv.header[$0]) }
        let rows = [kept.map { csv.header[$0] }.joined(separator: ",")] + csv.rows.map { row in kept.map { row[$0] }.joined(separator: ",") }
        let weights = FileManager.default.contents(atPath: "\(dir)/final.safetensors").map(Self.tensorBytes) ?? "no weights"
        return rows + [weights, readFile("\(dir)/gradient.csv") ?? "", readFile("\(dir)/credit.csv") ?? ""]
    }

    /// A safetensors file's tensor data (after its header, whose metadata names the run), base64.
    static func tensorBytes(_ file: Data) -> String {
        let bytes = [UInt8](file)
        guard bytes.count >= 8 else { return "damaged" }
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard 8 + headerLength <= bytes.count else { return "damaged" }
        return Data(bytes[(8 + headerLength)...]).base64EncodedString()
    }

    /// 2 epochs, then 5: the 5-epoch run continues from the 2-epoch run's final state (`plan`
    /// says so; its first rows are the donor's, timing included) and ends where training 5
    /// epochs from scratch ends, bit for bit.
    @Test(arguments: cases)
    func longerRunEqualsOneTrainedFromScratch(_ c: CheckpointTests.Case) throws {
        let dir = scratchDirectory("longer")
        let (short, shortRun) = try Self.plan(c, epochs: 2, in: dir)
        let (long, longRun) = try Self.plan(c, epochs: 5, in: dir)
        #expect(shortRun.id != longRun.id)

        let reference = ResultsStore(root: "\(dir)/ref")
        #expect(Runner(plans: [long], store: reference, options: .init(jobs: 1)).run().allDone)

        let store = ResultsStore(root: "\(dir)/r")
        #expect(store.standing(long.name, longRun) == .toRun)
        #expect(Runner(plans: [short], store: store, options: .init(jobs: 1)).run().allDone)
        #expect(FileManager.default.fileExists(atPath: store.finalStatePath(short.name, shortRun.id)))
        #expect(store.standing(long.name, longRun) == .continues(from: shortRun.id, epoch: 2))
        // A finished run never continues from a longer one.
        #expect(store.standing(short.name, shortRun) == .finished(.done))

        let donorFiles = Self.fingerprint("\(dir)/r", shortRun.id)
        let report = Runner(plans: [long], store: store, options: .init(jobs: 1)).run()
        #expect(report.allDone && report.warnings.isEmpty, "\(report.warnings)")
        #expect(Self.fingerprint("\(dir)/r", longRun.id) == Self.fingerprint("\(dir)/ref", longRun.id))
        // It did continue: epochs 0–2 are the donor's rows, their wall-clock times too.
        let donorWall = column(parseCSV(readFile("\(dir)/r/longer/runs/\(shortRun.id)/metrics.csv") ?? ""), "wall_s")
        let longWall = column(parseCSV(readFile("\(dir)/r/longer/runs/\(longRun.id)/metrics.csv") ?? ""), "wall_s")
        #expect(donorWall.count == 3 && Array(longWall.prefix(3)) == donorWall)
        // The donor's files are untouched, and the longer run keeps its own final state.
        #expect(Self.fingerprint("\(dir)/r", shortRun.id) == donorFiles)
        #expect(FileManager.default.fileExists(atPath: store.finalStatePath(long.name, longRun.id)))
        #expect(store.standing(long.name, longRun) == .finished(.done))
    }

    /// The donor with the most epochs is chosen; a run whose configuration differs in more than
    /// `epochs` is never one.
    @Test func mostEpochsWinAndOtherConfigurationsAreIgnored() throws {
        let c = Self.cases[1]
        let dir = scratchDirectory("longer-pick")
        let store = ResultsStore(root: "\(dir)/r")
        let (p1, r1) = try Self.plan(c, epochs: 1, in: dir)
        let (p3, r3) = try Self.plan(c, epochs: 3, in: dir)
        let (_, r6) = try Self.plan(c, epochs: 6, in: dir)
        writeFile("\(dir)/other.yaml", c.yaml.replacingOccurrences(of: "EPOCHS", with: "4").replacingOccurrences(of: "lr: 0.02", with: "lr: 0.03"))
        let other = try Planner.plan(files: ["\(dir)/other.yaml"]).get()[0]
        for p in [p1, p3, other] { #expect(Runner(plans: [p], store: store, options: .init(jobs: 1)).run().allDone) }
        #expect(store.standing(p3.name, r6) == .continues(from: r3.id, epoch: 3))
        #expect(store.standing(p3.name, r3) == .finished(.done))
        #expect(store.standing(p1.name, r1) == .finished(.done))
        #expect(ResultsStore.epochsApart(r6.canonical)?.epochs == 6)
        #expect(ResultsStore.epochsApart(r6.canonical)?.rest == ResultsStore.epochsApart(r1.canonical)?.rest)
        #expect(ResultsStore.epochsApart(r6.canonical)?.rest != ResultsStore.epochsApart(other.runs[0].canonical)?.rest)
    }

    /// A donor whose final state is missing, damaged or of another configuration is never
    /// misread: the longer run starts over with a warning and ends at the from-scratch result.
    @Test func unusableFinalStatesStartOver() throws {
        let c = Self.cases[0]
        let dir = scratchDirectory("longer-damaged")
        let (long, longRun) = try Self.plan(c, epochs: 4, in: dir)
        #expect(Runner(plans: [long], store: ResultsStore(root: "\(dir)/ref"), options: .init(jobs: 1)).run().allDone)
        for damage in ["missing", "truncated", "garbage", "other config"] {
            let root = "\(dir)/\(damage.replacingOccurrences(of: " ", with: "-"))"
            let store = ResultsStore(root: root)
            let (short, shortRun) = try Self.plan(c, epochs: 2, in: dir)
            #expect(Runner(plans: [short], store: store, options: .init(jobs: 1)).run().allDone)
            let path = store.finalStatePath(short.name, shortRun.id)
            let bytes = try #require(FileManager.default.contents(atPath: path))
            switch damage {
            case "missing": try FileManager.default.removeItem(atPath: path)
            case "truncated": try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
            case "garbage": try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: path))
            default:
                var foreign = try Checkpoint.decode(bytes, metric: longRun.config.metric).get()
                foreign.canonicalConfig = "name: another\n"
                try foreign.encoded(metric: longRun.config.metric).write(to: URL(fileURLWithPath: path))
            }
            #expect(store.standing(long.name, longRun) == .toRun, "\(damage)")
            let report = Runner(plans: [long], store: store, options: .init(jobs: 1)).run()
            #expect(report.allDone, "\(damage)")
            #expect(report.warnings.contains { $0.contains("cannot continue from the finished run \(shortRun.id), starting over") },
                    "\(damage): \(report.warnings)")
            #expect(Self.fingerprint(root, longRun.id) == Self.fingerprint("\(dir)/ref", longRun.id), "\(damage)")
        }
    }

    /// `rnn-exp plan` names the run a longer one continues from.
    @Test func planShowsTheContinuation() throws {
        let c = Self.cases[1]
        let dir = scratchDirectory("longer-plan")
        let (_, shortRun) = try Self.plan(c, epochs: 2, in: dir)
        let (_, midRun) = try Self.plan(c, epochs: 3, in: dir)
        #expect(try rnnExp(["run", "\(dir)/e2.yaml", "--results", "\(dir)/r", "--quiet"]).status == 0)
        let plan = try rnnExp(["plan", "\(dir)/e3.yaml", "--results", "\(dir)/r"])
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("continues from \(shortRun.id) (after its epoch 2)"), "\(plan.stdout)")
        let run = try rnnExp(["run", "\(dir)/e3.yaml", "--results", "\(dir)/r"])
        #expect(run.status == 0)
        #expect((run.stdout + run.stderr).contains("continues at epoch 3 from the finished run \(shortRun.id)"), "\(run.stdout)\(run.stderr)")
        // The user's path: more epochs with --set.
        let more = try rnnExp(["plan", "\(dir)/e2.yaml", "--set", "training.epochs=4", "--results", "\(dir)/r"])
        #expect(more.stdout.contains("continues from \(midRun.id) (after its epoch 3)"), "\(more.stdout)")
    }

    /// A sweep over `epochs`: its longer run continues from its shorter one, finished earlier in
    /// the same sweep, and still ends at the from-scratch result.
    @Test func aSweepOverEpochsContinuesWithinTheSweep() throws {
        let c = Self.cases[0]
        let dir = scratchDirectory("longer-sweep")
        writeFile("\(dir)/s.yaml", c.yaml.replacingOccurrences(of: "EPOCHS", with: "2") + "sweep:\n  training.epochs: [2, 4]\n")
        let plan = try Planner.plan(files: ["\(dir)/s.yaml"]).get()[0]
        #expect(plan.runs.map(\.config.epochs) == [2, 4])
        let (long, longRun) = try Self.plan(c, epochs: 4, in: dir)
        #expect(Runner(plans: [long], store: ResultsStore(root: "\(dir)/ref"), options: .init(jobs: 1)).run().allDone)
        let report = Runner(plans: [plan], store: ResultsStore(root: "\(dir)/r"), options: .init(jobs: 1)).run()
        #expect(report.allDone && report.warnings.isEmpty, "\(report.warnings)")
        let short = plan.runs[0].id, swept = plan.runs[1].id
        let donorWall = column(parseCSV(readFile("\(dir)/r/longer/runs/\(short)/metrics.csv") ?? ""), "wall_s")
        let longWall = column(parseCSV(readFile("\(dir)/r/longer/runs/\(swept)/metrics.csv") ?? ""), "wall_s")
        #expect(donorWall.count == 3 && Array(longWall.prefix(3)) == donorWall)
        // The same configuration as the 4-epoch file's run (the swept key only names the id, and
        // the weights file's metadata).
        #expect(Self.fingerprint("\(dir)/r", swept) == Self.fingerprint("\(dir)/ref", longRun.id))
    }
}
