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
