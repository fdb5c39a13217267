import Foundation
import RNNCore

/// Reads and writes the safetensors format (8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}}`, then the raw little-endian tensor bytes), readable by
/// the Python `safetensors` package. Tensor names are `layers.<i>.W_s`, `layers.<i>.W_t`,
/// `layers.<i>.b` (SPEC section 6).
public enum Safetensors {
    /// Encodes `parameters` (in `ParameterLayout` order) as F32 or F64 tensors.
    public static func encode(_ parameters: [Double], spec: NetworkSpec, precision: Precision, metadata: [String: String] = [:]) -> Data {
        let tensors = ParameterLayout(spec).namedTensors(spec)
        let width = precision == .float32 ? 4 : 8
        var entries: [String: Any] = [:]
        if !metadata.isEmpty { entries["__metadata__"] = metadata }
        var offset = 0
        for t in tensors {
            let bytes = t.range.count * width
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
            for i in t.range {
                if precision == .float32 {
                    var v = Float(parameters[i]).bitPattern.littleEndian
                    withUnsafeBytes(of: &v) { data.append(contentsOf: $0) }
                } else {
                    var v = parameters[i].bitPattern.littleEndian
                    withUnsafeBytes(of: &v) { data.append(contentsOf: $0) }
                }
            }
        }
        return data
    }

    /// Reads the parameters of `spec` from a safetensors file; a plain sentence on any mismatch.
    public static func decode(_ data: Data, spec: NetworkSpec) -> Result<[Double], SafetensorsError> {
        guard data.count >= 8 else { return .failure(.init("the file is too short to be safetensors")) }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n <= UInt64(data.count - 8), n < 100_000_000 else { return .failure(.init("the header length \(n) exceeds the file")) }
        let headerData = data.subdata(in: 8..<(8 + Int(n)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            return .failure(.init("the header is not a JSON object"))
        }
        let body = data.suffix(from: 8 + Int(n))
        var out = [Double](repeating: 0, count: ParameterLayout(spec).count)
        for t in ParameterLayout(spec).namedTensors(spec) {
            guard let entry = header[t.name] as? [String: Any] else { return .failure(.init("no tensor named \(t.name)")) }
            guard let shape = entry["shape"] as? [Int], shape == t.shape else {
                return .failure(.init("\(t.name) has shape \(entry["shape"] ?? "?"), the model needs \(t.shape)"))
            }
            guard let dtype = entry["dtype"] as? String, dtype == "F32" || dtype == "F64",
                  let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                return .failure(.init("\(t.name): only F32 and F64 tensors can be read"))
            }
            let width = dtype == "F32" ? 4 : 8
            guard offsets[1] - offsets[0] == t.range.count * width, offsets[0] >= 0, offsets[1] <= body.count else {
                return .failure(.init("\(t.name): data offsets \(offsets) do not fit the file"))
            }
            let start = body.startIndex + offsets[0]
            for (k, i) in t.range.enumerated() {
                let at = start + k * width
                if width == 4 {
                    let bits = body[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian
                    out[i] = Double(Float(bitPattern: bits))
                } else {
                    let bits = body[at..<(at + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
                    out[i] = Double(bitPattern: bits)
                }
            }
        }
        return .success(out)
    }

}

public struct SafetensorsError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ s: String) { description = s }
}
