/// A NIC under test: one of QEMU's emulated models, or a software device created inside the guest.
public enum NICModel: String, Sendable, Codable, CaseIterable {
    case virtioNet = "virtio-net"
    case e1000e
    case igb
    case vmxnet3
    /// netdevsim devices linked in pairs across namespaces (`/sys/bus/netdevsim/link_device`, Linux 6.9+).
    case netdevsim
    case veth

    /// A device the hypervisor emulates (true) or a device the guest kernel creates itself (false). (Its
    /// QEMU device name is GuestVM's `NICModel.qemuDevice`.)
    public var isEmulated: Bool {
        switch self {
        case .virtioNet, .e1000e, .igb, .vmxnet3: true
        case .netdevsim, .veth: false
        }
    }

    /// Offloads turned off on the test NICs in the guest (`ethtool -K IF FEATURE off`). QEMU 7.2 emulates
    /// TSO for e1000e, igb and vmxnet3 (hw/net/net_tx_pkt.c, `net_tx_pkt_do_sw_fragmentation`) by cutting
    /// the 64 KB frame into IP fragments, not TCP segments, when the peer takes no virtio header (a hub or
    /// a socket): the receiver reassembles datagrams of ~30 fragments, a late fragment reorders the stream
    /// and TCP retransmits spuriously, and a lost one stalls the sender until a retransmission timeout
    /// (measured: docs/VIRTUAL-TIME.md). With TSO off the guest segments in software (GSO), as it would
    /// for a NIC without TSO, the same on every QEMU: TCP segments on the wire, as on real hardware.
    public var offloadsTurnedOff: [String] {
        switch self {
        case .e1000e, .igb, .vmxnet3: ["tso"]
        case .virtioNet, .netdevsim, .veth: []
        }
    }

    /// The guest driver that binds to it (as `ethtool -i` names it).
    public var driver: String {
        switch self {
        case .virtioNet: "virtio_net"
        case .e1000e: "e1000e"
        case .igb: "igb"
        case .vmxnet3: "vmxnet3"
        case .netdevsim: "netdevsim"
        case .veth: "veth"
        }
    }

    /// The topologies it can be wired in: software devices live inside one kernel, so never `pair`.
    public var topologies: [Topology] { isEmulated ? [.loop, .pair] : [.loop] }

    /// Whether the driver allocates its RX buffers from page_pool in Linux 6.12.
    public var usesPagePool: Bool { self == .vmxnet3 || self == .netdevsim }
}

/// How the NICs under test are wired.
public enum Topology: String, Sendable, Codable, CaseIterable {
    /// One guest, two NICs of the same model back to back (a QEMU hub, or a netdevsim link, or a veth pair);
    /// one end in a network namespace, so traffic crosses the driver on both ends.
    case loop
    /// Two guests, one NIC each, on a private link between them (a QEMU UDP socket pair on loopback).
    case pair

    /// How many guests the topology boots.
    public var guestCount: Int { self == .loop ? 1 : 2 }
}

/// One link under test and the names and addresses of its two ends. Link `index` uses test MACs 2·index
/// and 2·index+1 and the subnet 198.18.index.0/24 (RFC 2544's benchmarking range, never routed).
public struct NetworkLink: Sendable, Equatable, Codable {
    public var model: NICModel
    public var topology: Topology
    public var index: Int

    public init(model: NICModel, topology: Topology, index: Int = 0) {
        self.model = model
        self.topology = topology
        self.index = index
    }

    public var localInterface: String { "nr\(2 * index)" }
    public var peerInterface: String { "nr\(2 * index + 1)" }
    /// In `loop`, the peer end lives in this namespace; in `pair` it is the second guest.
    public var peerNamespace: String { index == 0 ? "peer" : "peer\(index)" }
    public var localAddress: String { "198.18.\(index).1" }
    public var peerAddress: String { "198.18.\(index).2" }
    public var localMAC: String { GuestAddressing.testMAC(2 * index) }
    public var peerMAC: String { GuestAddressing.testMAC(2 * index + 1) }
    public var label: String { "\(model.rawValue) \(topology.rawValue)" + (index == 0 ? "" : " #\(index)") }
}

/// How the guest CPU is emulated.
public enum Accelerator: String, Sendable, Codable {
    case kvm
    case tcg
}

/// Which clock throughput is measured in. `virtual` runs QEMU with `-icount shift=1,sleep=off`: guest time
/// then counts instructions, so throughput measures work per byte with almost no noise (TCG only).
public enum MeasurementClock: String, Sendable, Codable, CaseIterable {
    case virtual
    case real
}

