/// Relative error as swift-numerics scales it: |a − b| / max(|a|, |b|, floor).
public func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-6) -> Double {
    abs(a - b) / max(abs(a), abs(b), floor)
}

/// Worst relative error over two vectors, with its index.
public func worstRelativeError(_ a: [Double], _ b: [Double], floor: Double = 1e-6) -> (error: Double, index: Int) {
    var worst = (error: 0.0, index: -1)
    for i in 0..<a.count {
        let e = relativeError(a[i], b[i], floor: floor)
        if e > worst.error || worst.index < 0 { worst = (e, i) }
    }
    return worst
}
