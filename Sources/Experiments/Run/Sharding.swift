import Foundation

/// A slice of a grid: the `index`-th (0-based) of `count` disjoint slices (`--shard I/N`).
public struct Shard: Sendable, Equatable {
    public let index: Int
    public let count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, index >= 0, index < count else { return nil }
        self.index = index
        self.count = count
    }

    /// `I/N`, e.g. `0/4`.
    public init?(text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: i, count: n)
    }
}

/// Deterministic slicing of a grid into shards, balanced by expected cost.
public enum Sharding {
    /// Expected cost of a run: sample steps per epoch × epochs × (units² + units·inputs) summed over layers.
    public static func cost(_ c: ExperimentConfig) -> Double {
        let steps = Double(c.dataset.train ?? 1) * Double(max(1, c.layout == .stream ? 1 : c.dataset.stepsPerSequence))
        let work = c.networkSpec.layers.reduce(0.0) { $0 + Double($1.units) * Double($1.units + $1.inputs) }
        return steps * Double(c.epochs) * max(work, 1)
    }

    /// The runs of `shard` (every run when nil), in grid order.
    public static func select(_ plans: [ExperimentPlan], shard: Shard?) -> [(plan: ExperimentPlan, run: PlannedRun)] {
        let all = plans.flatMap { p in p.runs.map { (plan: p, run: $0) } }
        guard let shard else { return all }
        let owner = assign(all.map { ($0.run.id, cost($0.run.config)) }, shards: shard.count)
        return all.enumerated().filter { owner[$0.offset] == shard.index }.map(\.element)
    }

    /// The shard of each item: greedy longest-processing-time assignment over items sorted by
    /// (cost descending, id), so the result depends only on the ids and costs, not on order.
    public static func assign(_ items: [(id: String, cost: Double)], shards: Int) -> [Int] {
        let n = max(shards, 1)
        var load = [Double](repeating: 0, count: n)
        var owner = [Int](repeating: 0, count: items.count)
        let order = items.indices.sorted { a, b in
            items[a].cost != items[b].cost ? items[a].cost > items[b].cost : items[a].id < items[b].id
        }
        for i in order {
            var best = 0
            for s in 1..<n where load[s] < load[best] { best = s }
            owner[i] = best
            load[best] += items[i].cost
        }
        return owner
    }
}
