import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 8: `--shard I/N` slices are a partition, stable, and balanced by expected cost.
@Suite("Sharding")
struct ShardingTests {
    static func items(_ n: Int, seed: UInt64) -> [(id: String, cost: Double)] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in ("run-\(i)", 1 + rng.unit() * 99) }  // costs 1 ... 100
    }

    /// Every run in exactly one shard, for N = 1...50 and grids of 1...500; the largest shard's
    /// cost is at most the mean plus the largest single run (the greedy LPT bound).
    @Test func shardsPartitionTheGridAndAreBalanced() {
        for size in [1, 2, 3, 7, 12, 50, 199, 500] {
            let items = Self.items(size, seed: UInt64(size))
            let maxItem = items.map(\.cost).max()!
            let total = items.map(\.cost).reduce(0, +)
            for n in 1...50 {
                let owner = Sharding.assign(items, shards: n)
                #expect(owner.count == size && owner.allSatisfy { $0 >= 0 && $0 < n }, "grid \(size), N \(n)")
                var load = [Double](repeating: 0, count: n)
                for (i, s) in owner.enumerated() { load[s] += items[i].cost }
                #expect(abs(load.reduce(0, +) - total) < 1e-6)
                #expect(load.max()! <= total / Double(n) + maxItem + 1e-9, "grid \(size), N \(n): \(load.max()!) vs mean \(total / Double(n))")
            }
        }
    }

    /// The same grid gives the same slices whatever order the runs are listed in.
    @Test func assignmentIsStable() {
        let items = Self.items(120, seed: 9)
        let a = Sharding.assign(items, shards: 7)
        let reversed = Sharding.assign(items.reversed(), shards: 7)
        #expect(a == reversed.reversed())
        #expect(a == Sharding.assign(items, shards: 7))
    }

    /// A real grid: the union of `plan --shard i/N` is the grid, each run once.
    @Test func shardsOfARealGrid() throws {
        let dir = scratchDirectory("shard")
        writeFile("\(dir)/g.yaml", validBase + "sweep:\n  training.seed: [1, 2, 3, 4, 5, 6, 7]\n  training.tau_max: [2, 3]\n")
        let plans = try Planner.plan(files: ["\(dir)/g.yaml"]).get()
        var seen: [String] = []
        for i in 0..<3 {
            seen += Sharding.select(plans, shard: Shard(index: i, count: 3)).map(\.run.id)
        }
        #expect(seen.sorted() == plans[0].runs.map(\.id).sorted())
    }

    /// The generated script for a fixed input matches the reviewed golden file.
    @Test func scriptMatchesTheGoldenFile() throws {
        let s = SlurmScript(files: ["experiments/copy-truncation.yaml"], overrides: ["training.epochs=5"], results: "results",
                            tasks: 4, parallel: 2, time: "01:00:00", cpusPerTask: 2, partition: "short", output: "slurm",
                            extraArguments: ["--account=rnn"], binary: "/opt/rnn-exp/bin/rnn-exp",
                            workingDirectory: "/home/me/project", name: "copy-truncation")
        let golden = try String(contentsOfFile: "\(repositoryRoot)/Tests/ExperimentsTests/Golden/copy-truncation.sbatch", encoding: .utf8)
        let goldenSummary = try String(contentsOfFile: "\(repositoryRoot)/Tests/ExperimentsTests/Golden/copy-truncation-summary.sbatch", encoding: .utf8)
        #expect(s.arrayScript == golden)
        #expect(s.summaryScript == goldenSummary)
        #expect(s.submitCommands == "jid=$(sbatch --parsable slurm/rnn-exp-copy-truncation.sbatch) && sbatch --dependency=afterany:${jid%%;*} slurm/rnn-exp-copy-truncation-summary.sbatch")
    }
}
