import Foundation
import NetrigCore
import Synchronization

/// Small fakes behind the ports: a kernel pipeline, image, probe, launcher, workloads and collector that
/// do what a test tells them (fail a side, hang, print nothing under KVM, find leaks) and record what
/// they were asked.
public struct FakeKernel: KernelPipeline {
    public init(failSide: Side? = nil, patchBuilds: [PatchBuild]? = nil, changes: [ConfigChange] = [],
                values: [String: String] = ["CONFIG_NET_DEVMEM": "y"], unchecked: [UncheckedCheck]? = nil,
                buildErrors: [Side: NetrigError] = [:], patchBuildError: NetrigError? = nil) {
        self.buildErrors = buildErrors
        self.patchBuildError = patchBuildError
        self.failSide = failSide
        self.patchBuilds = patchBuilds
        self.changes = changes
        self.values = values
        self.unchecked = unchecked
    }

    public var failSide: Side?
    /// Per-patch results; by default every patch of `apply`'s commits builds cleanly.
    public var patchBuilds: [PatchBuild]?
    public var changes: [ConfigChange] = []
    public func configChanges(from baseline: KernelArtifact, to patched: KernelArtifact) throws -> [ConfigChange] { changes }
    public var values: [String: String] = ["CONFIG_NET_DEVMEM": "y"]
    /// What every artifact says its tree cannot check.
    public var unchecked: [UncheckedCheck]?
    /// Thrown by `build` for that side, as the builder throws it (no phase).
    public var buildErrors: [Side: NetrigError] = [:]
    /// Thrown by `buildEachPatch` (a per-patch build that fails otherwise than to compile).
    public var patchBuildError: NetrigError?
    public func configValues(of artifact: KernelArtifact) throws -> [String: String] { values }
    public func buildEachPatch(_ series: Series, applied: AppliedSeries, baseline: BuildRequest, built: KernelArtifact,
                        progress: any ProgressObserver) async throws -> [PatchBuild] {
        if let patchBuildError { throw patchBuildError }
        if let patchBuilds { return patchBuilds }
        return applied.commits.enumerated().map { index, commit in
            PatchBuild(patch: index + 1, subject: "s", commit: commit, succeeded: failSide != .patched || index < applied.commits.count - 1,
                       firstError: failSide == .patched ? "net/core/sock.c:10:5: error: expected ';'" : nil, cached: false, seconds: 1,
                       log: failSide == .patched ? "/logs/\(commit).log" : nil)
        }
    }
    public func prepareTree(request: String?, base: String?, series: Series) async throws -> KernelTree {
        KernelTree(repository: "/tree", name: "tree", baseCommit: "base", version: "6.12")
    }
    public func apply(_ series: Series, on tree: KernelTree) async throws -> AppliedSeries {
        AppliedSeries(baseCommit: tree.baseCommit, commits: ["c1"])
    }
    public func configSpec(named name: String) throws -> KernelConfigSpec {
        KernelConfigSpec(name: name, base: "tinyconfig", fragments: [])
    }
    public func build(_ request: BuildRequest, progress: any ProgressObserver) async throws -> KernelArtifact {
        if let error = buildErrors[request.side] { throw error }
        if request.side == failSide {
            throw NetrigError(phase: .buildPatched, blame: .series, subject: "patched kernel", message: "the build failed",
                              code: .buildFailed, log: "/logs/\(request.side.rawValue).log")
        }
        return KernelArtifact(side: request.side, commit: request.commit, key: "k", configName: request.config.name, configHash: "h",
                              kernelImage: "/k/bzImage", configPath: "/k/config", programs: ["p": "/k/p"], buildLog: "/k/log",
                              cached: false, buildSeconds: 1, ccacheHitRatio: nil, reproducer: []).with(unchecked: unchecked)
    }
}

extension KernelArtifact {
    public func with(unchecked: [UncheckedCheck]?) -> KernelArtifact { var copy = self; copy.unchecked = unchecked; return copy }
}

public struct FakeImages: ImageProvider {
    public init() {}
    public func prepareImage(progress: any ProgressObserver) async throws -> String { "/images/rootfs.ext4" }
}

