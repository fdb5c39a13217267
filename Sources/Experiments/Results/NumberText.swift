/// Numbers as text for CSV and YAML: `.` as decimal point whatever the locale, and the shortest
/// digits that read back to exactly the same value (Swift's `description` of a `Double`).
public enum NumberText {
    public static func format(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return d.description
    }

    public static func format(_ d: Double?) -> String { d.map { format($0) } ?? "" }
}

/// Durations for people: `12.3s`, `4m05s`, `2h07m` (`?` when not finite).
public enum DurationText {
    public static func format(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        if s < 60 { return String(format: "%.1fs", s) }
        if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
    }
}
