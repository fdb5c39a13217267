import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Part of a grid (issue 24, bugs 1 and 2, feature 2): `--set` on a swept key and `--only` select
/// grid points; the grid, its run ids and the experiment's summaries stay the file's.
@Suite("Running part of a grid", .serialized)
struct GridSelectionTests {
    func setUp() -> (dir: String, file: String, results: String) {
        let dir = scratchDirectory("select")
        writeFile("\(dir)/tiny.yaml", EndToEndTests.sweepYAML)
        return (dir, "\(dir)/tiny.yaml", "\(dir)/results")
    }

    func plan(_ file: String, set: [String] = [], only: [String] = []) -> Result<ExperimentPlan, ConfigErrors> {
        Planner.plan(files: [file], overrides: set, only: only).map { $0[0] }
    }

    /// Bug 1: narrowing a swept key's list gives the same run ids as the whole grid.
    @Test func narrowingASweepKeepsTheRunIDs() throws {
        let (_, file, _) = setUp()
        let whole = try plan(file).get()
        let narrowed = try plan(file, set: ["sweep.training.tau_max=[2]"]).get()
        #expect(narrowed.runs.map(\.id) == whole.runs.filter { $0.id.hasPrefix("tau_max=2,") }.map(\.id))
        #expect(narrowed.runs.count == 2)
        #expect(narrowed.gridRuns.map(\.id) == whole.runs.map(\.id))
        // Values the file does not have join its list where it stands: the keys keep the file's
        // order in the run ids, only the new points are selected, and the grid keeps the file's.
        let other = try plan(file, set: ["sweep.training.tau_max=[3]"]).get()
        #expect(other.runs.map { String($0.id.prefix(while: { $0 != "-" })) } == ["tau_max=3,seed=1", "tau_max=3,seed=2"])
        #expect(Set(whole.runs.map(\.id)).isSubset(of: other.gridRuns.map(\.id)) && other.gridRuns.count == 6)
    }

    /// Bug 1 end to end: a narrowed run trains nothing already done and the summaries keep every run.
    @Test func aNarrowedRunNeitherRetrainsNorShrinksTheSummary() throws {
        let (_, file, results) = setUp()
        #expect(try rnnExp(["run", file, "--results", results, "--quiet", "--jobs", "2"]).status == 0)
        let before = parseCSV(readFile("\(results)/tiny/summary.csv")!)
        let r = try rnnExp(["run", file, "--results", results, "--quiet", "--set", "sweep.training.tau_max=[2]"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("0 trained, 2 already done."), "\(r.stderr)")
        let after = parseCSV(readFile("\(results)/tiny/summary.csv")!)
        #expect(column(after, "run") == column(before, "run"))
        #expect(after.rows.count == 4)
        let bySetting = parseCSV(readFile("\(results)/tiny/summary-by-setting.csv")!)
        #expect(column(bySetting, "done") == ["2", "2"])
        // A new value trains only its points; the finished runs stay in the summary.
        let wider = try rnnExp(["run", file, "--results", results, "--quiet", "--set", "sweep.training.tau_max=[3]"])
        #expect(wider.status == 0, "\(wider.stderr)")
        #expect(wider.stderr.contains("2 trained, 0 already done."), "\(wider.stderr)")
        let widened = parseCSV(readFile("\(results)/tiny/summary.csv")!)
        #expect(Set(column(before, "run")).isSubset(of: column(widened, "run")) && widened.rows.count == 6)
    }

    /// Bug 2: `--set` on a swept key is never silently ignored: a value of its list selects
    /// those points, another value is a located error.
    @Test func setOnASweptKeySelectsOrFails() throws {
        let (_, file, _) = setUp()
        let two = try plan(file, set: ["training.tau_max=2"]).get()
        #expect(two.runs.map(\.config.tauMax) == [2, 2])
        #expect(two.gridRuns.count == 4)
        switch plan(file, set: ["training.tau_max=8"]) {
        case .success(let p): Issue.record("accepted: \(p.runs.map(\.id))")
        case .failure(let e):
            #expect(e.errors.map(\.description) == ["--set training.tau_max=8:1:1: training.tau_max: training.tau_max is swept (2, full) "
                                                   + "and 8 is not one of its values: pick one of them, or sweep others with --set 'sweep.training.tau_max=[8]'"])
        }
        let p = try rnnExp(["plan", file, "--set", "training.tau_max=full"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stdout.contains("tau_max=full,seed=1-") && !p.stdout.contains("tau_max=2,"), "\(p.stdout)")
    }

    /// Feature 2: `--only KEY=VALUE[,VALUE]`, repeatable, by short name or dotted path.
    @Test func onlySelectsGridPoints() throws {
        let (_, file, results) = setUp()
        let whole = try plan(file).get()
        let one = try plan(file, only: ["tau_max=full", "training.seed=2"]).get()
        #expect(one.runs.map(\.id) == whole.runs.filter { $0.id.hasPrefix("tau_max=full,seed=2-") }.map(\.id))
        #expect(one.selection == ["tau_max=full", "seed=2"])
        #expect(try plan(file, only: ["seed=1,2"]).get().runs.count == 4)
        #expect(try plan(file, only: ["seed=1, 2"]).get().runs.count == 4)

        func errors(_ only: [String]) -> [String] {
            if case .failure(let e) = plan(file, only: only) { return e.errors.map(\.description) }
            return []
        }
        #expect(errors(["tau_mx=2"]) == ["--only tau_mx=2:1:1: tau_mx: not a swept key; did you mean tau_max?"])
        #expect(errors(["tau_max=7"]) == ["--only tau_max=7:1:9: training.tau_max: 7 is not one of the grid's values (2, full)"])
        #expect(errors(["tau_max"]) == ["--only tau_max:1:1: expected KEY=VALUE[,VALUE], e.g. --only tau_max=8,12"])

        let r = try rnnExp(["run", file, "--results", results, "--quiet", "--only", "seed=1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("2 trained, 0 already done."), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(results)/tiny/runs").sorted()
                == whole.runs.filter { $0.id.contains(",seed=1-") }.map(\.id).sorted())
        let shown = try rnnExp(["plan", file, "--results", results, "--only", "seed=2"])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("selected (seed=2): 2 runs; summaries keep the whole grid"), "\(shown.stdout)")
        #expect(!shown.stdout.contains(",seed=1-"), "\(shown.stdout)")
        let bad = try rnnExp(["run", file, "--results", results, "--only", "sed=1"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--only sed=1:1:1: sed: not a swept key; did you mean seed?"), "\(bad.stderr)")
    }
}
