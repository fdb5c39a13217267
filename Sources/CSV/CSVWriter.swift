/// RFC 4180 CSV text: a header row, `,` separators, CRLF-free (LF) lines, fields quoted only
/// where needed (a comma, quote or line break inside), quotes doubled.
public struct CSVWriter {
    public private(set) var text = ""

    public init(header: [String]) { append(header) }

    public mutating func append(_ fields: [String]) {
        text += fields.map(Self.field).joined(separator: ",")
        text += "\n"
    }

    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || s.hasPrefix(" ") || s.hasSuffix(" ") else {
            return s
        }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
