/// What the user asked for: everything a run needs to be reproduced.
public struct RunPlan: Sendable, Codable, Equatable {
    public var treeRequest: String?
    public var baseRequest: String?
    public var seriesPath: String
    public var configName: String
    public var nic: NICModel
    public var workload: String
    public var repetitions: Int
    public var leakCheck: Bool
    public var clock: MeasurementClock?
    public var accelerator: Accelerator?
    public var memoryMiB: Int
    public var vcpus: Int
    /// vCPUs of the throughput boots in virtual time: `--vcpus` when given, else `throughputVCPUsDefault`;
    /// nil in runs stored before it existed (they booted `vcpus`).
    /// Under the instruction counter, QEMU runs all vCPUs in one thread, taking turns; an event from the
    /// main loop changes where the turns fall, so one vCPU measures the same work the same way (docs/VIRTUAL-TIME.md).
    public var throughputVCPUs: Int?
    public static let throughputVCPUsDefault = 1
    /// vCPUs of every other boot.
    public static let vcpusDefault = 2

    /// vCPUs of a boot, a throughput boot or another (a leak boot), measured in `clock`.
    public func vcpus(throughput: Bool, clock: MeasurementClock) -> Int {
        throughput && clock == .virtual ? (throughputVCPUs ?? vcpus) : vcpus
    }
    /// How its throughput is compared, for advice on what it could not decide.
    public func setting(clock: MeasurementClock) -> MetricComparison.Setting {
        MetricComparison.Setting(nic: nic, clock: clock, workload: workload, maxRepetitions: maxRepetitions ?? repetitions)
    }
    /// The command line that reproduces the run.
    public var commandLine: [String]
    /// Stop after the builds (`--build-only`): the per-patch builds are the whole verdict. nil means false
    /// (runs stored before the option existed).
    public var buildOnly: Bool?
    /// When a metric is inconclusive after `repetitions`, more runs are added up to this many per side
    /// (the number the measured noise asks for). nil: no more than `repetitions`.
    public var maxRepetitions: Int?
    /// How the NICs are wired; nil: the workload's first topology (runs stored before topologies existed
    /// were all `loop`).
    public var topology: Topology?
    /// Boot with a virtual Intel IOMMU in strict mode. nil means false.
    public var viommu: Bool?
    /// Extra kernel command-line arguments for every guest (`swiotlb=force`, debugging switches).
    public var extraCommandLine: [String]?
    /// The series as a git range in the tree (`--range A..B`) instead of a file; nil for a file.
    public var rangeRequest: String?
    /// Seconds a guest may take to answer SSH (`--boot-timeout`); nil: 180.
    public var bootTimeoutSeconds: Int?
    public var bootTimeout: Duration { .seconds(bootTimeoutSeconds ?? 180) }

    /// The NIC, its wiring and the guest's DMA setup in words: "vmxnet3, pair topology, vIOMMU, swiotlb=force".
    public var guestSetup: String {
        var parts = [nic.rawValue, "\(storedTopology.rawValue) topology"]
        if usesVIOMMU { parts.append("vIOMMU (strict)") }
        if case let extra = kernelArguments, !extra.isEmpty { parts.append("command line +'\(extra.joined(separator: " "))'") }
        return parts.joined(separator: ", ")
    }

    public init(treeRequest: String?, baseRequest: String?, seriesPath: String, configName: String, nic: NICModel,
                workload: String, repetitions: Int, leakCheck: Bool, clock: MeasurementClock?,
                accelerator: Accelerator?, memoryMiB: Int, vcpus: Int, commandLine: [String], buildOnly: Bool = false, maxRepetitions: Int? = nil,
                topology: Topology? = nil, viommu: Bool = false, extraCommandLine: [String] = [], rangeRequest: String? = nil,
                bootTimeoutSeconds: Int? = nil, throughputVCPUs: Int? = nil) {
        self.throughputVCPUs = throughputVCPUs
        self.rangeRequest = rangeRequest
        self.bootTimeoutSeconds = bootTimeoutSeconds
        self.topology = topology
        self.viommu = viommu
        self.extraCommandLine = extraCommandLine
        self.buildOnly = buildOnly
        self.maxRepetitions = maxRepetitions
        self.treeRequest = treeRequest
        self.baseRequest = baseRequest
        self.seriesPath = seriesPath
        self.configName = configName
        self.nic = nic
        self.workload = workload
        self.repetitions = repetitions
        self.leakCheck = leakCheck
        self.clock = clock
        self.accelerator = accelerator
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.commandLine = commandLine
    }
}

