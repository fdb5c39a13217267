/// The lags at which a dataset's targets depend on its inputs (SPEC 3.2): a target at step `n`
/// depends on the input at step `n - L` for each lag `L` in the ranges.
///
/// From SPEC 3, a dependency of lag `L` receives gradient from some injected errors iff
/// `tau_max >= L + 1`, and from all of them iff `tau_max - tau_b >= L`.
public struct DependencyLags: Sendable, Equatable, CustomStringConvertible {
    /// Disjoint or overlapping ranges of lags (an exact lag `L` is `L...L`), in ascending order.
    public var ranges: [ClosedRange<Int>]

    public init(ranges: [ClosedRange<Int>]) { self.ranges = ranges.sorted { $0.lowerBound < $1.lowerBound } }

    /// Exactly these lags.
    public static func exact(_ lags: [Int]) -> DependencyLags {
        DependencyLags(ranges: Set(lags).sorted().map { $0...$0 })
    }

    /// Every lag in `range`.
    public static func every(_ range: ClosedRange<Int>) -> DependencyLags { DependencyLags(ranges: [range]) }

    /// The longest lag.
    public var longest: Int { ranges.map(\.upperBound).max() ?? 0 }

    public func contains(_ lag: Int) -> Bool { ranges.contains { $0.contains(lag) } }

    /// `3, 8` or `0...9` or `10...19, 0...9`.
    public var description: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)...\($0.upperBound)" }
            .joined(separator: ", ")
    }
}
