/// Invariant checks of the engine, compiled in only with `-Xswiftc -DRNN_INTERNAL_CHECKS`
/// (swift-collections' `COLLECTIONS_INTERNAL_CHECKS`): workspace bounds, window bounds
/// (`m >= max(s, n - tau_max + 1)`) and finite deltas per step. Off in release; `make test`
/// runs the core tests once with them on. Messages say what and where.
@inline(__always)
func internalCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    #if RNN_INTERNAL_CHECKS
    if !condition() { preconditionFailure("RNN_INTERNAL_CHECKS: \(message())") }
    #endif
}

/// Checks that `count` values from `p` are finite (only with RNN_INTERNAL_CHECKS).
@inline(__always)
func checkFinite<Scalar: RNNScalar>(_ p: UnsafePointer<Scalar>, count: Int, _ what: @autoclosure () -> String) {
    #if RNN_INTERNAL_CHECKS
    for i in 0..<count where !p[i].isFinite {
        preconditionFailure("RNN_INTERNAL_CHECKS: \(what()): \(p[i]) at element \(i)")
    }
    #endif
}