/// How long a phase took and how it ended.
public struct PhaseRecord: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable { case completed, failed }
    public var phase: Phase
    public var seconds: Double
    public var outcome: Outcome
    public var note: String?

    public init(phase: Phase, seconds: Double, outcome: Outcome, note: String? = nil) {
        self.phase = phase
        self.seconds = seconds
        self.outcome = outcome
        self.note = note
    }
}

/// One boot of one kernel.
public struct BootRecord: Sendable, Codable, Equatable {
    /// How the transcript of a boot whose workload failed begins (the boot is stored for its console and
    /// splats, and a resumed run boots it again). Written, never parsed: `workloadFailed` is the fact.
    public static let workloadFailedPrefix = "workload failed: "

    /// The store's id of this boot; nil before it is stored.
    public var id: BootID?
    /// Its workload failed: the boot is kept for its console and splats, and counts for nothing else (no
    /// samples, no leak round, no checks).
    public var workloadFailed: Bool
    /// The round of its purpose it belongs to: the throughput round (ABAB halves, extra runs), or the leak
    /// check (1, or 2 when a new leak is being confirmed).
    public var round: Int
    /// Which guest of the boot it is: 0 the client's end (it holds the samples), 1 the pair topology's peer.
    public var guest: Int
    /// What the boot was for: a leak boot runs kmemleak, a throughput boot measures.
    public var purpose: BootPurpose { kmemleak ? .leaks : .throughput }

    public var side: Side
    public var nic: NICModel
    public var accelerator: Accelerator
    public var clock: MeasurementClock
    public var kmemleak: Bool
    public var bootSeconds: Double
    public var consoleLog: String
    public var dmesg: String
    public var workloadTranscript: String
    /// nil when the workload ran; the reason when it was unsupported.
    public var unsupportedReason: String?
    /// The unparsed kmemleak report of a leak-check boot.
    public var kmemleakReport: String?
    /// Checks the collectors could not make in this boot.
    public var unchecked: [UncheckedCheck]

    public init(side: Side, nic: NICModel, accelerator: Accelerator, clock: MeasurementClock, kmemleak: Bool,
                bootSeconds: Double, consoleLog: String, dmesg: String, workloadTranscript: String,
                unsupportedReason: String?, kmemleakReport: String? = nil, unchecked: [UncheckedCheck] = [],
                id: BootID? = nil, workloadFailed: Bool = false, round: Int = 1, guest: Int = 0) {
        self.id = id
        self.workloadFailed = workloadFailed
        self.round = round
        self.guest = guest
        self.kmemleakReport = kmemleakReport
        self.unchecked = unchecked
        self.side = side
        self.nic = nic
        self.accelerator = accelerator
        self.clock = clock
        self.kmemleak = kmemleak
        self.bootSeconds = bootSeconds
        self.consoleLog = consoleLog
        self.dmesg = dmesg
        self.workloadTranscript = workloadTranscript
        self.unsupportedReason = unsupportedReason
    }
}

extension BootRecord {
    /// Everything this boot promised and did not check: its collectors' gaps, and the workload itself when
    /// it was unsupported (it measured nothing, so it decided nothing).
    public func uncheckedChecks(workload: String) -> [UncheckedCheck] {
        (unsupportedReason.map { [UncheckedCheck(check: "workload \(workload)", reason: $0)] } ?? []) + unchecked
    }
}

/// What a run's measurements depend on besides the kernels and the plan.
public struct RunEnvironment: Sendable, Codable, Equatable {
    /// "QEMU 7.2.22"; nil when libvirt could not say.
    public var hypervisor: String?
    /// The workload as it was declared when the run started (its modes, durations, arguments, metrics).
    public var workload: WorkloadDefinition
    /// The accelerator every boot used and why ("TCG: a KVM guest printed nothing within 6 s"); nil in
    /// runs stored before it was recorded.
    public var accelerator: String?
    /// Set when the run began under KVM and a guest printed nothing, so every boot ran again under TCG.
    public var acceleratorFallback: String?

    public init(hypervisor: String?, workload: WorkloadDefinition, accelerator: String? = nil, acceleratorFallback: String? = nil) {
        self.hypervisor = hypervisor
        self.workload = workload
        self.accelerator = accelerator
        self.acceleratorFallback = acceleratorFallback
    }
}

