import Foundation

/// `experiment.json`: what the report needs to know about the grid beyond the CSVs. Written by
/// `ResultsStore.writeSummaries`, read by the report; one type on both ends.
public struct ExperimentRecord: Codable, Sendable, Equatable {
    public var name: String
    public var description: String
    /// Absolute path of the experiment file.
    public var file: String
    /// The summaries' key columns: the file's swept keys, then the keys that vary among the runs
    /// outside its grid (issue 29, bug 1).
    public var sweptKeys: [String]
    /// Every swept key's values, in sweep order (skipped points' values included).
    public var sweepValues: [String: [String]]
    /// Points of the grid, valid or skipped.
    public var gridSize: Int
    /// Valid points (runs).
    public var runs: Int
    /// The dataset's metric column (`val_accuracy`, `val_bpc`), or empty.
    public var metric: String
    public var skipped: [Skipped]
    /// The explain grid (SPEC 7) of each distinct (tau_b, tau_max).
    public var explain: [ExplainGrid]
    /// The dataset's dependency lags as `[lowest, highest]` pairs, when every run shares them
    /// (the report draws the predicted frontier); written as `null` otherwise.
    public var dependencyLags: [[Int]]?

    /// A grid point left out, and why.
    public struct Skipped: Codable, Sendable, Equatable {
        public var label: String
        public var reason: String
        /// Swept key → value as written.
        public var values: [String: String]
    }

    enum CodingKeys: String, CodingKey {
        case name, description, file, sweptKeys = "swept_keys", sweepValues = "sweep_values", gridSize = "grid_size"
        case runs, metric, skipped, explain, dependencyLags = "dependency_lags"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(file, forKey: .file)
        try c.encode(sweptKeys, forKey: .sweptKeys)
        try c.encode(sweepValues, forKey: .sweepValues)
        try c.encode(gridSize, forKey: .gridSize)
        try c.encode(runs, forKey: .runs)
        try c.encode(metric, forKey: .metric)
        try c.encode(skipped, forKey: .skipped)
        try c.encode(explain, forKey: .explain)
        try c.encode(dependencyLags, forKey: .dependencyLags)  // null when the runs' lags differ
    }

    /// The dependency lags as ranges (malformed pairs left out).
    public var lagRanges: [ClosedRange<Int>]? {
        dependencyLags?.compactMap { $0.count == 2 && $0[0] <= $0[1] ? $0[0]...$0[1] : nil }
    }

    /// The file's bytes: pretty-printed, keys sorted.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// Reads `experiment.json` (nil when it is not one).
    public static func decode(_ data: Data) -> ExperimentRecord? {
        try? JSONDecoder().decode(ExperimentRecord.self, from: data)
    }
}

/// One update's space × time grid as `experiment.json` keeps it (the `explain --json` object):
/// the `UpdateGrid` with the horizons it used, the layers' types and the dataset's lags.
public struct ExplainGrid: Codable, Sendable, Equatable {
    public var updateStep: Int
    public var previousStep: Int
    public var windowStart: Int
    public var tauB: Int
    public var tauMax: Int
    public var injected: [Int]
    public var layers: [Layer]
    public var dependencies: [Dependency]
    /// Random truncation's `c` (nil: a fixed window; absent in records written before it).
    public var randomContinue: Double? = nil
    /// Adaptive tau_max's `delta` (nil otherwise): the grid is the window the initial weights chose.
    public var adaptiveDelta: Double? = nil

    public struct Layer: Codable, Sendable, Equatable {
        public var index: Int
        public var type: String
        public var reached: [Int]
    }

    /// Whether some, and whether all, injected errors reach back `lag` steps.
    public struct Dependency: Codable, Sendable, Equatable {
        public var lag: Int
        public var some: Bool
        public var all: Bool
    }

    enum CodingKeys: String, CodingKey {
        case updateStep = "update_step", previousStep = "previous_step", windowStart = "window_start"
        case tauB = "tau_b", tauMax = "tau_max", injected, layers, dependencies
        case randomContinue = "random_continue", adaptiveDelta = "adaptive_delta"
    }
}
