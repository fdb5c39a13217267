import Foundation

/// Chart geometry for the report, pure and unit-tested: scales from data to pixels, "nice" tick
/// values, and decade ticks for log axes. Non-finite values never reach a scale: `extent` skips
/// them, and callers drop such points.
public enum ChartScale {
    /// Smallest and largest finite value (positive only, for log axes), or nil if there is none.
    public static func extent(_ values: [Double], positiveOnly: Bool = false) -> (lo: Double, hi: Double)? {
        let finite = values.filter { $0.isFinite && (!positiveOnly || $0 > 0) }
        guard let lo = finite.min(), let hi = finite.max() else { return nil }
        return (lo, hi)
    }

    /// A log axis pays off when the data spans at least two decades.
    public static func wantsLog(_ values: [Double]) -> Bool {
        guard let e = extent(values), e.lo > 0, values.filter({ $0.isFinite }).allSatisfy({ $0 > 0 }) else { return false }
        return e.hi / e.lo >= 100
    }

    /// About `count` round tick values covering [lo, hi]: the step is 1, 2 or 5 × 10^e, whichever
    /// is closest (in ratio) to (hi - lo) / count; values are computed as integers scaled by 10^e
    /// so that they print exactly (0.6, not 0.6000000000000001).
    public static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        if lo == hi { return [lo] }
        let (a, b) = (min(lo, hi), max(lo, hi))
        let raw = (b - a) / Double(max(count, 1))
        let e = Int(floor(log10(raw)))
        let m = [1, 2, 5, 10].min { abs(log(Double($0) * pow(10, Double(e)) / raw)) < abs(log(Double($1) * pow(10, Double(e)) / raw)) }!
        func value(_ k: Int) -> Double { e < 0 ? Double(k * m) / pow(10, Double(-e)) : Double(k * m) * pow(10, Double(e)) }
        let step = value(1)
        var k = Int(ceil(a / step - 1e-9))
        var ticks: [Double] = []
        while value(k) <= b + step * 1e-9 && ticks.count < 100 {
            ticks.append(value(k))
            k += 1
        }
        return ticks
    }

    /// Powers of ten within [lo, hi] (at least the two around the data).
    public static func decadeTicks(_ lo: Double, _ hi: Double) -> [Double] {
        guard lo > 0, hi > 0, lo.isFinite, hi.isFinite else { return [] }
        let a = Int(floor(log10(min(lo, hi)))), b = Int(ceil(log10(max(lo, hi))))
        return (a...max(a, b)).map { pow(10, Double($0)) }
    }

    /// Compact tick label: `0.001`, `2.5`, `1e-05`, `30`.
    public static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e-3 && a < 1e5 {
            let s = String(format: "%.4g", v)
            return s
        }
        return String(format: "%.0e", v).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e-0", with: "e-")
    }
}

/// Maps a domain to pixels, linearly or logarithmically (base 10).
public struct AxisScale: Sendable {
    public let lo: Double
    public let hi: Double
    public let pixelLo: Double
    public let pixelHi: Double
    public let logarithmic: Bool

    public init(lo: Double, hi: Double, pixelLo: Double, pixelHi: Double, logarithmic: Bool = false) {
        // A degenerate domain is widened so that the one value sits in the middle.
        var (a, b) = (lo, hi)
        if a == b {
            if logarithmic { a /= 2; b *= 2 } else { a -= max(abs(a) * 0.1, 0.5); b += max(abs(b) * 0.1, 0.5) }
        }
        self.lo = a
        self.hi = b
        self.pixelLo = pixelLo
        self.pixelHi = pixelHi
        self.logarithmic = logarithmic
    }

    /// The pixel of `v`, or nil for values the axis cannot show (NaN, infinities, ≤ 0 on a log axis).
    public func callAsFunction(_ v: Double) -> Double? {
        guard v.isFinite, !logarithmic || v > 0 else { return nil }
        let t = logarithmic ? (log10(v) - log10(lo)) / (log10(hi) - log10(lo)) : (v - lo) / (hi - lo)
        return pixelLo + t * (pixelHi - pixelLo)
    }

    /// Tick values inside the domain.
    public var ticks: [Double] {
        if logarithmic {
            // At most about 8 labels: past that every second, third… decade (a diverging run's
            // loss can span thirty).
            let decades = ChartScale.decadeTicks(lo, hi).filter { $0 >= lo * (1 - 1e-9) && $0 <= hi * (1 + 1e-9) }
            let every = max(1, Int((Double(decades.count) / 8).rounded(.up)))
            return decades.filter { Int(log10($0).rounded()) % every == 0 }
        }
        let tolerance = (hi - lo) * 1e-9
        return ChartScale.niceTicks(lo, hi).filter { $0 >= lo - tolerance && $0 <= hi + tolerance }
    }
}

/// The viridis colour map (perceptually uniform, colour-blind safe), by linear interpolation
/// between 9 of its published anchor colours.
public enum Viridis {
    static let anchors: [(Double, Double, Double)] = [
        (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
        (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
    ]

    /// `#rrggbb` for t in [0, 1] (clamped).
    public static func color(_ t: Double) -> String {
        let x = min(max(t.isFinite ? t : 0, 0), 1) * Double(anchors.count - 1)
        let i = min(Int(x), anchors.count - 2)
        let f = x - Double(i)
        let (a, b) = (anchors[i], anchors[i + 1])
        func mix(_ p: Double, _ q: Double) -> Int { Int((p + (q - p) * f).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// Whether text on `color(t)` should be dark (the light end of the map).
    public static func wantsDarkText(_ t: Double) -> Bool { t > 0.55 }
}
