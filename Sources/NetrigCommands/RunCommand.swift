import ArgumentParser
import Foundation
import GuestVM
import KernelBuild
import NetrigCore
import RunStore
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

    @Option(help: "A local kernel git tree (default: Debian's linux-source-6.12, imported once into the cache).")
    var tree: String?

    @Option(help: "Base commit of the series in the tree (default: the series' base-commit trailer, else HEAD).")
    var base: String?

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

    @OptionGroup var report: JSONOption
    var json: String? { report.json }

    func run() async throws {
        let say = HumanOutput(json: json)
        let layout = ProjectLayout.locate()
        let progress = TerminalProgress()
        let seriesPath = series ?? layout.defaultSeries
        let nicModels = try guest.nicModels()
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
        let seriesLabel = range.map { "\(tree ?? "") \($0)" } ?? seriesPath

        let parsedSeries: Series
        let workloadDefinition: WorkloadDefinition
        do {
            let source = range == nil ? seriesPath : nil
            parsedSeries = try await SeriesSource.load(path: source, range: range, tree: tree)
            workloadDefinition = try WorkloadCatalog(directory: layout.workloads).load(workload)
            let catalog = ConfigCatalog(directory: layout.kconfigs)
            for name in configNames { _ = try catalog.spec(named: name) }
            for model in nicModels {
                try RunEngine.validate(plan(config: configNames[0], nic: model, topology: topologyChoice, extra: extraArguments,
                                            clock: clockChoice, accelerator: accelChoice, seriesLabel: ""), workload: workloadDefinition)
            }
        } catch let error as NetrigError {
            FileHandle.standardError.write(Data("netrig: \(error)\n".utf8))
            throw ExitWithVerdict(code: error.blame == .infrastructure ? Verdict.error.exitCode : Verdict.fail.exitCode)
        }

        let directories = global.directories
        let store = try SQLiteRunStore(path: global.storePath)
        // Console logs and domain XML of each boot live beside the store they belong to.
        let runsDirectory = (global.storePath as NSString).deletingLastPathComponent + "/runs"
        let engine = RunEngine(
            kernel: LocalKernelPipeline(directories: directories, kconfigDirectory: layout.kconfigs, progress: progress),
            images: RecipeImageProvider(recipeDirectory: layout.defaultImage, directories: directories),
            accelerators: QEMUAcceleratorProbe(),
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

        progress.note("series: '\(parsedSeries.title)', \(parsedSeries.patches.count) patch(es) from \(seriesLabel)")
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
            if let stored = try await store.loadRun(outcome.run) {
                say(ComparisonReport.header(stored), terminator: "")
            }
            if let comparison = outcome.comparison {
                say(ComparisonReport.table(comparison), terminator: "")
            }
            if let error = outcome.error {
                say("error: \(error)")
                say("the run is stored as failed in phase \(error.phase.rawValue): netrig runs / netrig show \(outcome.run)")
            }
            say("verdict: \(outcome.verdict.rawValue) (run \(outcome.run), config \(name), NIC \(model.rawValue), store \(global.storePath))")
            if Task.isCancelled { break }
        }
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
            try ReportWriter.write(document, to: json)
        }
        if verdict != .pass { throw ExitWithVerdict(code: verdict.exitCode) }
    }
}

extension RunCommand {
    func plan(config: String, nic: NICModel, topology: Topology?, extra: [String], clock: MeasurementClock?,
              accelerator: Accelerator?, seriesLabel: String) -> RunPlan {
        RunPlan(treeRequest: tree, baseRequest: base, seriesPath: seriesLabel, configName: config, nic: nic,
                workload: workload, repetitions: repetitions, leakCheck: !noLeakCheck, clock: clock,
                accelerator: accelerator, memoryMiB: guest.memory, vcpus: guest.vcpus,
                commandLine: ["netrig"] + CommandLine.arguments.dropFirst(), buildOnly: buildOnly,
                maxRepetitions: maxRepetitions, topology: topology, viommu: guest.viommu, extraCommandLine: extra)
    }
}

/// Turns SIGINT and SIGTERM into task cancellation, so every phase tears down what it started (guests,
/// child processes, temporary files) and the run is stored as interrupted.
enum SignalCancellation {
    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nnetrig: signal \(number), stopping: tearing down guests and processes\n".utf8))
                task.cancel()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        return try await task.value
    }
}
