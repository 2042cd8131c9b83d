import NetrigCore

/// Where a run's copied files ended up, relative to the site root (nil when the source file is gone).
public struct RunFiles: Sendable {
    /// Build log per build (same order as `StoredRun.builds`).
    public var buildLogs: [String?] = []
    /// Effective config per build.
    public var configs: [String?] = []
    /// Console log per boot (same order as `StoredRun.boots`).
    public var consoleLogs: [String?] = []
    /// Build log per patch build.
    public var patchLogs: [String?] = []
    public init() {}
}

/// The three kinds of page. Pure functions of stored runs; every string from a kernel, a patch or a log
/// goes through `Markup.text`.
enum Pages {
    static func runPage(_ id: RunID) -> String { "run-\(id).html" }
    static func comparisonPage(_ id: RunID) -> String { "compare-\(id).html" }

    static func layout(title: String, reproduce: [String]?, body: [Markup]) -> String {
        let page: Markup = [
            Markup(raw: "<!DOCTYPE html>"),
            element("html", ["lang": "en"], [
                element("head", [:], [
                    Markup(raw: "<meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
                    element("title", text: title),
                    element("style", [:], [Markup(raw: stylesheet)]),
                ]),
                element("body", [:], [
                    element("nav", [:], [link("index.html", "netrig runs"), Markup.text(" · "), element("span", text: title)]),
                    element("main", [:], body + (reproduce.map { [
                        element("h2", text: "Reproduce"),
                        element("pre", ["class": "command"], text: ShellQuote.join($0)),
                    ] } ?? [])),
                ]),
            ]),
        ]
        return page.html + "\n"
    }

    // MARK: index

    /// The index, from the store's summaries alone (no run's boots, logs or samples are loaded for it).
    static func index(_ runs: [RunSummary]) -> String {
        let series = Set(runs.map(\.seriesTitle)).sorted()
        let filters: Markup = element("form", ["class": "filters", "id": "filters"], [
            element("label", [:], [Markup.text("series "), element("select", ["id": "series-filter"],
                [element("option", ["value": ""], text: "all")] + series.map { element("option", ["value": $0], text: $0) })]),
            element("label", [:], [Markup.text(" verdict "), element("select", ["id": "verdict-filter"],
                [element("option", ["value": ""], text: "all")] + ["pass", "fail", "inconclusive", "error", "running"].map { element("option", ["value": $0], text: $0) })]),
        ])
        let rows = runs.map { s -> Markup in
            let verdict = s.verdict?.rawValue ?? s.status.rawValue
            let revision = s.revision.map { revision in
                "v\(revision), " + (s.patchCount.map { "\($0) patch\($0 == 1 ? "" : "es")" } ?? "")
            } ?? ""
            return element("tr", ["data-series": s.seriesTitle, "data-verdict": verdict], [
                element("td", [:], [link(runPage(s.id), "\(s.id)")]),
                element("td", [:], [link(runPage(s.id), s.seriesTitle.isEmpty ? "(no series)" : s.seriesTitle), element("div", ["class": "sub"], text: revision)]),
                element("td", text: "\(s.treeName) \(s.baseCommit.prefix(12))"),
                element("td", ["class": "nowrap"], text: s.startedAt),
                element("td", ["class": "nowrap"], text: s.configName),
                element("td", ["class": "nowrap"], text: s.nic),
                element("td", ["class": "nowrap"], text: s.workload),
                element("td", [:], [verdictBadge(verdict)]
                        + (s.measured ? [Markup.text(" "), link(comparisonPage(s.id), "comparison")] : [])),
            ])
        }
        let table = element("table", ["id": "runs"], [
            element("thead", [:], [element("tr", [:], ["run", "series", "base", "started", "config", "NIC", "workload", "verdict"].map { element("th", text: $0) })]),
            element("tbody", [:], rows),
        ])
        return layout(title: "netrig runs", reproduce: nil, body: [element("h1", text: "netrig runs"), filters, table,
                                                                     element("script", [:], [Markup(raw: filterScript)])])
    }

    // MARK: run

    static func run(_ run: StoredRun, files: RunFiles) -> String {
        let s = run.summary
        let comparison = run.comparison
        var body: [Markup] = [
            element("h1", text: "Run \(s.id): \(s.seriesTitle)"),
            element("p", [:], [verdictBadge(s.verdict?.rawValue ?? s.status.rawValue), Markup.text(" "),
                              link(comparisonPage(s.id), "comparison of baseline and patched")]),
        ]
        body += verdictNotes(run, comparison)
        body += [
            facts([
                ("series", run.series.map { "v\($0.revision), \($0.patches.count) patch(es) from \($0.source)" } ?? run.plan.seriesPath),
                ("tree", "\(s.treeName) at \(s.baseCommit)"),
                ("config", s.configName), ("NIC", run.plan.guestSetup), ("workload", s.workload),
                ("guests", bootSummary(run)),
                ("accelerator", run.environment?.accelerator ?? "-"),
                ("hypervisor", run.environment?.hypervisor ?? "-"),
                ("started", s.startedAt),
            ]),
        ]
        if let error = run.error {
            body.append(element("div", ["class": "error"], [element("strong", text: "\(error.phase?.rawValue ?? "error"): "), Markup.text(error.description)]))
        }
        body.append(element("h2", text: "Phases"))
        body.append(Plots.timeline(run.phases))
        body.append(table(header: ["phase", "took", "outcome", "note"], rows: run.phases.enumerated().map { index, phase in
            [Markup([element("span", ["class": "swatch", "style": "background: \(Plots.colour(index, failed: phase.outcome == .failed))"], []),
                     .text(phase.phase.rawValue)]),
             .text(Plots.duration(phase.seconds)), .text(phase.outcome.rawValue), .text(phase.note ?? "")]
        }))
        body += patches(run, files: files)
        body += configSection(run, files: files)
        body.append(element("h2", text: "Builds"))
        body.append(table(header: ["side", "commit", "build", "ccache hits", "log", "config"], rows: run.builds.enumerated().map { index, build in
            [.text(build.side.rawValue), .text(String(build.commit.prefix(12))),
             .text(build.cached ? "cached" : Plots.duration(build.buildSeconds)),
             .text(build.ccacheHitRatio.map { Percent.format($0, signed: false) } ?? "-"),
             fileLink(files.buildLogs[safe: index], "build.log"), fileLink(files.configs[safe: index], "config")]
        }))
        body.append(element("h2", text: "Boots"))
        body.append(table(header: ["side", "NIC", "accel", "clock", "kmemleak", "SSH after", "workload", "console"],
                          rows: run.boots.enumerated().map { index, boot in
            [.text(boot.side.rawValue), .text(boot.nic.rawValue), .text(boot.accelerator.rawValue), .text(boot.clock.rawValue),
             .text(boot.kmemleak ? "on" : "off"), .text("\(Plots.fmt(boot.bootSeconds)) s"),
             .text(boot.unsupportedReason.map { "unsupported by this NIC: \($0)" } ?? "ran"),
             fileLink(files.consoleLogs[safe: index], "console.log")]
        }))
        body += samplesSection(run)
        body += leaksSection(comparison, all: run.leaks)
        body += splatsSection(run.splats)
        return layout(title: "run \(s.id)", reproduce: run.reproducer, body: body)
    }

    static func patches(_ run: StoredRun, files: RunFiles) -> [Markup] {
        guard let series = run.series else { return [] }
        let appliedCount = run.applied?.commits.count ?? (run.error?.phase == .applySeries ? (run.error?.patch ?? 1) - 1 : 0)
        let rows = series.patches.enumerated().map { index, patch -> [Markup] in
            let applied: String
            if index < appliedCount { applied = "applied" }
            else if run.error?.phase == .applySeries, run.error?.patch == patch.index { applied = "DOES NOT APPLY" }
            else { applied = "not tried" }
            let build = run.patchBuilds.first { $0.patch == patch.index }
            var buildCell: [Markup] = [.text(build.map { $0.succeeded ? ($0.cached ? "built (cached)" : "built in \(Plots.duration($0.seconds))") : "DOES NOT BUILD" } ?? "-")]
            if let build {
                for line in (build.succeeded ? build.newWarnings : [build.firstError].compactMap { $0 }) {
                    buildCell.append(element("div", ["class": build.succeeded ? "warning" : "error"], [element("code", text: line)]))
                }
                if let index = run.patchBuilds.firstIndex(of: build), let log = files.patchLogs[safe: index] ?? nil {
                    buildCell.append(Markup.text(" "))
                    buildCell.append(link(log, "log"))
                }
            }
            // The trailers reviewers gave on the list, as b4 would add them (netrig applies the mail as sent).
            let trailers = patch.trailers.map { trailer in
                element("div", ["class": "trailer"], [element("code", text: trailer.line)] + (trailer.givenBy == trailer.value ? [] : [.text(" (from \(trailer.givenBy))")]))
            }
            return [.text("\(patch.index)/\(patch.total)"), .text(patch.subject), .text(patch.author), Markup(trailers.isEmpty ? [.text("-")] : trailers),
                    .text(applied), Markup(buildCell)]
        }
        var parts = [element("h2", text: "Patches")]
        for note in series.intakeNotes { parts.append(element("p", text: note)) }
        if !series.prerequisitePatchIDs.isEmpty {
            parts.append(element("p", text: "needs patches it does not carry (prerequisite-patch-id): " + series.prerequisitePatchIDs.joined(separator: ", ")))
        }
        return parts + [table(header: ["#", "subject", "author", "trailers from the list", "apply", "build"], rows: rows)]
    }

    static func configSection(_ run: StoredRun, files: RunFiles) -> [Markup] {
        var parts: [Markup] = [element("h2", text: "Effective config")]
        guard let changes = run.configChanges else {
            parts.append(element("p", text: "not recorded: the run stopped before both kernels were built, or was stored by an older netrig"))
            return parts
        }
        if changes.isEmpty {
            parts.append(element("p", text: "The series does not change the effective config of \(run.plan.configName)."))
        } else {
            parts.append(table(header: ["symbol", "baseline", "patched"], rows: changes.map { [.text($0.symbol), .text($0.baseline), .text($0.patched)] }))
        }
        return parts
    }

    static func samplesSection(_ run: StoredRun) -> [Markup] {
        guard !run.samples.isEmpty else { return [] }
        var parts: [Markup] = [element("h2", text: "Samples")]
        for metric in run.samples.map(\.metric).uniqued() {
            let samples = run.samples.filter { $0.metric == metric }
            parts.append(element("h3", text: "\(samples.first?.workload ?? "") on \(samples.first?.nic.rawValue ?? ""): \(metric) (\(samples.first?.unit ?? ""))"))
            parts.append(table(header: ["repetition", "baseline", "patched"], rows: samples.map(\.repetition).uniqued().sorted().map { repetition in
                [.text("\(repetition)")] + [Side.baseline, .patched].map { side in
                    .text(samples.first { $0.side == side && $0.repetition == repetition }.map { Plots.number($0.value) } ?? "-")
                }
            }))
        }
        return parts
    }

    static func leaksSection(_ comparison: Comparison, all: [Leak]) -> [Markup] {
        var parts: [Markup] = [element("h2", text: "Leaks (kmemleak)")]
        let groups: [(String, [Leak], String)] = [("new", comparison.newLeaks, "finding"), ("unconfirmed", comparison.unconfirmedLeaks, ""),
                                                   ("persisting", comparison.persistingLeaks, ""), ("gone", comparison.goneLeaks, "")]
        if groups.allSatisfy({ $0.1.isEmpty }) {
            parts.append(element("p", text: all.isEmpty ? "none reported" : "none new"))
            return parts
        }
        for (label, leaks, className) in groups where !leaks.isEmpty {
            parts.append(element("h3", ["class": className], text: "\(label): \(leaks.count)"))
            for leak in leaks {
                parts.append(element("details", ["open": ""], [
                    element("summary", text: "\(leak.fingerprint) (\(leak.size) bytes, comm \(leak.comm))"),
                    element("pre", text: leak.raw.isEmpty ? leak.backtrace.joined(separator: "\n") : leak.raw),
                ]))
            }
        }
        return parts
    }

    static func splatsSection(_ splats: [Splat]) -> [Markup] {
        guard !splats.isEmpty else { return [element("h2", text: "Kernel splats and page_pool leftovers"), element("p", text: "none")] }
        var parts: [Markup] = [element("h2", text: "Kernel splats and page_pool leftovers")]
        for splat in splats.uniqued(by: { "\($0.side.rawValue) \($0.title)" }) {
            let pagePool = splat.kind.isPagePool
            parts.append(element("details", [:], [
                element("summary", text: "\(splat.side.rawValue): \(pagePool ? "page_pool " : "")\(splat.kind.rawValue): \(splat.title)"),
                element("pre", text: splat.text),
            ]))
        }
        return parts
    }

    // MARK: comparison

    static func comparison(_ run: StoredRun) -> String {
        let s = run.summary
        let comparison = run.comparison
        var body: [Markup] = [
            element("h1", text: "Run \(s.id): baseline against patched"),
            element("p", [:], [link(runPage(s.id), "run \(s.id)"), Markup.text(": \(s.seriesTitle) · \(s.workload) on \(s.nic) · config \(s.configName) · "
                                                                                  + (run.measurementClock.map { "\($0.rawValue) clock" } ?? "no boots"))]),
        ]
        body += verdictNotes(run, comparison)
        if comparison.metrics.isEmpty { body.append(element("p", text: "No throughput samples in this run.")) }
        for metric in comparison.metrics {
            body.append(element("section", ["class": "metric"], [
                element("h2", text: "\(metric.metric) (\(metric.unit))"),
                element("p", ["class": "verdict-words " + metric.verdict.rawValue.replacingAll(" ", with: "-")], text: words(metric)),
                Plots.strip(metric),
                table(header: ["", "n", "median", "CV", "guest CPU busy"], rows: [
                    [.text("baseline"), .text("\(metric.baseline.count)"), .text(Plots.number(metric.baselineMedian)),
                     .text(Percent.format(Statistics.coefficientOfVariation(metric.baseline), signed: false)),
                     .text(metric.baselineCPU.map { String(format: "%.0f %%", $0) } ?? "-")],
                    [.text("patched"), .text("\(metric.patched.count)"), .text(Plots.number(metric.patchedMedian)),
                     .text(Percent.format(Statistics.coefficientOfVariation(metric.patched), signed: false)),
                     .text(metric.patchedCPU.map { String(format: "%.0f %%", $0) } ?? "-")],
                ]),
                facts([("delta", Percent.format(metric.delta)),
                       ("95 % interval", metric.interval.map { "[\(Percent.format($0.lowerBound)), \(Percent.format($0.upperBound))]" } ?? "-"),
                       ("Mann–Whitney p", Plots.number(metric.pValue)),
                       ("smallest change counted", Percent.format(metric.threshold, signed: false))]),
            ]))
        }
        body += leaksSection(comparison, all: run.leaks)
        let newSplats = comparison.newSplats
        body.append(element("h2", text: "New splats"))
        body.append(newSplats.isEmpty ? element("p", text: "none") : Markup(newSplats.map { element("pre", text: $0.text) }))
        return layout(title: "comparison \(s.id)", reproduce: run.reproducer, body: body)
    }

    /// The verdict of a metric in a sentence.
    static func words(_ metric: MetricComparison) -> String {
        let delta = Percent.format(metric.delta)
        switch metric.verdict {
        case .regression: return "Regression: the patched kernel is \(delta) against the baseline, beyond the noise (p = \(Plots.number(metric.pValue)))."
        case .improvement: return "Improvement: the patched kernel is \(delta) against the baseline, beyond the noise (p = \(Plots.number(metric.pValue)))."
        case .noChange: return "No significant change: \(delta), and the interval rules out a change that matters."
        case .inconclusive:
            if let advice = metric.advice { return "Inconclusive: \(delta) cannot be told apart from the noise; \(advice)." }
            return "Inconclusive: \(delta) cannot be told apart from the noise" + (metric.runsNeeded.map { "; \($0) runs per side would settle it." } ?? ".")
        }
    }

    /// What the reader must know before any number: a verdict that decided nothing, and an accelerator
    /// that was not the one the run began with.
    static func verdictNotes(_ run: StoredRun, _ comparison: Comparison) -> [Markup] {
        var notes: [Markup] = []
        // What the store holds and this version could not read: said, never dropped.
        for line in run.unreadable {
            notes.append(element("p", ["class": "note error-verdict unreadable"], text: "Unreadable in the store: \(line)."))
        }
        if run.summary.verdict == .inconclusive {
            let open = comparison.undecided.map(\.metric)
            if !open.isEmpty || comparison.unchecked.isEmpty {
                notes.append(element("p", ["class": "note inconclusive"], text: "Inconclusive: nothing was found against the series, but "
                                     + (open.isEmpty ? "a measurement" : open.joined(separator: ", ")) + " could not be decided. This is not a pass."))
            }
        }
        // A check that did not run is said before any number, whatever the verdict.
        for line in comparison.unchecked {
            notes.append(element("p", ["class": "note inconclusive not-checked"], text: "Not checked: \(line). This is not a pass."))
        }
        if run.summary.verdict == .error {
            notes.append(element("p", ["class": "note error-verdict"], text: "Error: netrig could not decide; nothing is said about the series."))
        }
        if let fallback = run.environment?.acceleratorFallback {
            notes.append(element("p", ["class": "note fallback"], text: "Accelerator fallback: \(fallback). Every boot of this run ran under TCG."))
        }
        return notes
    }

    // MARK: pieces

    static func facts(_ pairs: [(String, String)]) -> Markup {
        element("dl", ["class": "facts"], pairs.flatMap { [element("dt", text: $0.0), element("dd", text: $0.1)] })
    }

    static func verdictBadge(_ verdict: String) -> Markup {
        element("span", ["class": "badge " + verdict], text: verdict)
    }

    static func fileLink(_ path: String??, _ label: String) -> Markup {
        guard let path = path ?? nil else { return .text("-") }
        return link(path, label)
    }

    static func bootSummary(_ run: StoredRun) -> String {
        guard let boot = run.boots.first else { return "none booted" }
        return "\(run.boots.count) boot(s), \(boot.accelerator.rawValue.uppercased()), \(boot.clock.rawValue) clock"
    }

    static let filterScript = """
    (function () {
      var series = document.getElementById('series-filter'), verdict = document.getElementById('verdict-filter');
      function apply() {
        var rows = document.querySelectorAll('#runs tbody tr');
        for (var i = 0; i < rows.length; i++) {
          var r = rows[i];
          var show = (!series.value || r.getAttribute('data-series') === series.value) &&
                     (!verdict.value || r.getAttribute('data-verdict') === verdict.value);
          r.style.display = show ? '' : 'none';
        }
      }
      series.addEventListener('change', apply);
      verdict.addEventListener('change', apply);
    })();
    """

    static let stylesheet = """
    body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; }
    nav { background: #23395b; color: #fff; padding: .5em 1.2em; }
    nav a { color: #fff; font-weight: 600; }
    main { max-width: 1100px; margin: 0 auto; padding: 1em 1.2em 3em; }
    h1 { font-size: 1.5em; overflow-wrap: anywhere; }
    table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; }
    th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #ddd; vertical-align: top; overflow-wrap: break-word; }
    td code, td .path { overflow-wrap: anywhere; }
    td.nowrap { white-space: nowrap; }
    th { background: #f3f4f6; }
    pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: 13px; white-space: pre-wrap; overflow-wrap: anywhere; }
    code { font-size: 13px; }
    .sub { color: #666; font-size: .85em; }
    .badge { padding: .1em .5em; border-radius: .8em; font-weight: 600; font-size: .85em; }
    .badge.pass { background: #d1f2d9; color: #14532d; }
    .badge.fail { background: #fde2e1; color: #8b1a1a; }
    .badge.error, .badge.failed { background: #fff1c1; color: #6b4f00; }
    .badge.running { background: #e0e7ff; color: #1e3a8a; }
    .badge.inconclusive { background: #ede9fe; color: #4c1d95; }
    .note { padding: .5em .8em; border-left: 4px solid; }
    .note.inconclusive { border-color: #6d28d9; background: #f5f3ff; }
    .note.fallback { border-color: #b45309; background: #fffbeb; }
    .note.error-verdict { border-color: #b45309; background: #fff1c1; }
    .verdict-words.inconclusive { color: #4c1d95; }
    .facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
    .facts dt { font-weight: 600; }
    .facts dd { margin: 0; overflow-wrap: anywhere; }
    .error { color: #8b1a1a; }
    .warning { color: #6b4f00; }
    .finding { color: #8b1a1a; }
    .plot, .timeline { width: 100%; max-width: 760px; height: auto; display: block; }
    .plot .label, .plot .tick { font-size: 12px; fill: #333; }
    .plot .guide { stroke: #eee; }
    .plot .axis { stroke: #999; }
    .verdict-words { font-weight: 600; }
    .verdict-words.regression { color: #8b1a1a; }
    .verdict-words.improvement { color: #14532d; }
    .filters { margin: .5em 0; }
    .command { user-select: all; }
    .swatch { display: inline-block; width: .8em; height: .8em; margin-right: .4em; vertical-align: -.05em; }
    """
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