/// Identifies a stored run.
public typealias RunID = Int64

/// The overall status of a run.
public enum RunStatus: String, Sendable, Codable {
    case running
    case completed
    /// Stopped by an error; the phase that failed is recorded with the run.
    case failed
    /// Stopped by SIGINT or SIGTERM; the phase it was in is recorded, and `netrig run --resume` goes on.
    case interrupted
}

/// The verdict of a run, as the exit code reports it.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    /// Everything was decided, and nothing was found.
    case pass
    /// The series broke something: the patched side did what the baseline, run the same way, did not.
    case fail
    /// netrig could not decide: the infrastructure, the user's input or the base tree itself failed.
    case error
    /// Everything ran and nothing was found, but a measurement could not be decided (a throughput metric
    /// whose noise leaves it neither a change nor no change): not a pass.
    case inconclusive

    public var exitCode: Int32 {
        switch self {
        case .pass: 0
        case .fail: 2
        case .error: 1
        case .inconclusive: 3
        }
    }

    /// The verdict of an error that ended a run: the series' only when the error blames it.
    public init(ending error: NetrigError) {
        self = error.blame == .series ? .fail : .error
    }

    /// The verdict of a run that got as far as comparing: fail when the series is blamed for something;
    /// else inconclusive when a metric stayed undecided or a promised check did not run; else pass. One
    /// rule for the run, `show`, `compare` and the pages.
    public static func of(findings: [Finding], comparison: Comparison?) -> Verdict {
        if !findings.isEmpty { return .fail }
        guard let comparison else { return .pass }
        return comparison.decidedEverything ? .pass : .inconclusive
    }

    /// The verdict of several runs (a config matrix): the series broke something if any run says so;
    /// otherwise netrig could not decide if any run could not; otherwise inconclusive if any run is;
    /// otherwise a pass.
    public static func combined(_ verdicts: [Verdict]) -> Verdict {
        if verdicts.contains(.fail) { return .fail }
        if verdicts.contains(.error) || verdicts.isEmpty { return .error }
        if verdicts.contains(.inconclusive) { return .inconclusive }
        return .pass
    }
}

/// A stored run, as `netrig runs` lists it.
public struct RunSummary: Sendable, Codable, Equatable {
    public var id: RunID
    public var startedAt: String
    public var seriesTitle: String
    public var treeName: String
    public var baseCommit: String
    public var configName: String
    public var nic: String
    public var workload: String
    public var status: RunStatus
    public var verdict: Verdict?
    public var failedPhase: Phase?
    /// The process that runs (or ran) it.
    public var owner: RunOwner?
    /// The series' revision and patch count; nil before the series was read.
    public var revision: Int?
    public var patchCount: Int?
    /// Whether it stored anything to compare (samples or leaks).
    public var measured: Bool

    public init(id: RunID, startedAt: String, seriesTitle: String, treeName: String, baseCommit: String,
                configName: String, nic: String, workload: String, status: RunStatus, verdict: Verdict?,
                failedPhase: Phase?, owner: RunOwner? = nil, revision: Int? = nil, patchCount: Int? = nil, measured: Bool = false) {
        self.owner = owner
        self.revision = revision
        self.patchCount = patchCount
        self.measured = measured
        self.id = id
        self.startedAt = startedAt
        self.seriesTitle = seriesTitle
        self.treeName = treeName
        self.baseCommit = baseCommit
        self.configName = configName
        self.nic = nic
        self.workload = workload
        self.status = status
        self.verdict = verdict
        self.failedPhase = failedPhase
    }
}

/// The process running a run, so that a run left "running" by a process that is gone can be told from
/// one that is still going.
public struct RunOwner: Sendable, Codable, Equatable {
    public var host: String
    public var pid: Int32

    public init(host: String, pid: Int32) {
        self.host = host
        self.pid = pid
    }
}

/// Everything stored about one run.
public struct StoredRun: Sendable, Equatable {
    /// What its boots found, by boot: what every comparison of it is computed from.
    public var evidence: RunEvidence {
        RunEvidence(workload: plan.workload, boots: boots, samples: samples, leaks: leaks, splats: splats)
    }

    /// Its summary as a store lists it: with the series' revision and size, and whether it measured.
    public var listed: RunSummary {
        var listed = summary
        listed.revision = series?.revision
        listed.patchCount = series?.patches.count
        listed.measured = !samples.isEmpty || !leaks.isEmpty
        return listed
    }