public struct FakeProbe: AcceleratorProbe {
    public init(answer: AcceleratorAnswer = AcceleratorAnswer(.tcg, "fake")) {
        self.answer = answer
    }

    public var answer = AcceleratorAnswer(.tcg, "fake")
    public final class Corrections: Sendable { public init() {}; public let answers = Mutex([AcceleratorAnswer]()) }
    public let corrections = Corrections()
    public func probe(kernel: String?) async -> AcceleratorAnswer { answer }
    public func correct(_ answer: AcceleratorAnswer) async { corrections.answers.withLock { $0.append(answer) } }
}

public struct FakeSession: GuestSession {
    public init(name: String, consoleLog: String = "/console.log", bootSeconds: Double = 1.0) {
        self.name = name
        self.consoleLog = consoleLog
        self.bootSeconds = bootSeconds
    }

    public var name: String
    public var consoleLog = "/console.log"
    public var bootSeconds = 1.0
    public func run(_ argv: [String], timeout: Duration) async throws -> CommandOutput { CommandOutput(exitStatus: 0, standardOutput: "", standardError: "") }
    public func runScript(_ script: String, timeout: Duration) async throws -> CommandOutput { CommandOutput(exitStatus: 0, standardOutput: "", standardError: "") }
    public func upload(_ hostPath: String, to guestPath: String, mode: Int) async throws {}
    public func write(_ contents: String, to guestPath: String, mode: Int) async throws {}
}

public struct FakeLauncher: GuestLauncher {
    public init(failure: NetrigError? = nil, unsupported: [NICModel: String] = [:], silentUnderKVM: Set<Side> = [],
                kvmFailure: NetrigError.Code = .consoleSilent, hangSide: Side? = nil) {
        self.failure = failure
        self.unsupported = unsupported
        self.silentUnderKVM = silentUnderKVM
        self.kvmFailure = kvmFailure
        self.hangSide = hangSide
    }

    public var failure: NetrigError?
    public var unsupported: [NICModel: String] = [:]
    /// Guests of these sides print nothing under KVM (nested KVM that hangs after the firmware).
    public var silentUnderKVM: Set<Side> = []
    /// How those guests fail: a silent console, or QEMU that cannot start KVM at all.
    public var kvmFailure: NetrigError.Code = .consoleSilent
    /// Boots of this side's kernel (by its name prefix) hang before init, as a kernel that never boots.
    public var hangSide: Side?
    /// Every boot's specs, in order.
    public final class Boots: Sendable { public init() {}; public let specs = Mutex([[GuestSpec]]()) }
    public let booted = Boots()
    public func hypervisorVersion() async throws -> String {
        if let failure { throw failure }
        return "QEMU 7.2.0-fake"
    }
    public func unsupportedNICs(_ models: [NICModel]) async -> [NICModel: String] { unsupported.filter { models.contains($0.key) } }
    public func withGuests<T: Sendable>(_ specs: [GuestSpec], _ body: ([any GuestSession]) async throws -> T) async throws -> T {
        if let failure { throw failure }
        booted.specs.withLock { $0.append(specs) }
        if let spec = specs.first, spec.accelerator == .kvm, silentUnderKVM.contains(where: { spec.name.hasPrefix($0.rawValue) }) {
            throw NetrigError(blame: .infrastructure, subject: "guest \(spec.name)",
                              message: "the guest did not run under KVM",
                              code: kvmFailure == .consoleSilent && spec.silentConsoleTimeout == nil ? .other : kvmFailure)
        }
        if let hangSide, let spec = specs.first, spec.name.hasPrefix(hangSide.rawValue) {
            throw NetrigError(blame: spec.blameForKernel, subject: "guest \(spec.name)",
                              message: "no SSH within 180 s: the kernel hung before init finished")
        }
        return try await body(specs.map { FakeSession(name: $0.name) })
    }
}

public struct FakeWorkloads: WorkloadExecutor {
    public init(failIn: Phase? = nil, hangIn: Phase? = nil, noise: Double = 0, unsupported: [Side: String] = [:]) {
        self.failIn = failIn
        self.hangIn = hangIn
        self.noise = noise
        self.unsupported = unsupported
    }

