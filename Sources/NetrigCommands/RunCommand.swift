import ArgumentParser
import Foundation
import GuestVM
import KernelBuild
import NetrigCore
import RunStore
import Synchronization
import Workloads

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Apply a series, build baseline and patched kernels, boot them, run a workload, compare.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "The patch series: an mbox as git format-patch or b4 writes it, or a directory of .patch files (default: the example in examples/).")
    var series: String?

    @Option(help: "The series as a git range BASE..TIP in --tree (instead of --series); BASE is the base.")
    var range: String?

    @Option(help: "A named tree (debian-6.12, the default, or debian-7.2: Debian's kernel source, imported once into the cache) or the path of a kernel git tree (6.12 or newer).")
    var tree: String?

    @Option(help: "Base commit of the series in the tree (default: the series' base-commit trailer, else HEAD; a base-commit the tree lacks is an error).")
    var base: String?

    @Option(help: "The revision to test when the mbox holds several (v1, v2, ...): default the newest.")
    var revision: Int?

    @Option(help: "Named config from kconfigs/.")
    var config: String = "default"

    @Option(help: "A config matrix: named configs, comma-separated (a run per config, one verdict).")
    var configs: String?

    @OptionGroup var guest: GuestOptions

    @Option(help: "Workload from workloads/.")
    var workload: String = "msg_zerocopy"

    @Option(name: [.customShort("n"), .long], help: "Repetitions of each workload mode per side (the exact test needs 4 to reach p < 0.05).")
    var repetitions: Int = 5

    @Option(help: "When a metric is inconclusive, add runs up to this many per side, as the measured noise asks for.")
    var maxRepetitions = 12

    @Flag(help: "Do not boot with kmemleak and do not scan for leaks.")
    var noLeakCheck = false

    @Flag(help: "Stop after building the baseline and each patch: does every patch build, without new warnings?")
    var buildOnly = false

    @Option(help: "Measurement clock: virtual (QEMU icount, TCG only) or real. Default: virtual under TCG, real under KVM.")
    var clock: String?

    @Flag(help: "Leave the guests running after the run (for netrig ssh / virsh).")
    var keep = false

    @Option(help: "Continue the failed or interrupted run RUN from where it stopped: builds come from the cache, stored boots are kept. Its own plan, series and workload are used; other options are ignored.")
    var resume: Int64?

    @OptionGroup var report: JSONOption
    var json: String? { report.json }

    func run() async throws {
        let say = HumanOutput(json: json)
        let layout = ProjectLayout.locate()
        let progress = TerminalProgress()
        if let resume {
            try await resumeRun(resume, say: say, layout: layout, progress: progress)
            return
        }
        let seriesPath = series ?? layout.defaultSeries
        let topologyChoice = try guest.topologyChoice()
        let extraArguments = try guest.extraCommandLine()
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
        guard maxRepetitions >= repetitions else { throw ValidationError("--max-repetitions must be at least --repetitions (\(repetitions))") }
        let clockChoice = try clock.map { value -> MeasurementClock in
            guard let choice = MeasurementClock(rawValue: value) else { throw ValidationError("--clock must be virtual or real") }
            return choice
        }
        let accelChoice = try guest.accelerator()
        let configNames = (configs?.split(separator: ",").map { $0.trimmingWhitespace } ?? [config]).filter { !$0.isEmpty }
        guard !configNames.isEmpty, Set(configNames).count == configNames.count else {
            throw ValidationError("--configs needs distinct config names, e.g. default,devmem-off")
        }
        // The series as a path that means the same from any directory: it goes into the run's reproducer.
        let seriesLabel = range.map { "\(tree ?? "") \($0)" } ?? URL(fileURLWithPath: seriesPath).standardizedFileURL.path

        let parsedSeries: Series
        let workloadDefinition: WorkloadDefinition
        var readSeconds = 0.0
        // The phase a refusal is stored in: reading the series belongs to apply-series, the workload to configure.
        var step = Phase.applySeries
        do {
            let source = range == nil ? seriesPath : nil
            let reading = ContinuousClock.now
            parsedSeries = try await SeriesSource.load(path: source, range: range, tree: tree, revision: revision)
            readSeconds = (ContinuousClock.now - reading) / .seconds(1)
            step = .configure
            workloadDefinition = try WorkloadCatalog(directory: layout.workloads).load(workload)
        } catch let error as NetrigError {
            try await refuseBeforeStart(error, in: step, nic: try guest.nicModels().first ?? .virtioNet, topology: topologyChoice, extra: extraArguments,
                                        clock: clockChoice, accelerator: accelChoice, configName: configNames[0], seriesLabel: seriesLabel)
        }
        let automaticNIC = NICChoice.automatic(for: workloadDefinition)
        let nicModels = try guest.nicModels(automatic: automaticNIC.model)
        do {
            let catalog = ConfigCatalog(directory: layout.kconfigs)
            for name in configNames { _ = try catalog.spec(named: name) }
            for model in nicModels {
                try RunEngine.validate(plan(config: configNames[0], nic: model, topology: topologyChoice, extra: extraArguments,
                                            clock: clockChoice, accelerator: accelChoice, seriesLabel: ""), workload: workloadDefinition)
            }
        } catch let error as NetrigError {
            try await refuseBeforeStart(error, in: .configure, nic: nicModels[0], topology: topologyChoice, extra: extraArguments,
                                        clock: clockChoice, accelerator: accelChoice, configName: configNames[0], seriesLabel: seriesLabel)
        }

        let store = try SQLiteRunStore(path: global.storePath)
        let engine = makeEngine(store: store, layout: layout, progress: progress)

        progress.note("series: '\(parsedSeries.title)', v\(parsedSeries.revision), \(parsedSeries.patches.count) patch(es) from \(seriesLabel), "
                      + "read in \(String(format: "%.2f", readSeconds)) s")
        for note in parsedSeries.intakeNotes { progress.note("series: \(note)") }
        if !parsedSeries.prerequisitePatchIDs.isEmpty {
            say("warning: the series needs patches it does not carry (prerequisite-patch-id: "
                + parsedSeries.prerequisitePatchIDs.map { String($0.prefix(12)) }.joined(separator: ", ")
                + "); they must be in the base, or it will not apply")
        }
        for patch in parsedSeries.patches where !patch.trailers.isEmpty {
            progress.note("series: patch \(patch.index)/\(patch.total): " + patch.trailers.map { "\($0.line) (from \($0.givenBy))" }.joined(separator: "; "))
        }
        if !guest.namedNICs { progress.note("NIC: \(automaticNIC.model.rawValue) (\(automaticNIC.reason); --nic chooses another)") }
        // Said before anything is measured: a NIC whose throughput will not hold still in virtual time.
        for model in nicModels {
            if let caveat = NICChoice.caveat(for: model, workload: workloadDefinition, clock: clockChoice) { say("warning: \(caveat)") }
        }
        var outcomes: [RunEngine.Outcome] = []
        // The matrix: every config with every NIC (the builds of a config are shared by its NICs: the build
        // cache returns them at once).
        let cells = configNames.flatMap { name in (buildOnly ? [nicModels[0]] : nicModels).map { (name, $0) } }
        var labels: [String] = []
        for (name, model) in cells {
            let label = configNames.count > 1 && nicModels.count > 1 ? "\(name)/\(model.rawValue)" : nicModels.count > 1 ? model.rawValue : name
            labels.append(label)
            if cells.count > 1 { say("=== \(label) (\(outcomes.count + 1) of \(cells.count)) ===") }
            let plan = plan(config: name, nic: model, topology: topologyChoice ?? workloadDefinition.topologies.first, extra: extraArguments, clock: clockChoice,
                            accelerator: accelChoice, seriesLabel: seriesLabel)
            let outcome = try await SignalCancellation.run { try await engine.run(plan: plan, series: parsedSeries, workload: workloadDefinition) }
            outcomes.append(outcome)
            try await report(outcome, config: name, nic: model, store: store, say: say)
            if Task.isCancelled { break }
        }
        try await finish(outcomes, labels: labels, store: store, say: say)
    }
}

