import Foundation
import RNNCore

/// `csv`: the user's own sequences (SPEC section 4.1). One row per time step; rows with the same
/// value in the `sequence` column form one sequence, in file order (sequences in order of first
/// appearance). An empty target cell means "no target at this step". `validation: N` takes the
/// last N sequences; `validation_path` names a second file instead.
public enum CSVDataset {
    public static func load(_ config: DatasetConfig) throws(DatasetError) -> Dataset {
        let c = config.resolved()
        guard let path = c.path else { throw DatasetError(file: "csv", "dataset.path is missing") }
        let targetType = c.targetType ?? .real
        var train = try readSequences(path: path, config: c, targetType: targetType)
        var validation: [SequenceSample] = []
        if let vp = c.validationPath {
            validation = try readSequences(path: vp, config: c, targetType: targetType)
        } else if let n = c.validation, n > 0 {
            guard n < train.count else {
                throw DatasetError(file: path, "validation: \(n) takes every sequence of the file (it has \(train.count)); leave some for training")
            }
            validation = Array(train.suffix(n))
            train.removeLast(n)
        }
        if let t = c.train, t < train.count { train = Array(train.prefix(t)) }
        let outputs: Int
        switch targetType {
        case .class:
            var maxID: Int32 = 0
            for s in train + validation { if case .classes(let ids) = s.targets { maxID = max(maxID, ids.max() ?? 0) } }
            outputs = c.classes ?? Int(maxID) + 1
        case .real, .binary:
            outputs = c.targetColumns?.count ?? 1
        }
        let loss: Loss = targetType == .class ? .crossEntropy : targetType == .binary ? .binaryCrossEntropy : .mse
        let metric: MetricKind = targetType == .real ? .none : .accuracy
        return Dataset(kind: .csv, layout: .sequences, inputSize: c.inputColumns?.count ?? 0, outputSize: outputs,
                       defaultLoss: loss, metric: metric, train: train, validation: validation)
    }

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

        struct Builder { var x: [Double] = []; var t: [Double] = []; var ids: [Int32] = []; var mask: [Bool] = []; var line: Int }
        var order: [String] = []
        var builders: [String: Builder] = [:]
        let width = table.header.count
        for (r, row) in table.rows.enumerated() {
            let line = table.lines[r]
            guard row.count == width else {
                throw DatasetError(file: path, line: line, column: table.columns[r].last ?? 1,
                                   "the row has \(row.count) fields; the header has \(width)")
            }
            func number(_ col: Int) throws(DatasetError) -> Double {
                let text = row[col].trimmingCharacters(in: .whitespaces)
                guard let v = Double(text), v.isFinite else {
                    throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                       "column \"\(table.header[col])\": \"\(row[col])\" is not a number")
                }
                return v
            }
            let key = row[seqCol]
            var b = builders[key] ?? Builder(line: line)
            if builders[key] == nil { order.append(key) }
            for col in inputCols { b.x.append(try number(col)) }
            let empty = targetCols.map { row[$0].trimmingCharacters(in: .whitespaces).isEmpty }
            if empty.allSatisfy({ $0 }) {
                b.mask.append(false)
                if targetType == .class { b.ids.append(0) } else { b.t.append(contentsOf: repeatElement(0, count: targetCols.count)) }
            } else if let missing = empty.firstIndex(of: true) {
                let col = targetCols[missing]
                throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                   "column \"\(table.header[col])\" is empty while other targets of the row are not")
            } else {
                b.mask.append(true)
                for col in targetCols {
                    let v = try number(col)
                    switch targetType {
                    case .class:
                        guard v == v.rounded(), v >= 0, v < Double(c.classes ?? Int(Int32.max)) else {
                            let range = c.classes.map { "0 … \($0 - 1)" } ?? "0 or more"
                            throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                               "class id \(row[col]) is out of range (expected an integer \(range))")
                        }
                        b.ids.append(Int32(v))
                    case .binary:
                        guard v == 0 || v == 1 else {
                            throw DatasetError(file: path, line: line, column: table.columns[r][col],
                                               "binary target \(row[col]) is not 0 or 1")
                        }
                        b.t.append(v)
                    case .real:
                        b.t.append(v)
                    }
                }
            }
            builders[key] = b
        }
        return try order.map { (key: String) throws(DatasetError) -> SequenceSample in
            let b = builders[key]!
            guard b.mask.contains(true) else {
                throw DatasetError(file: path, line: b.line, column: 1, "sequence \"\(key)\" has no target at any step")
            }
            return SequenceSample(length: b.mask.count, inputs: .dense(b.x),
                                  targets: targetType == .class ? .classes(b.ids) : .values(b.t), mask: b.mask)
        }
    }
}