/// Everything needed to boot one guest.
public struct GuestSpec: Sendable, Equatable {
    /// Short name used in domain names, logs and errors ("baseline", "patched").
    public var name: String
    public var kernelImage: String
    public var rootImage: String
    public var extraCommandLine: [String]
    public var memoryMiB: Int
    public var vcpus: Int
    /// The links under test this guest carries an end of (emulated NICs get QEMU devices; software NICs
    /// are created inside the guest). All links of one boot share a topology.
    public var links: [NetworkLink]
    /// Which end of the links: 0 in `loop` (both ends), 0 or 1 in `pair`.
    public var end: Int
    /// A virtual Intel IOMMU (`intel_iommu=on iommu.strict=1`): every test NIC's DMA is translated.
    public var viommu: Bool
    public var accelerator: Accelerator
    public var clock: MeasurementClock
    /// Directory for the console log and the disk overlay of this boot.
    public var workDirectory: String
    public var bootTimeout: Duration
    /// Under KVM: a guest whose console is still empty after this long is stopped with a `consoleSilent`
    /// error (nested KVM that hangs after the firmware), so that the run can boot it again under TCG.
    public var silentConsoleTimeout: Duration?
    /// Whose fault a kernel that does not boot is. (Its errors name no phase: the engine stamps it.)
    public var blameForKernel: NetrigError.Blame

    public init(name: String, kernelImage: String, rootImage: String, extraCommandLine: [String] = [],
                memoryMiB: Int = 1024, vcpus: Int = 2, links: [NetworkLink], end: Int = 0, viommu: Bool = false, accelerator: Accelerator,
                clock: MeasurementClock, workDirectory: String, bootTimeout: Duration = .seconds(180),
                blameForKernel: NetrigError.Blame = .series, silentConsoleTimeout: Duration? = nil) {
        self.silentConsoleTimeout = silentConsoleTimeout
        self.blameForKernel = blameForKernel
        self.name = name
        self.kernelImage = kernelImage
        self.rootImage = rootImage
        self.extraCommandLine = extraCommandLine
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.links = links
        self.end = end
        self.viommu = viommu
        self.accelerator = accelerator
        self.clock = clock
        self.workDirectory = workDirectory
        self.bootTimeout = bootTimeout
    }
}

/// The output of one command run in a guest.
public struct CommandOutput: Sendable, Equatable {
    public var exitStatus: Int32
    public var standardOutput: String
    public var standardError: String
    /// The signal that ended the command ("KILL"), when it did not exit by itself.
    public var exitSignal: String?

    public init(exitStatus: Int32, standardOutput: String, standardError: String, exitSignal: String? = nil) {
        self.exitStatus = exitStatus
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.exitSignal = exitSignal
    }

    /// "exited with status N", or "was killed by signal KILL".
    public var ending: String {
        exitSignal.map { "was killed by signal \($0)" } ?? "exited with status \(exitStatus)"
    }
}

/// A booted guest that netrig can run commands in. Implemented over SSH; faked in unit tests.
public protocol GuestSession: Sendable {
    var name: String { get }
    /// Path of the serial console log on the host.
    var consoleLog: String { get }
    /// Seconds from domain start until SSH answered.
    var bootSeconds: Double { get }
    /// Seconds from domain start until the guest's init printed its first line (nil when not seen).
    var initSeconds: Double? { get }
    /// Runs `argv` through the guest's shell (quoted, never interpreted) and waits at most `timeout`.
    func run(_ argv: [String], timeout: Duration) async throws -> CommandOutput
    /// Runs a shell script written by netrig itself (workload setup steps), not user-controlled text.
    func runScript(_ script: String, timeout: Duration) async throws -> CommandOutput
    /// Copies a host file into the guest.
    func upload(_ hostPath: String, to guestPath: String, mode: Int) async throws
    /// Writes `contents` to a file in the guest (a workload's script).
    func write(_ contents: String, to guestPath: String, mode: Int) async throws
}

public extension GuestSession {
    var initSeconds: Double? { nil }
}

/// Boots guests and always tears them down, also on errors and cancellation.
public protocol GuestLauncher: Sendable {
    /// Boots every spec at once (the two ends of a `pair`), runs `body` with their sessions in the same
    /// order, and tears all of them down, also when only some of them booted.
    func withGuests<T: Sendable>(_ specs: [GuestSpec], _ body: ([any GuestSession]) async throws -> T) async throws -> T
    /// The hypervisor and its version, e.g. "QEMU 7.2.22".
    func hypervisorVersion() async throws -> String
    /// The emulated models among `models` that this hypervisor cannot provide, each with the reason.
    func unsupportedNICs(_ models: [NICModel]) async -> [NICModel: String]
}

public extension GuestLauncher {
    func withGuest<T: Sendable>(_ spec: GuestSpec, _ body: (any GuestSession) async throws -> T) async throws -> T {
        try await withGuests([spec]) { sessions in try await body(sessions[0]) }
    }
}

/// How netrig addresses a guest's NICs: the management NIC and the test NICs are found by MAC inside the
/// guest, so device enumeration order never matters.
public enum GuestAddressing {
    /// The management NIC (SSH); never a NIC under test.
    public static let managementMAC = "52:54:00:6e:72:01"

    /// MAC of test NIC `index` (0-based): 52:54:00:6e:00:01, :02, ...
    public static func testMAC(_ index: Int) -> String {
        let value = index + 1
        return "52:54:00:6e:\(hex2(value >> 8)):\(hex2(value & 0xff))"
    }

    private static func hex2(_ value: Int) -> String {
        let digits = String(value, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