extension RunCommand {
    func makeEngine(store: SQLiteRunStore, layout: ProjectLayout, progress: TerminalProgress) -> RunEngine {
        let directories = global.directories
        // Console logs and domain XML of each boot live beside the store they belong to.
        let runsDirectory = (global.storePath as NSString).deletingLastPathComponent + "/runs"
        return RunEngine(
            kernel: LocalKernelPipeline(directories: directories, kconfigDirectory: layout.kconfigs, progress: progress),
            images: RecipeImageProvider(recipeDirectory: layout.defaultImage, directories: directories),
            accelerators: CachedAcceleratorProbe(file: directories.acceleratorProbe),
            guests: LibvirtGuestLauncher(uri: global.libvirtURI, privateKey: directories.sshKey, keep: keep,
                                         keptGuests: KeptGuestRegistry(directory: directories.keptGuests), progress: progress),
            workloads: GuestWorkloadRunner(progress: progress),
            collector: KernelCollector(),
            store: store,
            progress: progress,
            concurrentMeasurements: ProcessInfo.processInfo.activeProcessorCount >= 4,
            clock: { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
            timestamp: { SQLiteRunStore.timestamp() },
            workDirectory: { run, side in runsDirectory + "/\(run)/\(side.rawValue)" })
    }

    /// Refused before the engine started (a series that does not parse, an unknown workload or config):
    /// stored all the same, as a run that failed in that phase, so a nightly job's history shows it.
    /// Adapters name no phase: `step` is the one the engine would have been in.
    func refuseBeforeStart(_ original: NetrigError, in step: Phase, nic: NICModel, topology: Topology?, extra: [String], clock: MeasurementClock?,
                           accelerator: Accelerator?, configName: String, seriesLabel: String) async throws -> Never {
        let phase = original.phase ?? step
        var error = original
        error.phase = phase
        FileHandle.standardError.write(Data("netrig: \(error)\n".utf8))
        let verdict = Verdict(ending: error)
        let refused = plan(config: configName, nic: nic, topology: topology, extra: extra,
                           clock: clock, accelerator: accelerator, seriesLabel: seriesLabel)
        if let id = try? await storeRefusal(error, in: phase, plan: refused, verdict: verdict) {
            FileHandle.standardError.write(Data("netrig: stored as run \(id), failed in \(phase.rawValue) (store \(global.storePath))\n".utf8))
            if let json {
                try? ReportWriter.write(RunReport(run: id, verdict: verdict, findings: [Finding.from(error, plan: refused)], comparison: nil,
                                                  clock: nil, phases: [PhaseRecord(phase: phase, seconds: 0, outcome: .failed,
                                                                                   note: error.description)]), to: json)
            }
        }
        throw ExitWithVerdict(code: verdict.exitCode)
    }

    /// Stores a run that was refused before the engine started, failed in the error's phase.
    func storeRefusal(_ error: NetrigError, in phase: Phase, plan: RunPlan, verdict: Verdict) async throws -> RunID {
        let store = try SQLiteRunStore(path: global.storePath)
        let id = try await store.createRun(plan: plan, startedAt: SQLiteRunStore.timestamp())
        try await store.recordPhase(id, PhaseRecord(phase: phase, seconds: 0, outcome: .failed, note: error.description))
        try await store.finishRun(id, status: .failed, verdict: verdict, error: error)
        return id
    }

    /// `--resume RUN`: the stored run goes on under its own id with its own plan, series and workload.
    func resumeRun(_ id: Int64, say: HumanOutput, layout: ProjectLayout, progress: TerminalProgress) async throws {
        let store = try SQLiteRunStore(path: global.storePath)
        func refuse(_ message: String) -> ValidationError { ValidationError("--resume \(id): \(message)") }
        guard let stored = try await store.loadRun(id) else { throw refuse("no such run in \(global.storePath)") }
        switch stored.summary.status {
        case .completed:
            throw refuse("the run completed (verdict \(stored.summary.verdict?.rawValue ?? "-")); nothing to resume")
        case .running where RunLiveness.isAlive(stored.summary.owner):
            throw refuse("the run is still going in process \(stored.summary.owner.map { "\($0.pid) on \($0.host)" } ?? "?")")
        case .running, .failed, .interrupted:
            break
        }
        guard let series = stored.series else {
            throw refuse("the run stopped before its series was read; start it again with netrig run")
        }
        let workload: WorkloadDefinition
        do {
            workload = try stored.environment?.workload ?? WorkloadCatalog(directory: layout.workloads).load(stored.plan.workload)
        } catch let error as NetrigError {
            throw refuse("\(error)")
        }
        let kept = stored.boots.count
        progress.note("resuming run \(id) (\(stored.summary.status == .failed ? "failed" : "interrupted") in \(stored.summary.failedPhase?.rawValue ?? "an unrecorded phase")): "
                      + "\(kept) stored boot(s) kept, builds from the cache; '\(series.title)', config \(stored.plan.configName), "
                      + "NIC \(stored.plan.nic.rawValue), workload \(workload.name)")
        let engine = makeEngine(store: store, layout: layout, progress: progress)
        let outcome = try await SignalCancellation.run {
            try await engine.run(plan: stored.plan, series: series, workload: workload, resuming: stored)
        }
        try await report(outcome, config: stored.plan.configName, nic: stored.plan.nic, store: store, say: say)
        try await finish([outcome], labels: [stored.plan.configName], store: store, say: say)
    }

    /// The terminal report of one run of the matrix.
    func report(_ outcome: RunEngine.Outcome, config: String, nic: NICModel, store: SQLiteRunStore, say: HumanOutput) async throws {
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
            + "(run \(outcome.run), config \(config), NIC \(nic.rawValue), store \(global.storePath))")
    }

