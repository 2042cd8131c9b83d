/// The one error type of netrig: what failed, in which phase, on which input, and whose fault it is.
///
/// `blame` keeps a user's mistake (a patch that does not apply, a symbol a fragment cannot get) apart from
/// an infrastructure failure (libvirt, disk, SSH): the two end in different verdicts and exit codes.
public struct NetrigError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Blame: String, Sendable, Codable, Equatable {
        /// The series is at fault (bad mbox, patch does not apply, compile error), or the patched kernel did
        /// something the baseline, run the same way, did not (a panic, a hang, a workload that fails). Adapters
        /// say `series` for "the kernel under test did it"; the engine keeps it only with that evidence.
        case series
        /// The base tree itself fails this step, without the series (a baseline that does not build, boot or
        /// finish its workload, a config that cannot hold on it): nothing can be said about the series.
        case baseline
        /// The user asked for something impossible (unknown option value, missing file).
        case usage
        /// The machine, libvirt, QEMU, SSH, disk or a cache is at fault.
        case infrastructure
    }

    public var phase: Phase
    public var blame: Blame
    /// What the error is about: "patch 2/3 'page_pool: ...'", "CONFIG_NET_DEVMEM", "guest baseline".
    public var subject: String?
    public var message: String
    /// Supporting lines: a console tail, a compiler error, the failing command.
    public var details: [String]
    /// The 1-based index of the patch at fault, when one is.
    public var patch: Int?
    /// What kind of failure this is, where the engine acts on it (nil for most errors).
    public var code: Code?

    public enum Code: String, Sendable, Codable, Equatable {
        /// A guest under KVM printed nothing on its console in the time a kernel needs to say "Linux
        /// version": nested KVM hangs on some hosts after the firmware; the run boots again under TCG.
        case consoleSilent = "console-silent"
        /// QEMU could not start a guest under KVM at all (seen here: "failed to set MSR 0x10a" from a
        /// nested KVM that opens but cannot run this CPU model); the run boots again under TCG.
        case kvmStartFailed = "kvm-start-failed"

        /// Whether the run may boot again under TCG after this error of a KVM guest.
        public var isKVMFailure: Bool { self == .consoleSilent || self == .kvmStartFailed }
    }

    public init(phase: Phase, blame: Blame, subject: String? = nil, message: String, details: [String] = [], patch: Int? = nil,
                code: Code? = nil) {
        self.patch = patch
        self.code = code
        self.phase = phase
        self.blame = blame
        self.subject = subject
        self.message = message
        self.details = details
    }

    public var description: String {
        var text = "\(phase.rawValue): "
        if let subject { text += "\(subject): " }
        text += message
        for line in details { text += "\n    \(line)" }
        return text
    }
}

/// The phases of a run, in order. Every phase is timed and stored.
public enum Phase: String, Sendable, Codable, CaseIterable, Comparable {
    case prepareTree = "prepare-tree"
    case applySeries = "apply-series"
    case configure = "configure"
    case buildBaseline = "build-baseline"
    /// Each patch of the series built in order, incremental on the one before.
    case buildPatches = "build-patches"
    case buildPatched = "build-patched"
    case buildImage = "build-image"
    case probeAccel = "probe-accel"
    case testBaseline = "test-baseline"
    case testPatched = "test-patched"
    case checkLeaks = "check-leaks"
    case compare = "compare"
    case store = "store"

    public static func < (lhs: Phase, rhs: Phase) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
