import Foundation

/// A problem with a data file, located at its line and column (1-based, the column in bytes;
/// 0 when unknown). The CSV reader's syntax errors, and every dataset error (`DatasetError`).
public struct DataFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int = 0, column: Int = 0, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { line > 0 ? "\(file):\(line):\(column): \(message)" : "\(file): \(message)" }
}

/// A small RFC 4180 reader that keeps every field's physical position, so that errors name the
/// file, line and column. Handles a UTF-8 byte-order mark, CRLF and LF line ends, quoted fields
/// (with `""` escapes and line breaks inside quotes). Works on bytes: 1e6 rows read in about a
/// second.
public struct CSVTable: Sendable {
    /// Header names, in order.
    public let header: [String]
    /// Every record after the header: its fields, the line each starts on, and the column (1-based,
    /// in bytes) where each field starts.
    public let rows: [[String]]
    public let lines: [Int]
    public let columns: [[Int]]
    public let file: String

    /// Parses `data`; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws(DataFileError) -> CSVTable {
        var bytes = data.withUnsafeBytes { [UInt8]($0) }
        var start = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }
        guard bytes.count > start else { throw DataFileError(file: file, line: 1, column: 1, "the file is empty") }
        bytes.append(0x0A)  // sentinel line end
        var records: [[String]] = [], lines: [Int] = [], columns: [[Int]] = []
        var fields: [String] = [], fieldColumns: [Int] = []
        var line = 1, lineStart = start
        var recordLine = 1
        var i = start
        var field: [UInt8] = []
        var atRecordStart = true
        let n = bytes.count
        while i < n {
            // Start of a field.
            let fieldColumn = i - lineStart + 1
            if atRecordStart { recordLine = line }
            atRecordStart = false
            field.removeAll(keepingCapacity: true)
            if bytes[i] == 0x22 {  // quoted
                let quoteLine = line, quoteColumn = fieldColumn
                i += 1
                var closed = false
                while i < n - 1 || (i == n - 1 && bytes[i] != 0x0A) {
                    let c = bytes[i]
                    if c == 0x22 {
                        if i + 1 < n && bytes[i + 1] == 0x22 { field.append(0x22); i += 2; continue }
                        i += 1
                        closed = true
                        break
                    }
                    if c == 0x0A { line += 1; lineStart = i + 1 }
                    field.append(c)
                    i += 1
                }
                if !closed {
                    throw DataFileError(file: file, line: quoteLine, column: quoteColumn, "a quoted field is never closed")
                }
                if i < n && bytes[i] != 0x2C && bytes[i] != 0x0A && bytes[i] != 0x0D {
                    throw DataFileError(file: file, line: line, column: i - lineStart + 1,
                                       "unexpected character after a closing quote")
                }
            } else {
                while i < n && bytes[i] != 0x2C && bytes[i] != 0x0A && !(bytes[i] == 0x0D && i + 1 < n && bytes[i + 1] == 0x0A) {
                    if bytes[i] == 0x22 {
                        throw DataFileError(file: file, line: line, column: i - lineStart + 1,
                                           "a quote inside an unquoted field (quote the whole field and double the quote)")
                    }
                    field.append(bytes[i])
                    i += 1
                }
            }
            fields.append(String(decoding: field, as: UTF8.self))
            fieldColumns.append(fieldColumn)
            if i < n && bytes[i] == 0x2C {
                i += 1
                continue
            }
            // End of record (CRLF or LF).
            if i < n && bytes[i] == 0x0D { i += 1 }
            i += 1
            let blank = fields.count == 1 && fields[0].isEmpty
            if !blank {
                records.append(fields)
                lines.append(recordLine)
                columns.append(fieldColumns)
            }
            fields = []
            fieldColumns = []
            line += 1
            lineStart = i
            atRecordStart = true
        }
        guard let header = records.first else {
            throw DataFileError(file: file, line: 1, column: 1, "the file is empty")
        }
        return CSVTable(header: header, rows: Array(records.dropFirst()), lines: Array(lines.dropFirst()),
                        columns: Array(columns.dropFirst()), file: file)
    }
}
