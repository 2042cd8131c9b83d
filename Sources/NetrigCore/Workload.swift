/// How a number is pulled out of a step's output.
public struct MetricSpec: Sendable, Codable, Equatable {
    public enum Stream: String, Sendable, Codable { case stdout, stderr }
    public var name: String
    public var unit: String
    /// Which step's output: "client" or "server".
    public var step: String
    public var stream: Stream
    /// A regular expression whose first capture group is the number.
    public var pattern: String
    /// Multiply the captured number by this (sends × bytes per send → MiB).
    public var scale: Double
    /// Divide the captured number by the workload's duration (MB → MB/s).
    public var perSecond: Bool
    /// true when bigger is better (throughput); false for costs (CPU per MB).
    public var higherIsBetter: Bool
    /// The modes that report it; nil: every mode.
    public var modes: [String]?

    public init(name: String, unit: String, step: String, stream: Stream, pattern: String, scale: Double = 1,
                perSecond: Bool, higherIsBetter: Bool = true) {
        self.scale = scale
        self.name = name
        self.unit = unit
        self.step = step
        self.stream = stream
        self.pattern = pattern
        self.perSecond = perSecond
        self.higherIsBetter = higherIsBetter
    }
}

/// One variant of a workload (MSG_ZEROCOPY on or off), each measured as its own metric set.
public struct WorkloadMode: Sendable, Codable, Equatable {
    public var name: String
    /// Extra arguments for the client and server steps.
    public var clientArguments: [String]
    public var serverArguments: [String]

    public init(name: String, clientArguments: [String], serverArguments: [String] = []) {
        self.name = name
        self.clientArguments = clientArguments
        self.serverArguments = serverArguments
    }
}

/// A workload as declared in `workloads/NAME.toml`.
public struct WorkloadDefinition: Sendable, Codable, Equatable {
    public var name: String
    public var summary: String
    /// The topologies it can run in; the first is the default.
    public var topologies: [Topology]
    public var nics: [NICModel]
    /// Symbols the kernel must have (`CONFIG_NET_NS`).
    public var requiredSymbols: [String]
    public var programs: [GuestProgram]
    /// Seconds each client run lasts (in guest time).
    public var duration: Int
    public var timeout: Duration
    /// argv templates; `{program}` and script names, `{duration}`, `{mode}`, `{local_ip}`, `{peer_ip}`, `{local_if}`,
    /// `{peer_if}`, `{peer_ns}` (loop), `{local_mac}`, `{peer_mac}` are filled in, each inside one argument.
    public var server: [String]
    public var client: [String]
    public var modes: [WorkloadMode]
    public var metrics: [MetricSpec]
    /// Output patterns that mean "this NIC or kernel cannot do it", with the reason to report.
    public var unsupported: [UnsupportedPattern]
    /// Client exit statuses besides 0 that mean success (124 when `timeout` ends a client that sends
    /// until it is stopped).
    /// Optional so that workloads stored before these keys existed still decode.
    public var clientSuccessStatuses: [Int32]?
    /// Shell scripts shipped with the workload (`workloads/scripts/`), by name → their text: uploaded
    /// beside the programs and called with their values as arguments. Optional for stored workloads.
    public var scripts: [String: String]?
    /// The server keeps accepting connections and never exits on its own: netrig stops it once the
    /// client is done and its report is out.
    public var serverPersists: Bool?
    /// Whether netrig attaches XDP_PASS to vmxnet3 ends (so RX comes from the page pool). nil means yes;
    /// devmem_rx says no, because the kernel refuses to bind a dma-buf to a device running XDP (EEXIST).
    public var xdpPass: Bool?

