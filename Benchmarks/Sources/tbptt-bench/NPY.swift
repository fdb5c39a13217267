import Foundation

/// A minimal reader for numpy `.npy` files (format 1.0–3.0, little-endian, C order): enough for
/// the arrays `peers/common.py` exports (float32, float64, int64). It reads only the
/// elements asked for, straight into the destination array, so that the benchmark's peak memory
/// is the engine's and its data's, not a second copy of the file.
struct NPYArray {
    var path: String
    var shape: [Int]
    var descr: String
    var dataOffset: Int

    static func load(_ path: String) throws -> NPYArray {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BenchError("cannot read \(path)") }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 65_536)
        guard head.count > 10, head.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else { throw BenchError("\(path) is not a .npy file") }
        let bytes = [UInt8](head)
        let (headerLength, headerStart) = bytes[6] == 1
            ? (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
            : (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
        let header = String(decoding: bytes[headerStart..<min(headerStart + headerLength, bytes.count)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let d = field("descr"), let s = field("shape"), field("fortran_order")?.hasPrefix("False") == true else {
            throw BenchError("\(path): unsupported header \(header)")
        }
        let descr = String(d.dropFirst().prefix { $0 != "'" })
        let shape = s.dropFirst().prefix { $0 != ")" }.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return NPYArray(path: path, shape: shape, descr: descr, dataOffset: headerStart + headerLength)
    }

    var count: Int { shape.reduce(1, *) }

    /// Reads `n` elements of type `T` from the data section into a new array.
    private func read<T>(_ n: Int, as: T.Type) throws -> [T] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BenchError("cannot read \(path)") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(dataOffset))
        return try [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var done = 0
            while done < raw.count {
                let got = Foundation.read(handle.fileDescriptor, raw.baseAddress! + done, raw.count - done)
                guard got > 0 else { throw BenchError("\(path): short read") }
                done += got
            }
            initialized = n
        }
    }

    func floats(limit: Int? = nil) throws -> [Float] {
        let n = Swift.min(count, limit ?? count)
        switch descr {
        case "<f4": return try read(n, as: Float.self)
        case "<f8": return try read(n, as: Double.self).map(Float.init)
        default: throw BenchError("expected floats, found \(descr)")
        }
    }

    func int32s(limit: Int? = nil) throws -> [Int32] {
        let n = Swift.min(count, limit ?? count)
        switch descr {
        case "<i8": return try read(n, as: Int64.self).map { Int32($0) }
        case "<i4": return try read(n, as: Int32.self)
        default: throw BenchError("expected integers, found \(descr)")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}
