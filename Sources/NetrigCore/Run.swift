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
    /// The command line that reproduces the run.
    public var commandLine: [String]

    public init(treeRequest: String?, baseRequest: String?, seriesPath: String, configName: String, nic: NICModel,
                workload: String, repetitions: Int, leakCheck: Bool, clock: MeasurementClock?,
                accelerator: Accelerator?, memoryMiB: Int, vcpus: Int, commandLine: [String]) {
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

    public init(side: Side, nic: NICModel, accelerator: Accelerator, clock: MeasurementClock, kmemleak: Bool,
                bootSeconds: Double, consoleLog: String, dmesg: String, workloadTranscript: String,
                unsupportedReason: String?) {
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

/// Identifies a stored run.
public typealias RunID = Int64

/// The overall status of a run.
public enum RunStatus: String, Sendable, Codable {
    case running
    case completed
    /// Stopped by an error; the phase that failed is recorded with the run.
    case failed
}

/// The verdict of a run, as the exit code reports it.
public enum Verdict: String, Sendable, Codable {
    /// Nothing found.
    case pass
    /// The series broke something.
    case fail
    /// netrig could not decide: infrastructure error.
    case error

    public var exitCode: Int32 {
        switch self {
        case .pass: 0
        case .fail: 2
        case .error: 1
        }
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

    public init(id: RunID, startedAt: String, seriesTitle: String, treeName: String, baseCommit: String,
                configName: String, nic: String, workload: String, status: RunStatus, verdict: Verdict?,
                failedPhase: Phase?) {
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

/// Everything stored about one run.
public struct StoredRun: Sendable, Equatable {
    /// The clock its throughput was measured in (from its first boot).
    public var measurementClock: MeasurementClock? { boots.first?.clock }

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

    public init(summary: RunSummary, plan: RunPlan, series: Series?, applied: AppliedSeries?, phases: [PhaseRecord],
                builds: [KernelArtifact], boots: [BootRecord], samples: [Sample], leaks: [Leak], splats: [Splat],
                error: NetrigError?) {
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
