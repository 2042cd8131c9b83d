import Foundation
import NetrigCore

/// Text rendering of comparisons and runs for the terminal.
enum ComparisonReport {
    /// The guests' median CPU use per side while the samples were taken ("97→96%"), or "-".
    static func cpuText(_ metric: MetricComparison) -> String {
        guard metric.baselineCPU != nil || metric.patchedCPU != nil else { return "-" }
        let side = { (value: Double?) in value.map { String(format: "%.0f", $0) } ?? "?" }
        return "\(side(metric.baselineCPU))→\(side(metric.patchedCPU))%"
    }

    static func table(_ comparison: Comparison, baselineLabel: String = "baseline", patchedLabel: String = "patched") -> String {
        var rows: [[String]] = [["metric", "unit", "\(baselineLabel) median (n, cv)", "\(patchedLabel) median (n, cv)", "delta",
                                 "95% CI", "p", "threshold", "verdict", "cpu"]]
        for metric in comparison.metrics {
            rows.append([
                metric.metric, metric.unit,
                "\(number(metric.baselineMedian)) (\(metric.baseline.count), \(percent(Statistics.coefficientOfVariation(metric.baseline), signed: false)))",
                "\(number(metric.patchedMedian)) (\(metric.patched.count), \(percent(Statistics.coefficientOfVariation(metric.patched), signed: false)))",
                percent(metric.delta),
                metric.interval.map { "[\(percent($0.lowerBound)), \(percent($0.upperBound))]" } ?? "-",
                String(format: "%.3f", metric.pValue),
                percent(metric.threshold, signed: false),
                metric.advice == nil ? metric.verdictText : "inconclusive (below)",
                cpuText(metric),
            ])
        }
        var text = align(rows)
        if comparison.metrics.isEmpty { text += "no throughput samples\n" }
        for metric in comparison.metrics where metric.advice != nil { text += "\(metric.metric): \(metric.verdictText)\n" }
        text += "leaks: \(comparison.newLeaks.count) new, \(comparison.persistingLeaks.count) persisting, \(comparison.goneLeaks.count) gone"
            + (comparison.unconfirmedLeaks.isEmpty ? "" : ", \(comparison.unconfirmedLeaks.count) unconfirmed") + "\n"
        for leak in comparison.newLeaks {
            text += "  NEW LEAK \(leak.fingerprint) (\(leak.size) bytes, comm \(leak.comm))\n"
            for frame in leak.backtrace.prefix(8) { text += "      \(frame)\n" }
        }
        for leak in comparison.persistingLeaks { text += "  persisting: \(leak.fingerprint)\n" }
        for leak in comparison.unconfirmedLeaks {
            text += "  unconfirmed (patched side once, not again in the repeated leak check): \(leak.fingerprint)\n"
        }
        text += "splats: \(comparison.newSplats.count) new, \(comparison.preexistingSplats.count) pre-existing\n"
        for splat in comparison.newSplats { text += "  NEW \(splat.kind.rawValue): \(splat.title)\n" }
        for splat in comparison.preexistingSplats { text += "  pre-existing \(splat.kind.rawValue): \(splat.title)\n" }
        for line in comparison.unchecked { text += "NOT CHECKED: \(line)\n" }
        return text
    }

