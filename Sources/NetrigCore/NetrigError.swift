/// The one error type of netrig: what failed, in which phase, on which input, and whose fault it is.
///
/// `blame` keeps a user's mistake (a patch that does not apply, a symbol a fragment cannot get) apart from
/// an infrastructure failure (libvirt, disk, SSH): the two end in different verdicts and exit codes.
public struct NetrigError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Blame: String, Sendable, Codable, Equatable {
        /// The series or the user's input is at fault (bad mbox, patch does not apply, compile error, panic).
        case series
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

    public init(phase: Phase, blame: Blame, subject: String? = nil, message: String, details: [String] = [], patch: Int? = nil) {
        self.patch = patch
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