    /// HTML pages, the matrix verdict, the JSON document and the exit status, after every run of the matrix.
    func finish(_ outcomes: [RunEngine.Outcome], labels: [String], store: SQLiteRunStore, say: HumanOutput) async throws {
        let verdict = Verdict.combined(outcomes.map(\.verdict))
        // The HTML pages beside the store follow every run; a failure to write them does not change the verdict.
        let pages = HTMLPages.defaultDirectory(store: global.storePath)
        do {
            _ = try await HTMLPages.write(store: store, output: pages, limit: 200, only: Set(outcomes.map(\.run)))
            say("pages: \(pages)/\(outcomes.count == 1 ? "run-\(outcomes[0].run).html" : "index.html")")
        } catch {
            say("netrig: could not write the HTML pages to \(pages): \(error)")
        }
        if outcomes.count > 1 {
            say("matrix verdict: \(verdict.rawValue) (" + zip(labels, outcomes).map { "\($0) \($1.verdict.rawValue)" }.joined(separator: ", ") + ")")
        }
        if let json, let first = outcomes.first {
            let stored = try await store.loadRun(first.run)
            var document = RunReport(run: first.run, verdict: verdict, findings: outcomes.flatMap(\.findings),
                                     comparison: first.comparison, clock: stored?.measurementClock, phases: stored?.phases ?? [])
            document.runs = outcomes.count > 1 ? outcomes.map(\.run) : nil
            document.configChanges = stored?.configChanges
            document.accelerator = stored?.environment?.accelerator
            document.acceleratorFallback = stored?.environment?.acceleratorFallback
            document.series = stored?.series.map(RunReport.SeriesSummary.init)
            document.tree = stored.flatMap { $0.summary.treeName.isEmpty ? nil : $0.summary.treeName }
            try ReportWriter.write(document, to: json)
        }
        if let signal = SignalCancellation.received.withLock({ $0 }) { throw ExitCode(128 + signal) }
        if verdict != .pass { throw ExitWithVerdict(code: verdict.exitCode) }
    }

