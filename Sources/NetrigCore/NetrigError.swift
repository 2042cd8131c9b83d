/// The one error type of netrig: what failed, in which phase, on which input, and whose fault it is.
///
/// The phase is the run engine's to say: adapters throw without one, and the engine stamps the phase it
/// was in on every error that passes through it. What kind of failure it is, is the `code`'s to say (a
/// dropped config symbol is found while a kernel is built: phase build-baseline, code config-refused).
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

    /// The run phase the error ended, set by the run engine (`RunEngine.timed` and its checks before
    /// anything is built); nil from an adapter, and for an error that never reached the engine.
    public var phase: Phase?
    public var blame: Blame
    /// What the error is about: "patch 2/3 'page_pool: ...'", "CONFIG_NET_DEVMEM", "guest baseline".
    public var subject: String?
    public var message: String
    /// Supporting lines: a console tail, a compiler error, the failing command.
    public var details: [String]
    /// The 1-based index of the patch at fault, when one is.
    public var patch: Int?
    /// What kind of failure this is, for code that acts on it (never decided from the message's words).
    public var code: Code
    /// The error underneath, when this one wraps another (a libvirt error, a file system error). `==`
    /// ignores it; `description` shows it; the store keeps its description.
    public var cause: (any Error & Sendable)?
    /// The log of the step that failed: the build log of a `buildFailed`, a configure or compile log.
    public var log: String?
    /// The failure is remembered from an earlier attempt with the same inputs, not seen again now (a
    /// compiler error kept in the build cache).
    public var cached: Bool

    /// An extensible kind of failure, like swift-system's `Errno`: the raw value is what the store keeps.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A guest under KVM printed nothing on its console in the time a kernel needs to say "Linux
        /// version": nested KVM hangs on some hosts after the firmware; the run boots again under TCG.
        public static let consoleSilent = Code("console-silent")
        /// QEMU could not start a guest under KVM at all (seen here: "failed to set MSR 0x10a" from a
        /// nested KVM that opens but cannot run this CPU model); the run boots again under TCG.
        public static let kvmStartFailed = Code("kvm-start-failed")
        /// The series cannot be read: no such file, an mbox without patches, an incomplete series, a
        /// revision it does not hold, a range git cannot format.
        public static let seriesUnreadable = Code("series-unreadable")
        /// The tree or the base asked for cannot be used: not a git repository, uncommitted changes, older
        /// than netrig supports, or a base commit it does not have.
        public static let treeRefused = Code("tree-refused")
        /// A patch of the series does not apply (`git am`) on the base.
        public static let patchDoesNotApply = Code("patch-does-not-apply")
        /// make failed on the kernel (a compiler error, a killed compiler): `log` is the build log.
        public static let buildFailed = Code("build-failed")
        /// The config cannot be had on this tree: allnoconfig or olddefconfig failed, or a requested symbol
        /// did not survive olddefconfig (found while the kernel is built, so in a build phase).
        public static let configRefused = Code("config-refused")
        /// The disk filled up under a build.
        public static let outOfDisk = Code("out-of-disk")
        /// libvirt cannot be reached.
        public static let hypervisorUnreachable = Code("hypervisor-unreachable")
        /// The hypervisor has no device for the NIC model.
        public static let nicUnsupported = Code("nic-unsupported")
        /// A workload step failed in a guest (an exit status, a signal, a timeout).
        public static let workloadFailed = Code("workload-failed")
        /// SIGINT or SIGTERM stopped the run.
        public static let interrupted = Code("interrupted")
        /// Nothing more specific: an error that is not a `NetrigError` is wrapped as one (`cause`).
        public static let other = Code("other")

        /// Whether the run may boot again under TCG after this error of a KVM guest.
        public var isKVMFailure: Bool { self == .consoleSilent || self == .kvmStartFailed }
    }

    public init(phase: Phase? = nil, blame: Blame, subject: String? = nil, message: String, details: [String] = [], patch: Int? = nil,
                code: Code = .other, cause: (any Error & Sendable)? = nil, log: String? = nil, cached: Bool = false) {
        self.patch = patch
        self.code = code
        self.phase = phase
        self.blame = blame
        self.subject = subject
        self.message = message
        self.details = details
        self.cause = cause
        self.log = log
        self.cached = cached
    }

    /// Whether this is an error of that kind.
    public func isCode(_ code: Code) -> Bool { self.code == code }

    /// Every field but `cause` (an `any Error` has no equality).
    public static func == (lhs: NetrigError, rhs: NetrigError) -> Bool {
        lhs.phase == rhs.phase && lhs.blame == rhs.blame && lhs.subject == rhs.subject && lhs.message == rhs.message
            && lhs.details == rhs.details && lhs.patch == rhs.patch && lhs.code == rhs.code && lhs.log == rhs.log
            && lhs.cached == rhs.cached
    }

    /// The details, then the log, whether it was remembered, and the cause (unless the message already
    /// quotes it): the lines shown under the message.
    public var supportingLines: [String] {
        var lines = details
        if let log { lines.append("log: \(log)") }
        if cached { lines.append("not rebuilt: the same inputs failed to build before") }
        if let cause, case let text = "\(cause)", !message.contains(text) { lines.append("cause: \(text)") }
        return lines
    }

    public var description: String {
        var text = phase.map { "\($0.rawValue): " } ?? ""
        if let subject { text += "\(subject): " }
        text += message
        for line in supportingLines { text += "\n    \(line)" }
        return text
    }

    /// A cause known only by its description: the cause of an error read back from the store.
    public struct RecordedCause: Error, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
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
