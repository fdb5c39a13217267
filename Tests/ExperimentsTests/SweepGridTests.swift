import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

@Suite("Sweep grid")
struct SweepGridTests {
    func plan(_ yaml: String) throws -> ExperimentPlan {
        let dir = scratchDirectory("grid")
        writeFile("\(dir)/g.yaml", yaml)
        switch Planner.plan(files: ["\(dir)/g.yaml"]) {
        case .success(let p): return p[0]
        case .failure(let e): throw e
        }
    }

    @Test func cartesianProductWithTheLastAxisFastest() throws {
        let p = try plan(validBase + "sweep:\n  training.tau_max: [2, full]\n  training.seed: [1, 2, 3]\n")
        #expect(p.runs.count == 6)
        #expect(p.runs.map { $0.swept.map(\.text) } == [["2", "1"], ["2", "2"], ["2", "3"], ["full", "1"], ["full", "2"], ["full", "3"]])
        #expect(p.runs.map { $0.config.tauMax } == [2, 2, 2, nil, nil, nil])
        // Readable ids: swept values, then a short hash of the resolved config.
        #expect(p.runs[0].id.hasPrefix("tau_max=2,seed=1-") && p.runs[0].id.count == "tau_max=2,seed=1-".count + 6)
    }

    @Test func zipAdvancesListsTogether() throws {
        let p = try plan(validBase + "sweep:\n  training.seed: [1, 2]\n  zip:\n    training.optimizer.lr: [0.1, 0.01]\n    training.batch: [2, 4]\n")
        #expect(p.runs.count == 4)
        #expect(p.runs.map { "\($0.config.seed):\($0.config.optimizer.lr):\($0.config.batch)" } == ["1:0.1:2", "1:0.01:4", "2:0.1:2", "2:0.01:4"])
    }

    @Test func zipListsMustHaveTheSameLength() {
        let (_, errors) = SweepGrid.axes(try! ConfigNode.parse(yaml: "zip:\n  a.b: [1, 2]\n  c.d: [1]\n", file: "f"))
        #expect(errors.map(\.description) == ["f:3:8: sweep.zip.c.d: zipped lists must have the same length: a.b has 2 values, c.d has 1"])
    }

    @Test func tauBLargerThanTauMaxPointsAreSkippedWithAWarning() throws {
        let p = try plan(validBase + "sweep:\n  training.tau_max: [2, 4]\n  training.tau_b: [1, 3]\n")
        #expect(p.runs.map { "\($0.config.tauMax!),\($0.config.tauB!)" } == ["2,1", "4,1", "4,3"])
        #expect(p.skipped == [SkippedPoint(label: "tau_max=2,tau_b=3", reason: "tau_b > tau_max")])
    }

    @Test func equalSettingsGiveEqualIds() throws {
        // 0.001 and 1e-3 are the same learning rate: same resolved config, same hash.
        let a = try plan(validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, optimizer: {name: adam, lr: 0.001}}"))
        let b = try plan(validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, optimizer: {name: adam, lr: 1e-3}}"))
        let c = try plan(validBase.replacingOccurrences(of: "batch: 4}", with: "batch: 4, optimizer: {name: adam, lr: 2e-3}}"))
        #expect(a.runs[0].id == b.runs[0].id)
        #expect(a.runs[0].id != c.runs[0].id)
        #expect(a.runs[0].canonical.contains("lr: 0.001\n"))
    }

    @Test func shortNamesAreUnique() {
        #expect(SweepGrid.shortNames(["training.tau_max", "training.seed"]) == ["tau_max", "seed"])
        #expect(SweepGrid.shortNames(["model.layers.0.units", "model.layers.1.units", "training.seed"])
                == ["0.units", "1.units", "seed"])
    }

    @Test func canonicalConfigFillsDefaults() throws {
        let p = try plan(validBase)
        let text = p.runs[0].canonical
        for line in ["tau_max: full", "  optimizer:", "    name: sgd", "    lr: 0.001", "shuffle: true", "precision: float32",
                     "seed: 1", "    - {type: dense, units: 1, activation: identity}"] {
            #expect(text.contains(line), "\(line) missing from\n\(text)")
        }
        #expect(p.runs[0].id.hasPrefix("run-"))
    }
}
