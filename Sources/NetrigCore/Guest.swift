/// An emulated NIC model: the name users type, and what libvirt calls it.
public enum NICModel: String, Sendable, Codable, CaseIterable {
    case virtioNet = "virtio-net"
    case e1000e
    case igb
    case vmxnet3

    /// The `<model type=...>` of a libvirt `<interface>`.
    public var libvirtModel: String {
        switch self {
        case .virtioNet: "virtio"
        case .e1000e: "e1000e"
        case .igb: "igb"
        case .vmxnet3: "vmxnet3"
        }
    }

    /// QEMU's `-device` name.
    public var qemuDevice: String {
        switch self {
        case .virtioNet: "virtio-net-pci"
        case .e1000e: "e1000e"
        case .igb: "igb"
        case .vmxnet3: "vmxnet3"
        }
    }

    /// The guest driver that binds to it (as `ethtool -i` names it).
    public var driver: String {
        switch self {
        case .virtioNet: "virtio_net"
        case .e1000e: "e1000e"
        case .igb: "igb"
        case .vmxnet3: "vmxnet3"
        }
    }
}

/// How the guest CPU is emulated.
public enum Accelerator: String, Sendable, Codable {
    case kvm
    case tcg

    /// libvirt's `<domain type=...>`.
    public var domainType: String { self == .kvm ? "kvm" : "qemu" }
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
    /// The NICs under test, wired back to back in pairs (`loop` topology).
    public var testNICs: [NICModel]
    public var accelerator: Accelerator
    public var clock: MeasurementClock
    /// Directory for the console log and the disk overlay of this boot.
    public var workDirectory: String
    public var bootTimeout: Duration
    /// The run phase this boot belongs to, for errors; and whose fault a kernel that does not boot is.
    public var phase: Phase
    public var blameForKernel: NetrigError.Blame

    public init(name: String, kernelImage: String, rootImage: String, extraCommandLine: [String] = [],
                memoryMiB: Int = 1024, vcpus: Int = 2, testNICs: [NICModel], accelerator: Accelerator,
                clock: MeasurementClock, workDirectory: String, bootTimeout: Duration = .seconds(180),
                phase: Phase = .testBaseline, blameForKernel: NetrigError.Blame = .series) {
        self.phase = phase
        self.blameForKernel = blameForKernel
        self.name = name
        self.kernelImage = kernelImage
        self.rootImage = rootImage
        self.extraCommandLine = extraCommandLine
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.testNICs = testNICs
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

    public init(exitStatus: Int32, standardOutput: String, standardError: String) {
        self.exitStatus = exitStatus
        self.standardOutput = standardOutput
        self.standardError = standardError
    }
}

/// A booted guest that netrig can run commands in. Implemented over SSH; faked in unit tests.
public protocol GuestSession: Sendable {
    var name: String { get }
    /// Path of the serial console log on the host.
    var consoleLog: String { get }
    /// Seconds from domain start until SSH answered.
    var bootSeconds: Double { get }
    /// Runs `argv` through the guest's shell (quoted, never interpreted) and waits at most `timeout`.
    func run(_ argv: [String], timeout: Duration) async throws -> CommandOutput
    /// Runs a shell script written by netrig itself (workload setup steps), not user-controlled text.
    func runScript(_ script: String, timeout: Duration) async throws -> CommandOutput
    /// Copies a host file into the guest.
    func upload(_ hostPath: String, to guestPath: String, mode: Int) async throws
}

/// Boots guests and always tears them down, also on errors and cancellation.
public protocol GuestLauncher: Sendable {
    func withGuest<T: Sendable>(_ spec: GuestSpec, _ body: (any GuestSession) async throws -> T) async throws -> T
    /// The hypervisor and its version, e.g. "QEMU 7.2.22".
    func hypervisorVersion() async throws -> String
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

    /// Addresses of the loop topology: the local end and the end in network namespace `peer`. The range is
    /// RFC 2544's benchmarking network; the traffic never leaves the guest.
    public static let localAddress = "198.18.0.1"
    public static let peerAddress = "198.18.0.2"
    public static let localInterface = "nr0"
    public static let peerInterface = "nr1"
    public static let peerNamespace = "peer"

    private static func hex2(_ value: Int) -> String {
        let digits = String(value, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
