import Foundation
import RNNCore

/// Reads and writes the safetensors format (8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}}`, then the raw little-endian tensor bytes), readable by
/// the Python `safetensors` package. Tensor names are `layers.<i>.W_s`, `layers.<i>.W_t`,
/// `layers.<i>.b` (SPEC section 6).
public enum Safetensors {
    /// One named tensor: its shape (row-major) and values.
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var values: [Double]
        public init(name: String, shape: [Int], values: [Double]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Encodes `parameters` (in `ParameterLayout` order) as F32 or F64 tensors.
    public static func encode(_ parameters: [Double], spec: NetworkSpec, precision: Precision, metadata: [String: String] = [:]) -> Data {
        let tensors = ParameterLayout(spec).namedTensors(spec).map {
            Tensor(name: $0.name, shape: $0.shape, values: Array(parameters[$0.range]))
        }
        return encode(tensors, precision: precision, metadata: metadata)
    }

    /// Encodes tensors in the given order, every one as F32 or F64, with string metadata.
    public static func encode(_ tensors: [Tensor], precision: Precision, metadata: [String: String] = [:]) -> Data {
        let width = precision == .float32 ? 4 : 8
        var entries: [String: Any] = [:]
        if !metadata.isEmpty { entries["__metadata__"] = metadata }
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * width
            entries[t.name] = ["dtype": precision == .float32 ? "F32" : "F64", "shape": t.shape,
                               "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        let json = (try? JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var header = String(decoding: json, as: UTF8.self)
        // The data section starts on an 8-byte boundary (the format pads the header with spaces).
        while (header.utf8.count + 8) % 8 != 0 { header += " " }
        var data = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
        data.append(contentsOf: header.utf8)
        data.reserveCapacity(data.count + offset)
        for t in tensors {
            for x in t.values {
                if precision == .float32 {
                    var v = Float(x).bitPattern.littleEndian
                    withUnsafeBytes(of: &v) { data.append(contentsOf: $0) }
                } else {
                    var v = x.bitPattern.littleEndian
                    withUnsafeBytes(of: &v) { data.append(contentsOf: $0) }
                }
            }
        }
        return data
    }

    /// A decoded file: its F32/F64 tensors by name (values widened to float64) and its metadata.
    public struct File: Sendable {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
        /// Tensors of another dtype (I64, BF16, …), left out of `tensors`.
        public var otherDtypes: Set<String> = []
    }

    /// Reads every F32/F64 tensor and the metadata; a plain sentence when the file is damaged.
    public static func decode(_ data: Data) -> Result<File, SafetensorsError> {
        guard data.count >= 8 else { return .failure(.init("the file is too short to be safetensors")) }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n <= UInt64(data.count - 8), n < 100_000_000 else { return .failure(.init("the header length \(n) exceeds the file")) }
        let headerData = data.subdata(in: 8..<(8 + Int(n)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            return .failure(.init("the header is not a JSON object"))
        }
        let body = data.suffix(from: 8 + Int(n))
        var file = File(tensors: [:], metadata: header["__metadata__"] as? [String: String] ?? [:])
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let shape = entry["shape"] as? [Int], shape.allSatisfy({ $0 >= 0 }),
                  let dtype = entry["dtype"] as? String, let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                return .failure(.init("\(name): a tensor needs a dtype, a shape and data offsets"))
            }
            guard dtype == "F32" || dtype == "F64" else {
                file.otherDtypes.insert(name)
                continue
            }
            let width = dtype == "F32" ? 4 : 8
            let count = shape.reduce(1, *)
            guard offsets[0] >= 0, offsets[1] <= body.count, offsets[1] - offsets[0] == count * width else {
                return .failure(.init("\(name): data offsets \(offsets) do not fit the file"))
            }
            let start = body.startIndex + offsets[0]
            var values = [Double](repeating: 0, count: count)
            for k in 0..<count {
                let at = start + k * width
                if width == 4 {
                    let bits = body[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian
                    values[k] = Double(Float(bitPattern: bits))
                } else {
                    let bits = body[at..<(at + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
                    values[k] = Double(bitPattern: bits)
                }
            }
            file.tensors[name] = Tensor(name: name, shape: shape, values: values)
        }
        return .success(file)
    }

    /// Reads the parameters of `spec` from a safetensors file; a plain sentence on any mismatch.
    public static func decode(_ data: Data, spec: NetworkSpec) -> Result<[Double], SafetensorsError> {
        let file: File
        switch decode(data) {
        case .success(let f): file = f
        case .failure(let e): return .failure(e)
        }
        var out = [Double](repeating: 0, count: ParameterLayout(spec).count)
        for t in ParameterLayout(spec).namedTensors(spec) {
            if file.otherDtypes.contains(t.name) { return .failure(.init("\(t.name): only F32 and F64 tensors can be read")) }
            guard let tensor = file.tensors[t.name] else { return .failure(.init("no tensor named \(t.name)")) }
            guard tensor.shape == t.shape else {
                return .failure(.init("\(t.name) has shape \(tensor.shape), the model needs \(t.shape)"))
            }
            out.replaceSubrange(t.range, with: tensor.values)
        }
        return .success(out)
    }
}

public struct SafetensorsError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ s: String) { description = s }
}
