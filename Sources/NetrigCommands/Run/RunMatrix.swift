import ArgumentParser
import Foundation
import NetrigCore

/// Runs a request's matrix (configs × NICs) through the engine, or resumes a stored run, and prints as
/// each run ends: the path every verb that starts runs shares.
struct RunMatrix {
    var context: NetrigContext
    var keep: Bool
    var json: String?

    var say: HumanOutput { context.say(json: json) }
    var printer: RunPrinter { RunPrinter(context: context, json: json) }

    func run(_ request: RunRequest) async throws {
        let progress = context.progress
        let series: Series, workload: WorkloadDefinition
        var readSeconds = 0.0
        // The phase a refusal is stored in: reading the series belongs to apply-series, the workload to configure.
        var step = Phase.applySeries
        do {
            let reading = ContinuousClock.now
            series = try await context.readSeries(request.series)
            readSeconds = (ContinuousClock.now - reading) / .seconds(1)
            step = .configure
            workload = try context.workload(request.template.workload)
        } catch let error as NetrigError {
            try await refuse(error, in: step, plan: request.template)
        }
        let automaticNIC = NICChoice.automatic(for: workload)
        let nics = request.nics ?? [automaticNIC.model]
        // Every cell resolved (its defaults applied, impossible plans refused) before anything is built.
        let cells: [(label: String, plan: ResolvedPlan)]
        do {
            for name in request.configNames { _ = try context.config(name) }
            let pairs = request.configNames.flatMap { name in (request.template.isBuildOnly ? [nics[0]] : nics).map { (name, $0) } }
            cells = try pairs.map { name, nic in
                let label = request.configNames.count > 1 && nics.count > 1 ? "\(name)/\(nic.rawValue)" : nics.count > 1 ? nic.rawValue : name
                return (label, try ResolvedPlan.resolve(request.plan(config: name, nic: nic), workload: workload))
            }
        } catch let error as NetrigError {
            try await refuse(error, in: .configure, plan: request.plan(config: request.configNames[0], nic: nics[0]))
        }

        let store = try context.openStore()
        let engine = try context.engine(store: store, keep: keep)
        progress.note("series: '\(series.title)', v\(series.revision), \(series.patches.count) patch(es) from \(request.seriesLabel), "
                      + "read in \(String(format: "%.2f", readSeconds)) s")
        for note in series.intakeNotes { progress.note("series: \(note)") }
        if !series.prerequisitePatchIDs.isEmpty {
            say("warning: the series needs patches it does not carry (prerequisite-patch-id: "
                + series.prerequisitePatchIDs.map { String($0.prefix(12)) }.joined(separator: ", ")
                + "); they must be in the base, or it will not apply")
        }
        for patch in series.patches where !patch.trailers.isEmpty {
            progress.note("series: patch \(patch.index)/\(patch.total): " + patch.trailers.map { "\($0.line) (from \($0.givenBy))" }.joined(separator: "; "))
        }
        if request.nics == nil { progress.note("NIC: \(automaticNIC.model.rawValue) (\(automaticNIC.reason); --nic chooses another)") }
        // Said before anything is measured: a NIC whose throughput will not hold still in virtual time.
        for nic in nics {
            if let caveat = NICChoice.caveat(for: nic, workload: workload, clock: request.template.clock) { say("warning: \(caveat)") }
        }
        // A matrix is a group of runs in the store, each with its cell's label.
        let group = cells.count > 1
            ? try await store.createGroup(kind: .matrix, label: "'\(series.title)' v\(series.revision): " + cells.map(\.label).joined(separator: ", "),
                                          createdAt: context.timestamp())
            : nil
        var outcomes: [RunEngine.Outcome] = []
        for cell in cells {
            if cells.count > 1 { say("=== \(cell.label) (\(outcomes.count + 1) of \(cells.count)) ===") }
            let outcome = try await SignalCancellation.run { try await engine.run(cell.plan, series: series, workload: workload) }
            outcomes.append(outcome)
            if let group { try await store.addToGroup(group, run: outcome.run, label: cell.label) }
            try await printer.report(outcome, plan: cell.plan.request, store: store)
            if Task.isCancelled { break }
        }
        try await printer.finish(outcomes, labels: cells.prefix(outcomes.count).map(\.label), store: store, group: group)
    }

    /// `--resume RUN`: the stored run goes on under its own id with its own plan, series and workload.
    func resume(_ id: RunID) async throws {
        let store = try context.openStore()
        func refuse(_ message: String) -> ValidationError { ValidationError("--resume \(id): \(message)") }
        guard let stored = try await store.loadRun(id) else { throw refuse("no such run in \(context.storePath)") }
        switch stored.summary.status {
        case .completed:
            throw refuse("the run completed (verdict \(stored.summary.verdict?.rawValue ?? "-")); nothing to resume")
        case .running where context.isAlive(stored.summary.owner):
            throw refuse("the run is still going in process \(stored.summary.owner.map { "\($0.pid) on \($0.host)" } ?? "?")")
        case .running, .failed, .interrupted:
            break
        }
        guard let series = stored.series else {
            throw refuse("the run stopped before its series was read; start it again with netrig run")
        }
        let workload: WorkloadDefinition
        do {
            workload = try stored.environment?.workload ?? context.workload(stored.plan.workload)
        } catch let error as NetrigError {
            throw refuse("\(error)")
        }
        context.progress.note("resuming run \(id) (\(stored.summary.status == .failed ? "failed" : "interrupted") in \(stored.summary.failedPhase?.rawValue ?? "an unrecorded phase")): "
                              + "\(stored.boots.count) stored boot(s) kept, builds from the cache; '\(series.title)', config \(stored.plan.configName), "
                              + "NIC \(stored.plan.nic.rawValue), workload \(workload.name)")
        let engine = try context.engine(store: store, keep: keep)
        let outcome = try await SignalCancellation.run {
            try await engine.run(plan: stored.plan, series: series, workload: workload, resuming: stored)
        }
        try await printer.report(outcome, plan: stored.plan, store: store)
        try await printer.finish([outcome], labels: [stored.plan.configName], store: store)
    }

    /// Refused before the engine started (a series that does not parse, an unknown workload or config, a
    /// plan that cannot run): stored all the same, as a run that failed in that phase, so a nightly job's
    /// history shows it.
    func refuse(_ original: NetrigError, in phase: Phase, plan: RunPlan) async throws -> Never {
        var error = original
        error.phase = phase
        context.standardError("netrig: \(error)\n")
        let verdict = Verdict(ending: error)
        if let store = try? context.openStore(),
           let engine = try? context.engine(store: store, keep: false),
           let outcome = try? await engine.refuse(error, in: phase, plan: plan) {
            context.standardError("netrig: stored as run \(outcome.run), failed in \(phase.rawValue) (store \(context.storePath))\n")
            if let json {
                try? ReportWriter.write(RunReport(run: outcome.run, verdict: verdict, findings: outcome.findings, comparison: nil,
                                                  clock: nil, phases: [PhaseRecord(phase: phase, seconds: 0, outcome: .failed,
                                                                                   note: error.description)]), to: json, context: context)
            }
        }
        throw ExitWithVerdict(code: verdict.exitCode)
    }
}
