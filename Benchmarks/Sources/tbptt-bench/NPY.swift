import Foundation

/// A minimal reader for numpy `.npy` files (format 1.0–3.0, little-endian, C order): enough for
/// the arrays `tbptt_bench.py --export` writes (float32, float64, int64).
struct NPYArray {
    var shape: [Int]
    var descr: String
    var data: Data

    static func load(_ path: String) throws -> NPYArray {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("cannot read \(path)") }
        guard data.count > 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else { throw BenchError("\(path) is not a .npy file") }
        let major = data[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: data[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let d = field("descr"), let s = field("shape"), field("fortran_order")?.hasPrefix("False") == true else {
            throw BenchError("\(path): unsupported header \(header)")
        }
        let descr = String(d.dropFirst().prefix { $0 != "'" })
        let inner = s.dropFirst().prefix { $0 != ")" }
        let shape = inner.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return NPYArray(shape: shape, descr: descr, data: data.subdata(in: (headerStart + headerLength)..<data.count))
    }

    var count: Int { shape.reduce(1, *) }

    func floats() throws -> [Float] {
        switch descr {
        case "<f4": return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self).prefix(count)) }
        case "<f8": return data.withUnsafeBytes { $0.bindMemory(to: Double.self).prefix(count).map(Float.init) }
        default: throw BenchError("expected floats, found \(descr)")
        }
    }

    func int32s() throws -> [Int32] {
        switch descr {
        case "<i8": return data.withUnsafeBytes { $0.bindMemory(to: Int64.self).prefix(count).map { Int32($0) } }
        case "<i4": return data.withUnsafeBytes { Array($0.bindMemory(to: Int32.self).prefix(count)) }
        default: throw BenchError("expected integers, found \(descr)")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}