    static func align(_ rows: [[String]]) -> String {
        guard let columns = rows.first?.count else { return "" }
        let widths = (0..<columns).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingWhitespace
        }.joined(separator: "\n") + "\n"
    }

    static func number(_ value: Double) -> String {
        value.isNaN ? "-" : String(format: abs(value) >= 100 ? "%.1f" : "%.3f", value)
    }

    static func percent(_ value: Double, signed: Bool = true) -> String { Percent.format(value, signed: signed) }

    static func header(_ run: StoredRun) -> String {
        let boot = run.boots.first
        var text = "run \(run.summary.id): '\(run.summary.seriesTitle)'"
        if let series = run.series { text += " (\(series.patches.count) patch\(series.patches.count == 1 ? "" : "es"), v\(series.revision))" }
        text += "\n  " + (run.summary.treeName.isEmpty ? "tree not prepared" : "tree \(run.summary.treeName) at \(run.summary.baseCommit.prefix(12))")
            + ", config \(run.summary.configName), "
        text += "NIC \(run.plan.guestSetup), workload \(run.summary.workload)"
        if let boot { text += ", \(boot.accelerator.rawValue.uppercased()), \(boot.clock.rawValue) clock, kmemleak \(boot.kmemleak ? "on" : "off")" }
        if let hypervisor = run.environment?.hypervisor { text += ", \(hypervisor)" }
        text += "\n"
        if let accelerator = run.environment?.accelerator { text += "  accelerator: \(accelerator)\n" }
        if let fallback = run.environment?.acceleratorFallback { text += "  ACCELERATOR FALLBACK: \(fallback); every boot ran under TCG\n" }
        for build in run.builds {
            text += "  \(build.side.rawValue) kernel \(build.commit.prefix(12)): "
            text += build.cached ? "cached" : "built in \(TerminalProgress.duration(build.buildSeconds))"
            if let ratio = build.ccacheHitRatio { text += String(format: ", ccache hits %.0f%%", ratio * 100) }
            text += "\n"
        }
        if let changes = run.configChanges, !changes.isEmpty {
            text += "  the series changes the effective config: "
                + changes.map { "\($0.symbol) \($0.baseline) → \($0.patched)" }.joined(separator: ", ") + "\n"
        }
        for build in run.patchBuilds {
            text += "  patch \(build.patch)/\(run.patchBuilds.count) \(build.commit.prefix(12)): "
            text += build.succeeded ? (build.cached ? "cached" : "built in \(TerminalProgress.duration(build.seconds))") : "DOES NOT BUILD"
            if !build.newWarnings.isEmpty { text += ", \(build.newWarnings.count) NEW WARNING(S)" }
            text += "\n"
            for line in (build.succeeded ? build.newWarnings : [build.firstError].compactMap { $0 }).prefix(5) { text += "      \(line)\n" }
        }
        for boot in run.boots {
            text += "  \(boot.side.rawValue) boot: SSH after \(String(format: "%.1f", boot.bootSeconds)) s"
            if let reason = boot.unsupportedReason { text += ", workload unsupported: \(reason)" }
            text += "\n"
        }
        if !run.phases.isEmpty {
            text += "  phases: " + run.phases.map { "\($0.phase.rawValue) \(TerminalProgress.duration($0.seconds))\($0.outcome == .failed ? " (failed)" : "")" }
                .joined(separator: ", ") + "\n"
        }
        return text
    }

    /// The verdict line's explanation: what an inconclusive or error verdict means for the series.
    /// What an inconclusive comparison left open: undecided metrics, and checks that did not run.
    static func openText(_ comparison: Comparison?) -> String {
        let open = comparison?.undecided.map(\.metric) ?? []
        let unchecked = comparison?.uncheckedNames ?? []
        var parts: [String] = []
        if !open.isEmpty { parts.append(open.joined(separator: ", ") + " could not be decided") }
        if !unchecked.isEmpty { parts.append(unchecked.joined(separator: ", ") + " could not be checked") }
        return parts.isEmpty ? "a measurement could not be decided" : parts.joined(separator: ", and ")
    }

    static func verdictMeaning(_ verdict: Verdict, comparison: Comparison?) -> String {
        switch verdict {
        case .pass: return comparison == nil ? "nothing was found (nothing was booted: the builds are the whole verdict)"
            : "every measurement was decided and nothing was found"
        case .fail: return "the series broke something (the findings above)"
        case .error: return "netrig could not decide: nothing is said about the series"
        case .inconclusive:
            return "nothing was found against the series, but " + openText(comparison) + ": this is not a pass"
        }
    }
}