    public init(name: String, summary: String, topologies: [Topology], nics: [NICModel], requiredSymbols: [String],
                programs: [GuestProgram], duration: Int, timeout: Duration, server: [String], client: [String],
                modes: [WorkloadMode], metrics: [MetricSpec], unsupported: [UnsupportedPattern]) {
        self.name = name
        self.summary = summary
        self.topologies = topologies
        self.nics = nics
        self.requiredSymbols = requiredSymbols
        self.programs = programs
        self.duration = duration
        self.timeout = timeout
        self.server = server
        self.client = client
        self.modes = modes
        self.metrics = metrics
        self.unsupported = unsupported
    }
}

public struct UnsupportedPattern: Sendable, Codable, Equatable {
    public var pattern: String
    public var reason: String

    public init(pattern: String, reason: String) {
        self.pattern = pattern
        self.reason = reason
    }
}

/// One measured value.
public struct Sample: Sendable, Codable, Equatable {
    public var side: Side
    public var workload: String
    public var nic: NICModel
    /// "msg_zerocopy/zerocopy:throughput": workload mode and metric.
    public var metric: String
    public var unit: String
    public var repetition: Int
    public var value: Double
    public var higherIsBetter: Bool
    /// How busy the guests' CPUs were while the sample was taken (the client step), in % of all their
    /// CPUs: the client's guest, and the server's guest in the `pair` topology (in `loop` both ends share
    /// one guest). Context for the value (the same throughput at more CPU is a cost), never compared alone.
    public var cpuBusy: Double?
    public var peerCPUBusy: Double?
    /// The boot that measured it; nil before it is stored.
    public var boot: BootID?

    public init(side: Side, workload: String, nic: NICModel, metric: String, unit: String, repetition: Int,
                value: Double, higherIsBetter: Bool, cpuBusy: Double? = nil, peerCPUBusy: Double? = nil, boot: BootID? = nil) {
        self.boot = boot
        self.side = side
        self.workload = workload
        self.nic = nic
        self.metric = metric
        self.unit = unit
        self.repetition = repetition
        self.value = value
        self.higherIsBetter = higherIsBetter
        self.cpuBusy = cpuBusy
        self.peerCPUBusy = peerCPUBusy
    }
}

/// The first line of `/proc/stat` (the sum over all CPUs, in clock ticks), read before and after a step
/// to say how busy the CPUs were meanwhile.
public struct CPUTimes: Sendable, Equatable {
    public var busy: UInt64
    public var total: UInt64

    /// Parses "cpu  user nice system idle iowait irq softirq steal ...": idle and iowait are not busy;
    /// guest time is already counted in user.
    public init?(procStat text: String) {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 4 else { return nil }
        let counted = Array(fields.prefix(8))
        total = counted.reduce(0, +)
        busy = total - counted[3] - (counted.count > 4 ? counted[4] : 0)
    }

    /// The busy share between two readings, in %; nil when no tick passed.
    public static func busyPercent(from start: CPUTimes, to end: CPUTimes) -> Double? {
        guard end.total > start.total, end.busy >= start.busy else { return nil }
        return Double(end.busy - start.busy) / Double(end.total - start.total) * 100
    }
}

/// What running a workload on one guest produced.
public struct WorkloadOutcome: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case completed
        case unsupported(reason: String)
    }
    public var status: Status
    public var samples: [Sample]
    /// The raw output of every step, for the run's logs.
    public var transcript: String

    public init(status: Status, samples: [Sample], transcript: String) {
        self.status = status
        self.samples = samples
        self.transcript = transcript
    }
}

/// Runs a workload on a booted guest.
public protocol WorkloadExecutor: Sendable {
    /// Wires `link` across `guests` (one in `loop`, two in `pair`), then runs every mode `repetitions`
    /// times, numbering samples from `firstRepetition`. With `warmup`, the first mode runs once before and
    /// its output is discarded (caches, page pools and ARP warmed up). Its errors name no phase: the
    /// engine stamps the one the boot belongs to.
    func run(_ workload: WorkloadDefinition, side: Side, link: NetworkLink, programs: [String: String],
             repetitions: Int, firstRepetition: Int, warmup: Bool, on guests: [any GuestSession]) async throws -> WorkloadOutcome
}