    /// Fail in boots of this phase, as a workload that crashes the guest would.
    public var failIn: Phase?
    /// Hang in boots of this phase until cancelled, as a workload does when netrig gets SIGINT.
    public var hangIn: Phase?
    /// Relative spread of the samples (a deterministic spread of repetitions over ±noise).
    public var noise = 0.0
    /// Every boot of these sides answers "unsupported" with this reason, as a NIC without an API does.
    public var unsupported: [Side: String] = [:]
    public func run(_ workload: WorkloadDefinition, side: Side, link: NetworkLink, programs: [String: String], repetitions: Int,
             firstRepetition: Int, warmup: Bool, on guests: [any GuestSession]) async throws -> WorkloadOutcome {
        let nic = link.model
        // The phase the engine runs this boot in (the fake's own bookkeeping: its errors name none, as a real
        // executor's do not): throughput boots warm up, leak boots do not.
        let phase: Phase = warmup ? (side == .baseline ? .testBaseline : .testPatched) : .checkLeaks
        if phase == failIn {
            throw NetrigError(blame: .series, subject: "workload \(workload.name) on guest \(guests[0].name)", message: "exit 1",
                              code: .workloadFailed)
        }
        if phase == hangIn {
            try? await Task.sleep(for: .seconds(60))
            // What a workload whose SSH session was cut reports: the engine must still call it an interruption.
            throw NetrigError(blame: .series, subject: "workload \(workload.name)", message: "step 'client' exited with status 255",
                              code: .workloadFailed)
        }
        if let reason = unsupported[side] { return WorkloadOutcome(status: .unsupported(reason: reason), samples: [], transcript: reason) }
        let samples = (firstRepetition..<(firstRepetition + repetitions)).map {
            Sample(side: side, workload: workload.name, nic: nic, metric: "m/throughput", unit: "MiB/s", repetition: $0,
                   value: 100 * (1 + noise * sin(Double($0) * 2.3)) + Double($0) * 0.01, higherIsBetter: true)
        }
        return WorkloadOutcome(status: .completed, samples: samples, transcript: "")
    }
}

public struct FakeCollector: GuestCollector {
    public init(leaks: [Side: [Leak]], throughputDmesg: String = "", onlyOnce: Bool = false, unchecked: [Side: [UncheckedCheck]] = [:]) {
        self.leaks = leaks
        self.throughputDmesg = throughputDmesg
        self.onlyOnce = onlyOnce
        self.unchecked = unchecked
    }

    public var leaks: [Side: [Leak]]
    /// What every throughput boot's (kmemleak off) dmesg says, as a guest whose timer failed would.
    public var throughputDmesg = ""
    /// When set, the leaks are found in the first scan of each side only (as kmemleak missing them later).
    public var onlyOnce = false
    public let scans = Scans()
    public final class Scans: Sendable { public init() {}; public let count = Mutex([Side: Int]()) }
    /// Checks this collector cannot make in every boot of a side (a guest without ynl).
    public var unchecked: [Side: [UncheckedCheck]] = [:]
    public func prepare(on guest: any GuestSession, kmemleak: Bool) async throws {}
    public func collect(on guest: any GuestSession, side: Side, kmemleak: Bool) async throws -> Collected {
        guard kmemleak else { return Collected(leaks: [], splats: [], dmesg: throughputDmesg, unchecked: unchecked[side] ?? []) }
        let scan = scans.count.withLock { $0[side, default: 0] += 1; return $0[side]! }
        let found = onlyOnce && scan > 1 ? [] : leaks[side] ?? []
        return Collected(leaks: found, splats: [], dmesg: "", kmemleakReport: found.map(\.raw).joined(), unchecked: unchecked[side] ?? [])
    }
    public func salvage(on guest: any GuestSession, side: Side) async -> Collected {
        Collected(leaks: [], splats: [Splat(side: side, kind: .oops, title: "Oops: general protection fault", text: "Oops")], dmesg: "Oops")
    }
}


