/// Raw read-only pointers into a `SequenceBatch`, valid inside `SequenceBatch.withView`.
/// The engine's kernels take this handle so that the step loop touches no Swift arrays.
struct BatchView<Scalar: RNNScalar> {
    let lanes: Int          // B
    let steps: Int          // T
    let inputSize: Int      // I
    let outputSize: Int     // O
    let denseInputs: UnsafePointer<Scalar>?   // (T, B, I)
    let hotInputs: UnsafePointer<Int32>?      // (T, B)
    let valueTargets: UnsafePointer<Scalar>?  // (T, B, O)
    let classTargets: UnsafePointer<Int32>?   // (T, B)
    let mask: UnsafePointer<UInt8>            // (T, B)

    /// Row index of (step n, lane), n 1-based.
    @inline(__always) func row(_ n: Int, _ lane: Int) -> Int { (n - 1) * lanes + lane }
}

extension SequenceBatch {
    func withView<R>(_ body: (BatchView<Scalar>) -> R) -> R {
        func withInputs(_ f: (UnsafePointer<Scalar>?, UnsafePointer<Int32>?) -> R) -> R {
            switch inputs {
            case .dense(let x): return x.withUnsafeBufferPointer { f($0.baseAddress, nil) }
            case .oneHot(let x): return x.withUnsafeBufferPointer { f(nil, $0.baseAddress) }
            }
        }
        func withTargets(_ f: (UnsafePointer<Scalar>?, UnsafePointer<Int32>?) -> R) -> R {
            switch targets {
            case .values(let y): return y.withUnsafeBufferPointer { f($0.baseAddress, nil) }
            case .classes(let y): return y.withUnsafeBufferPointer { f(nil, $0.baseAddress) }
            }
        }
        return withInputs { dx, hx in
            withTargets { vy, cy in
                mask.withUnsafeBufferPointer { m in
                    body(BatchView(lanes: lanes, steps: steps, inputSize: inputSize, outputSize: outputSize,
                                   denseInputs: dx, hotInputs: hx, valueTargets: vy, classTargets: cy,
                                   mask: m.baseAddress!))
                }
            }
        }
    }
}
