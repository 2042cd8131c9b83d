import ArgumentParser
import Foundation
import NetrigCore

struct RunCommand: NetrigCommand {
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

    func run(_ context: NetrigContext) async throws {
        let runs = RunMatrix(context: context, keep: keep, json: report.json)
        if let resume { return try await runs.resume(resume) }
        try await runs.run(try request(context))
    }

    /// The options as values: what to read, which cells of the matrix, and the plan every cell shares.
    func request(_ context: NetrigContext) throws -> RunRequest {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
        guard maxRepetitions >= repetitions else { throw ValidationError("--max-repetitions must be at least --repetitions (\(repetitions))") }
        let clockChoice = try clock.map { value -> MeasurementClock in
            guard let choice = MeasurementClock(rawValue: value) else { throw ValidationError("--clock must be virtual or real") }
            return choice
        }
        let configNames = (configs?.split(separator: ",").map { $0.trimmingWhitespace } ?? [config]).filter { !$0.isEmpty }
        guard !configNames.isEmpty, Set(configNames).count == configNames.count else {
            throw ValidationError("--configs needs distinct config names, e.g. default,devmem-off")
        }
        let seriesPath = series ?? context.layout.defaultSeries
        // The series as a path that means the same from any directory: it goes into the run's reproducer.
        let seriesLabel = range.map { "\(tree ?? "") \($0)" } ?? URL(fileURLWithPath: seriesPath).standardizedFileURL.path
        let nics = guest.namedNICs ? try guest.nicModels() : nil
        let template = RunPlan(
            treeRequest: tree.map { NamedTree.named($0) != nil ? $0 : URL(fileURLWithPath: $0).standardizedFileURL.path },
            baseRequest: base, seriesPath: seriesLabel, configName: configNames[0], nic: nics?.first ?? .virtioNet,
            workload: workload, repetitions: repetitions, leakCheck: !noLeakCheck, clock: clockChoice,
            accelerator: try guest.accelerator(), memoryMiB: guest.memory, vcpus: guest.bootVCPUs,
            commandLine: ["netrig"] + CommandLine.arguments.dropFirst(), buildOnly: buildOnly,
            maxRepetitions: maxRepetitions, topology: try guest.topologyChoice(), viommu: guest.viommu,
            extraCommandLine: try guest.extraCommandLine(), rangeRequest: range, bootTimeoutSeconds: guest.bootTimeout,
            throughputVCPUs: guest.vcpus ?? RunPlan.throughputVCPUsDefault)
        return RunRequest(series: SeriesRequest(path: range == nil ? seriesPath : nil, range: range, tree: tree, revision: revision),
                          seriesLabel: seriesLabel, configNames: configNames, nics: nics, template: template)
    }
}

/// What `netrig run` was asked to do, as values.
struct RunRequest: Sendable {
    var series: SeriesRequest
    /// The series as the reproducer names it.
    var seriesLabel: String
    var configNames: [String]
    /// The NICs named (`--nics`); nil: the workload's automatic choice.
    var nics: [NICModel]?
    /// The plan every cell shares; each cell sets its config and NIC.
    var template: RunPlan

    func plan(config: String, nic: NICModel) -> RunPlan {
        var plan = template
        plan.configName = config
        plan.nic = nic
        return plan
    }
}
