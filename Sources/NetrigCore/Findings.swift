/// A kmemleak report: one unreferenced object.
public struct Leak: Sendable, Codable, Equatable {
    public var side: Side
    public var size: Int
    public var comm: String
    /// Backtrace frames as kmemleak printed them (`kmalloc_trace+0x26/0x90`).
    public var backtrace: [String]
    /// Stable identity across runs and kernels: the top non-allocator frames without offsets.
    public var fingerprint: String
    public var raw: String

    public init(side: Side, size: Int, comm: String, backtrace: [String], fingerprint: String, raw: String) {
        self.side = side
        self.size = size
        self.comm = comm
        self.backtrace = backtrace
        self.fingerprint = fingerprint
        self.raw = raw
    }
}

/// A kernel splat found in dmesg or on the console.
public struct Splat: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case warning, bug, oops, panic, kasan, kfence, stalledPool = "stalled-pool", genpool
        case badPage = "bad-page", dmaAPI = "dma-api", dmar, netdevWait = "netdev-wait"
        case hungTask = "hung-task", rcuStall = "rcu-stall", kmemleakDisabled = "kmemleak-disabled"
    }
    public var side: Side
    public var kind: Kind
    /// The line that identifies it (first line of the splat).
    public var title: String
    /// The splat's text as printed, up to its end marker.
    public var text: String

    public init(side: Side, kind: Kind, title: String, text: String) {
        self.side = side
        self.kind = kind
        self.title = title
        self.text = text
    }
}

/// What the collectors found on one guest after its workloads.
public struct Collected: Sendable, Equatable {
    public var leaks: [Leak]
    public var splats: [Splat]
    public var dmesg: String

    public init(leaks: [Leak], splats: [Splat], dmesg: String) {
        self.leaks = leaks
        self.splats = splats
        self.dmesg = dmesg
    }
}

/// Collects leaks and splats from a guest: `prepare` before the workload, `collect` after it.
public protocol GuestCollector: Sendable {
    func prepare(on guest: any GuestSession, kmemleak: Bool) async throws
    func collect(on guest: any GuestSession, side: Side, kmemleak: Bool) async throws -> Collected
}
