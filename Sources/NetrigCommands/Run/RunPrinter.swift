import ArgumentParser
import NetrigCore

/// What `netrig run` prints as each run ends, and after the last: the pages, the matrix verdict, the
/// JSON document and the exit status.
struct RunPrinter {
    var context: NetrigContext
    var json: String?

    var say: HumanOutput { context.say(json: json) }

    /// The terminal report of one run.
    func report(_ outcome: RunEngine.Outcome, plan: RunPlan, store: any RunQueries) async throws {
        if let stored = try await store.loadRun(outcome.run) {
            say(ComparisonReport.header(stored), terminator: "")
        }
        if let comparison = outcome.comparison {
            say(ComparisonReport.table(comparison), terminator: "")
        }
        if let error = outcome.error {
            say("error: \(error)")
            say("the run is stored as failed in phase \(error.phase?.rawValue ?? "-"): netrig show \(outcome.run), or continue it with netrig run --resume \(outcome.run)")
        }
        say("verdict: \(outcome.verdict.rawValue): \(ComparisonReport.verdictMeaning(outcome.verdict, comparison: outcome.comparison)) "
            + "(run \(outcome.run), config \(plan.configName), NIC \(plan.nic.rawValue), store \(context.storePath))")
    }

    /// HTML pages, the matrix verdict, the JSON document and the exit status, after every run of the matrix.
    func finish(_ outcomes: [RunEngine.Outcome], labels: [String], store: any RunQueries, group: RunGroupID? = nil) async throws {
        let verdict = Verdict.combined(outcomes.map(\.verdict))
        // The HTML pages beside the store follow every run; a failure to write them does not change the verdict.
        let pages = context.pagesDirectory
        do {
            _ = try await HTMLPages.write(store: store, output: pages, limit: 200, only: Set(outcomes.map(\.run)))
            say("pages: \(pages)/\(outcomes.count == 1 ? "run-\(outcomes[0].run).html" : "index.html")")
        } catch {
            say("netrig: could not write the HTML pages to \(pages): \(error)")
        }
        if outcomes.count > 1 {
            say("matrix verdict: \(verdict.rawValue) (" + zip(labels, outcomes).map { "\($0) \($1.verdict.rawValue)" }.joined(separator: ", ") + ")"
                + (group.map { ", stored as group \($0)" } ?? ""))
        }
        if let json, let first = outcomes.first {
            let stored = try await store.loadRun(first.run)
            var document = RunReport(run: first.run, verdict: verdict, findings: outcomes.flatMap(\.findings),
                                     comparison: first.comparison, clock: stored?.measurementClock, phases: stored?.phases ?? [])
            document.runs = outcomes.count > 1 ? outcomes.map(\.run) : nil
            document.group = group
            document.configChanges = stored?.configChanges
            document.accelerator = stored?.environment?.accelerator
            document.acceleratorFallback = stored?.environment?.acceleratorFallback
            document.series = stored?.series.map(RunReport.SeriesSummary.init)
            document.tree = stored.flatMap { $0.summary.treeName.isEmpty ? nil : $0.summary.treeName }
            try ReportWriter.write(document, to: json, context: context)
        }
        if let signal = SignalCancellation.received.withLock({ $0 }) { throw ExitCode(128 + signal) }
        if verdict != .pass { throw ExitWithVerdict(code: verdict.exitCode) }
    }
}
