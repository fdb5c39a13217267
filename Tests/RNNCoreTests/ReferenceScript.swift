import Foundation
import Testing
import RNNCore

/// The case both numpy references read (`Tests/Reference/make_golden.py`,
/// `Tests/Reference/online_reference.py`): the network (layers, loss, weights) and one batch,
/// time-major — `inputs` (T, B, I), `mask` (T, B), `lengths` (B), `targets` (T, B) class ids or
/// (T, B, O) values. Dense inputs only. Each script adds its own keys.
func referenceCase(spec: NetworkSpec, weights: [Double], samples: [SequenceSample]) throws -> [String: Any] {
    let batch = SequenceBatch<Double>(samples, inputSize: spec.inputs, outputSize: spec.outputs)
    let t = batch.steps, b = batch.lanes, i = spec.inputs, o = spec.outputs
    guard case .dense(let x) = batch.inputs else { throw ReferenceScriptError("the reference cases take dense inputs only") }
    var json: [String: Any] = [
        "layers": spec.layers.map { layer -> [String: Any] in
            var out: [String: Any] = ["kind": layer.kind.rawValue, "inputs": layer.inputs, "units": layer.units,
                                      "activation": layer.activation.rawValue]
            if layer.kind == .lru { out["state"] = layer.stateSize }
            return out
        },
        "loss": spec.loss.rawValue, "weights": weights,
        "inputs": (0..<t).map { n in (0..<b).map { l in Array(x[((n * b + l) * i)..<((n * b + l + 1) * i)]) } },
        "mask": (0..<t).map { n in (0..<b).map { batch.mask[n * b + $0] != 0 } },
        "lengths": batch.lengths,
    ]
    switch batch.targets {
    case .classes(let y): json["targets"] = (0..<t).map { n in (0..<b).map { Int(y[n * b + $0]) } }
    case .values(let y):
        json["targets"] = (0..<t).map { n in (0..<b).map { l in Array(y[((n * b + l) * o)..<((n * b + l + 1) * o)]) } }
    }
    return json
}

/// Runs `python3 SCRIPT CASE.json OUT.json [EXTRA_1.json ...]` on `json` in a temporary folder;
/// returns the parsed JSON of `OUT.json` and then of each of the `extraOutputs` files.
func runReferenceScript(_ script: URL, case json: [String: Any], extraOutputs: Int = 0) throws -> [Any] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rnn-exp-reference-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("case.json")
    let outputs = (0...extraOutputs).map { dir.appendingPathComponent("out\($0).json") }
    try JSONSerialization.data(withJSONObject: json).write(to: input)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path, input.path] + outputs.map(\.path)
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(script.lastPathComponent) failed")
    return try outputs.map { try JSONSerialization.jsonObject(with: Data(contentsOf: $0)) }
}

struct ReferenceScriptError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