    func plan(config: String, nic: NICModel, topology: Topology?, extra: [String], clock: MeasurementClock?,
              accelerator: Accelerator?, seriesLabel: String) -> RunPlan {
        RunPlan(treeRequest: tree.map { NamedTree.named($0) != nil ? $0 : URL(fileURLWithPath: $0).standardizedFileURL.path }, baseRequest: base, seriesPath: seriesLabel, configName: config, nic: nic,
                workload: workload, repetitions: repetitions, leakCheck: !noLeakCheck, clock: clock,
                accelerator: accelerator, memoryMiB: guest.memory, vcpus: guest.vcpus ?? 2,
                commandLine: ["netrig"] + CommandLine.arguments.dropFirst(), buildOnly: buildOnly,
                maxRepetitions: maxRepetitions, topology: topology, viommu: guest.viommu, extraCommandLine: extra,
                rangeRequest: range, bootTimeoutSeconds: guest.bootTimeout, throughputVCPUs: guest.vcpus ?? RunPlan.throughputVCPUsDefault)
    }
}

/// Whether a run's owning process is still alive: only answerable on its own host.
enum RunLiveness {
    static func isAlive(_ owner: RunOwner?) -> Bool {
        guard let owner, owner.host == ProcessInfo.processInfo.hostName else { return false }
        return kill(owner.pid, 0) == 0 || errno == EPERM
    }
}

/// Turns SIGINT and SIGTERM into task cancellation, so every phase tears down what it started (guests,
/// child processes, temporary files) and the run is stored as interrupted.
enum SignalCancellation {
    /// The signal that stopped the command, if one did: it exits with 128 + that number, as a shell does.
    static let received = Mutex<Int32?>(nil)

    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nnetrig: signal \(number), stopping: tearing down guests and processes\n".utf8))
                received.withLock { $0 = $0 ?? number }
                task.cancel()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        return try await task.value
    }
}
