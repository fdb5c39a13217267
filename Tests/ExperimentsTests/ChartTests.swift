import Foundation
import Testing
@testable import Experiments
import RNNTestSupport

/// Issue 7: chart geometry of the report — scales, ticks, log axes, NaN handling, colour map.
@Suite("Report charts")
struct ChartTests {
    @Test func niceTicksAreRoundAndCoverTheRange() {
        #expect(ChartScale.niceTicks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(ChartScale.niceTicks(0, 30) == [0, 5, 10, 15, 20, 25, 30])
        #expect(ChartScale.niceTicks(0.66, 0.745, count: 4) == [0.66, 0.68, 0.7, 0.72, 0.74])
        #expect(ChartScale.niceTicks(3, 3) == [3])
        #expect(ChartScale.niceTicks(.nan, 1).isEmpty)
    }

    @Test func logAxesUseDecades() {
        #expect(ChartScale.wantsLog([0.001, 0.5, 0.7]))
        #expect(!ChartScale.wantsLog([0.2, 0.7]))           // less than two decades
        #expect(!ChartScale.wantsLog([0, 0.001, 0.7]))       // a zero cannot be drawn on a log axis
        #expect(ChartScale.decadeTicks(0.003, 0.7) == [0.001, 0.01, 0.1, 1])
        let s = AxisScale(lo: 0.001, hi: 1, pixelLo: 300, pixelHi: 0, logarithmic: true)
        #expect(s(0.001) == 300 && s(1) == 0 && abs(s(0.03162277660168379)! - 150) < 1e-9)
        #expect(s.ticks == [0.001, 0.01, 0.1, 1])
    }

    @Test func nonFiniteValuesAreDropped() {
        #expect(ChartScale.extent([.nan, 2, .infinity, -1])! == (-1, 2))
        #expect(ChartScale.extent([.nan]) == nil)
        #expect(ChartScale.extent([-1, 0, 0.5], positiveOnly: true)! == (0.5, 0.5))
        let s = AxisScale(lo: 0, hi: 10, pixelLo: 0, pixelHi: 100)
        #expect(s(.nan) == nil && s(.infinity) == nil && s(5) == 50)
        let log = AxisScale(lo: 1, hi: 100, pixelLo: 0, pixelHi: 100, logarithmic: true)
        #expect(log(0) == nil && log(-3) == nil && log(10) == 50)
    }

    @Test func degenerateDomainsAreWidened() {
        let s = AxisScale(lo: 2, hi: 2, pixelLo: 0, pixelHi: 100)
        #expect(s(2) == 50)
    }

    @Test func viridisEndsAndMiddle() {
        #expect(Viridis.color(0) == "#440154")
        #expect(Viridis.color(1) == "#fde725")
        #expect(Viridis.color(0.5) == "#21908d")
        #expect(Viridis.color(-1) == "#440154" && Viridis.color(.nan) == "#440154")
    }

    @Test func labelsAreCompact() {
        #expect(ChartScale.label(0.001) == "0.001")
        #expect(ChartScale.label(1e-5) == "1e-5")
        #expect(ChartScale.label(30) == "30")
        #expect(ChartScale.label(0.123456) == "0.1235")
    }

    /// Issue 24 bug 5: a min–max band reaching far below the axis (credit down to 2.8e-23 on a
    /// log axis that covers the means) stays inside the plot instead of spilling over "lag k".
    @Test func bandsStayInsideThePlot() {
        var pts: [(Double, Double, Double, Double)] = []
        for k in 0...8 {
            let mean: Double = pow(10, -Double(k) / 2)
            let low: Double = k < 6 ? mean / 3 : 2.8e-23
            pts.append((Double(k), mean, low, mean * 2))
        }
        let chart = LineChart(title: "credit", xLabel: "lag k", yLabel: "credit", series: [("tau_max=4", "#440154", "", pts)],
                              yValues: pts.map(\.1), xValues: pts.map(\.0))
        let svg = chart.svg()
        // The plot area: top 26, bottom 330 − 44 (LineChart's margins).
        var ys: [Double] = []
        for shape in ["polygon points=\"", "polyline points=\""] {
            for part in svg.components(separatedBy: shape).dropFirst() {
                let list = part.prefix { $0 != "\"" }
                ys += list.split(separator: " ").compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
            }
        }
        #expect(ys.count > 20)
        #expect(ys.allSatisfy { $0 >= 26 && $0 <= 286 }, "\(ys.filter { $0 < 26 || $0 > 286 })")
        #expect(svg.contains("clip-path=\"url(#plot"))
    }

    /// Issue 24 bug 6: the update grid's step labels do not collide ("1516"): a fifth next to the
    /// update's step is left out.
    @Test func gridStepLabelsDoNotCollide() {
        #expect(HTMLReport.gridTickSteps(Array(1...16), updateStep: 16) == [5, 10, 16])
        #expect(HTMLReport.gridTickSteps(Array(1...25), updateStep: 25) == [5, 10, 15, 20, 25])
        #expect(HTMLReport.gridTickSteps(Array(1...6), updateStep: 6) == [6])
        #expect(HTMLReport.gridTickSteps(Array(1...4), updateStep: 4) == [4])
        for update in 10...120 {
            let labels = HTMLReport.gridTickSteps(Array(max(1, update - 59)...update), updateStep: update)
            #expect(zip(labels, labels.dropFirst()).allSatisfy { $1 - $0 >= 3 }, "\(update): \(labels)")
        }
    }
}
