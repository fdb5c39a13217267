import CSV
import Foundation
import RNNCore

/// `s` without leading and trailing spaces and tabs (cheaper than Foundation's trimming, which
/// bridges through NSString).
func trimmed(_ s: String) -> Substring {
    var sub = Substring(s)
    while let f = sub.utf8.first, f == 0x20 || f == 0x09 { sub = sub.dropFirst() }
    while let l = sub.utf8.last, l == 0x20 || l == 0x09 { sub = sub.dropLast() }
    return sub
}

extension CSVDataset {
    /// The sequences of one file: rows grouped by the `sequence` column, in order of first appearance.
    static func readSequences(path: String, config c: DatasetConfig, targetType: TargetType) throws(DatasetError) -> [SequenceSample] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DatasetError(file: path, "cannot read the file (\(error.localizedDescription))")
        }
        let table = try CSVTable.parse(data, file: path)
        func index(of name: String) throws(DatasetError) -> Int {
            guard let i = table.header.firstIndex(of: name) else {
                throw DatasetError(file: path, line: 1, column: 1,
                                   "no column named \"\(name)\" (the header has: \(table.header.joined(separator: ", ")))")
            }
            return i
        }
        guard let seqName = c.sequence else { throw DatasetError(file: path, "dataset.sequence is missing") }
        let seqCol = try index(of: seqName)
        var inputCols: [Int] = [], targetCols: [Int] = []
        for name in c.inputColumns ?? [] { inputCols.append(try index(of: name)) }
        for name in c.targetColumns ?? [] { targetCols.append(try index(of: name)) }
        if targetType == .class && targetCols.count != 1 {
            throw DatasetError(file: path, "target_type: class takes exactly one target column")
        }
        guard !table.rows.isEmpty else { throw DatasetError(file: path, line: 2, column: 1, "the file has a header but no rows") }

        struct Builder { var x: [Double] = []; var t: [Double] = []; var ids: [Int32] = []; var mask: [Bool] = []; var line: Int; var key: String }
        // Builders are updated in place through their index: a sequence of any length costs linear time.
        var builders: [Builder] = []
        var index: [String: Int] = [:]
        let width = table.header.count
        for (r, row) in table.rows.enumerated() {
            let line = table.lines[r]
            guard row.count == width else {
                throw DatasetError(file: path, line: line, column: table.columns[r].last ?? 1,
                                   "the row has \(row.count) fields; the header has \(width)")
            }
            func number(_ col: Int) throws(DatasetError) -> Double {
                guard let v = Double(trimmed(row[col])), v.isFinite else {
                    throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                       "column \"\(table.header[col])\": \"\(row[col])\" is not a number")
                }
                return v
            }
            let key = row[seqCol]
            let k: Int
            if let existing = index[key] {
                k = existing
            } else {
                k = builders.count
                index[key] = k
                builders.append(Builder(line: line, key: key))
            }
            for col in inputCols { builders[k].x.append(try number(col)) }
            let empty = targetCols.map { trimmed(row[$0]).isEmpty }
            if empty.allSatisfy({ $0 }) {
                builders[k].mask.append(false)
                if targetType == .class { builders[k].ids.append(0) } else { builders[k].t.append(contentsOf: repeatElement(0, count: targetCols.count)) }
            } else if let missing = empty.firstIndex(of: true) {
                let col = targetCols[missing]
                throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                   "column \"\(table.header[col])\" is empty while other targets of the row are not")
            } else {
                builders[k].mask.append(true)
                for col in targetCols {
                    let v = try number(col)
                    switch targetType {
                    case .class:
                        guard v == v.rounded(), v >= 0, v < Double(c.classes ?? Int(Int32.max)) else {
                            let range = c.classes.map { "0 … \($0 - 1)" } ?? "0 or more"
                            throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                               "class id \(row[col]) is out of range (expected an integer \(range))")
                        }
                        builders[k].ids.append(Int32(v))
                    case .binary:
                        guard v == 0 || v == 1 else {
                            throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                               "binary target \(row[col]) is not 0 or 1")
                        }
                        builders[k].t.append(v)
                    case .real:
                        builders[k].t.append(v)
                    }
                }
            }
        }
        return try builders.map { (b: Builder) throws(DatasetError) -> SequenceSample in
            guard b.mask.contains(true) else {
                throw DatasetError(file: path, line: b.line, column: 1, "sequence \"\(b.key)\" has no target at any step")
            }
            return SequenceSample(length: b.mask.count, inputs: .dense(b.x),
                                  targets: targetType == .class ? .classes(b.ids) : .values(b.t), mask: b.mask)
        }
    }
}
