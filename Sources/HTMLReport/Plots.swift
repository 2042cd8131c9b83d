import NetrigCore

/// Plots as inline SVG: readable without JavaScript, and every label escaped.
enum Plots {
    /// Baseline and patched samples of one metric as two strips of dots on a shared axis, each with its
    /// median as a bar. Dots are spread vertically (deterministically) so that dozens stay distinguishable.
    static func strip(_ metric: MetricComparison) -> Markup {
        let width = 640.0, left = 90.0, right = 20.0, rowHeight = 44.0, top = 10.0
        let values = metric.baseline + metric.patched
        guard let low = values.min(), let high = values.max() else { return [] }
        let pad = max((high - low) * 0.08, abs(high) * 0.002, 1e-9)
        let lo = low - pad, hi = high + pad
        func x(_ value: Double) -> Double { left + (value - lo) / (hi - lo) * (width - left - right) }
        var parts: [String] = []
        let rows: [(String, [Double], Double, String)] = [("baseline", metric.baseline, metric.baselineMedian, "#4a6fa5"),
                                                          ("patched", metric.patched, metric.patchedMedian, "#c8553d")]
        for (index, row) in rows.enumerated() {
            let y = top + Double(index) * rowHeight
            parts.append("<text x=\"\(left - 8)\" y=\"\(fmt(y + rowHeight / 2 + 4))\" text-anchor=\"end\" class=\"label\">\(row.0)</text>")
            parts.append("<line x1=\"\(fmt(left))\" x2=\"\(fmt(width - right))\" y1=\"\(fmt(y + rowHeight / 2))\" y2=\"\(fmt(y + rowHeight / 2))\" class=\"guide\"/>")
            for (n, value) in row.1.enumerated() {
                // Golden-ratio spread in [-1, 1): no two neighbours land on the same height.
                let jitter = (Double(n) * 0.618034).truncatingRemainder(dividingBy: 1) * 2 - 1
                parts.append("<circle cx=\"\(fmt(x(value)))\" cy=\"\(fmt(y + rowHeight / 2 + jitter * rowHeight * 0.3))\" r=\"4\" fill=\"\(row.3)\" fill-opacity=\"0.6\"><title>\(row.0) #\(n + 1): \(Markup.escape(number(value))) \(Markup.escape(metric.unit))</title></circle>")
            }
            if row.2.isFinite {
                parts.append("<line x1=\"\(fmt(x(row.2)))\" x2=\"\(fmt(x(row.2)))\" y1=\"\(fmt(y + 6))\" y2=\"\(fmt(y + rowHeight - 6))\" stroke=\"\(row.3)\" stroke-width=\"3\"><title>median \(Markup.escape(number(row.2)))</title></line>")
            }
        }
        let axisY = top + 2 * rowHeight + 4
        parts.append("<line x1=\"\(fmt(left))\" x2=\"\(fmt(width - right))\" y1=\"\(fmt(axisY))\" y2=\"\(fmt(axisY))\" class=\"axis\"/>")
        for tick in 0...4 {
            let value = lo + (hi - lo) * Double(tick) / 4
            parts.append("<line x1=\"\(fmt(x(value)))\" x2=\"\(fmt(x(value)))\" y1=\"\(fmt(axisY))\" y2=\"\(fmt(axisY + 5))\" class=\"axis\"/>")
            parts.append("<text x=\"\(fmt(x(value)))\" y=\"\(fmt(axisY + 18))\" text-anchor=\"middle\" class=\"tick\">\(Markup.escape(number(value)))</text>")
        }
        let height = axisY + 26
        let title = "\(metric.metric): baseline and patched samples (\(metric.unit))"
        return Markup(raw: "<svg class=\"plot\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" role=\"img\" aria-label=\"\(Markup.escape(title))\">"
                      + "<title>\(Markup.escape(title))</title>" + parts.joined() + "</svg>")
    }

    /// The phases of a run as one bar, each segment as long as the phase took.
    static func timeline(_ phases: [PhaseRecord]) -> Markup {
        let total = phases.map(\.seconds).reduce(0, +)
        guard total > 0 else { return [] }
        let width = 640.0, height = 28.0
        var x = 0.0
        var parts: [String] = []
        for (index, phase) in phases.enumerated() {
            let w = max(phase.seconds / total * width, 1)
            let fill = colour(index, failed: phase.outcome == .failed)
            let label = "\(phase.phase.rawValue): \(duration(phase.seconds))\(phase.outcome == .failed ? " (failed)" : "")"
            parts.append("<rect x=\"\(fmt(x))\" y=\"0\" width=\"\(fmt(w))\" height=\"\(fmt(height))\" fill=\"\(fill)\"><title>\(Markup.escape(label))</title></rect>")
            x += w
        }
        return Markup(raw: "<svg class=\"timeline\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" role=\"img\" aria-label=\"phase timeline\">"
                      + parts.joined() + "</svg>")
    }

    /// The colour of the `index`th phase, in the timeline and in the table's swatches.
    static func colour(_ index: Int, failed: Bool) -> String {
        let colours = ["#4a6fa5", "#6b9080", "#c8553d", "#8e7dbe", "#d4a373", "#588157", "#9a8c98", "#e07a5f"]
        return failed ? "#b00020" : colours[index % colours.count]
    }

    static func fmt(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let magnitude = abs(value)
        let decimals = magnitude >= 1000 ? 0 : magnitude >= 10 ? 2 : 3
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return decimals == 0 ? String(Int(rounded)) : String(rounded)
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 60 ? "\(fmt(seconds)) s" : "\(Int(seconds) / 60)m\(Int(seconds) % 60 < 10 ? "0" : "")\(Int(seconds) % 60)s"
    }
}