    /// The clock its throughput was measured in.
    public var measurementClock: MeasurementClock? { evidence.measurementClock }

    /// The comparison of its baseline with its patched kernel, as the run itself made it (`RunEvidence`).
    public var comparison: Comparison {
        Comparison(evidence, plan: plan)
    }

    /// The whole command that runs this run again: the series, tree, resolved base commit, config, NIC,
    /// workload, accelerator, clock and repetitions it used, whatever was typed (or left to defaults).
    public var reproducer: [String] {
        var argv = ["netrig", "run"]
        if let range = plan.rangeRequest {
            argv += ["--tree", plan.treeRequest ?? "", "--range", range]
        } else {
            argv += ["--series", plan.seriesPath]
            // The revision tested, when the mbox held several (or one that is not v1: harmless, and exact).
            if let series, series.revisions.count > 1 || series.revision != 1 { argv += ["--revision", "\(series.revision)"] }
            if let tree = plan.treeRequest { argv += ["--tree", tree] }
            if !summary.baseCommit.isEmpty { argv += ["--base", summary.baseCommit] } else if let base = plan.baseRequest { argv += ["--base", base] }
        }
        argv += ["--config", plan.configName, "--nic", plan.nic.rawValue]
        if let topology = plan.topology { argv += ["--topology", topology.rawValue] }
        argv += ["--workload", plan.workload]
        if plan.isBuildOnly { return argv + ["--build-only"] }
        if let boot = boots.first {
            argv += ["--accel", boot.accelerator.rawValue, "--clock", boot.clock.rawValue]
        } else {
            if let accelerator = plan.accelerator { argv += ["--accel", accelerator.rawValue] }
            if let clock = plan.clock { argv += ["--clock", clock.rawValue] }
        }
        argv += ["--repetitions", "\(plan.repetitions)"]
        if let cap = plan.maxRepetitions { argv += ["--max-repetitions", "\(cap)"] }
        if !plan.leakCheck { argv.append("--no-leak-check") }
        argv += ["--memory", "\(plan.memoryMiB)"]
        // Given, --vcpus sets both counts; by default they differ (2, and 1 for throughput in virtual time).
        // A run stored before the two existed booted `vcpus` everywhere, which only --vcpus says now.
        if plan.throughputVCPUs.map({ $0 == plan.vcpus }) ?? true { argv += ["--vcpus", "\(plan.vcpus)"] }
        if plan.usesVIOMMU { argv.append("--viommu") }
        if let seconds = plan.bootTimeoutSeconds, seconds != 180 { argv += ["--boot-timeout", "\(seconds)"] }
        if case let extra = plan.kernelArguments, !extra.isEmpty { argv += ["--append", extra.joined(separator: " ")] }
        return argv
    }

    public var summary: RunSummary
    public var plan: RunPlan
    public var series: Series?
    public var applied: AppliedSeries?
    public var phases: [PhaseRecord]
    public var builds: [KernelArtifact]
    public var boots: [BootRecord]
    public var samples: [Sample]
    public var leaks: [Leak]
    public var splats: [Splat]
    public var error: NetrigError?
    /// nil for runs stored before it was recorded or that stopped before booting.
    public var environment: RunEnvironment?
    /// Each patch's build, in series order.
    public var patchBuilds: [PatchBuild]
    /// Effective config symbols the series changed; nil when the run stopped before both kernels built.
    public var configChanges: [ConfigChange]?
    /// What the store holds of this run and could not read ("boot 12: unknown NIC 'foo'"): shown by `show`
    /// and the pages, so that nothing stored is lost without a word.
    public var unreadable: [String] = []

    public init(summary: RunSummary, plan: RunPlan, series: Series?, applied: AppliedSeries?, phases: [PhaseRecord],
                builds: [KernelArtifact], boots: [BootRecord], samples: [Sample], leaks: [Leak], splats: [Splat],
                error: NetrigError?, environment: RunEnvironment? = nil, patchBuilds: [PatchBuild] = [],
                configChanges: [ConfigChange]? = nil) {
        self.configChanges = configChanges
        self.environment = environment
        self.patchBuilds = patchBuilds
        self.summary = summary
        self.plan = plan
        self.series = series
        self.applied = applied
        self.phases = phases
        self.builds = builds
        self.boots = boots
        self.samples = samples
        self.leaks = leaks
        self.splats = splats
        self.error = error
    }
}
