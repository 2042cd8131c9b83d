import Synchronization
import Testing
@testable import NetrigCore

/// The engine against small fakes: phase order, what is stored, and how failures end a run.
@Suite struct RunEngineTests {
    @Test func completedRunStoresEveryPhaseAndPasses() async throws {
        let store = MemoryStore()
        let engine = makeEngine(store: store)
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .pass)
        #expect(outcome.error == nil)
        let phases = store.state.withLock { $0.phases.map(\.phase) }
        #expect(phases == [.prepareTree, .applySeries, .configure, .buildBaseline, .buildPatched, .buildImage, .probeAccel,
                           .testBaseline, .testPatched, .checkLeaks, .compare])
        let finished = store.state.withLock { $0.finished }
        #expect(finished?.status == .completed)
        #expect(store.state.withLock { $0.samples.count } == 6)
        let boots = store.state.withLock { $0.boots }
        #expect(boots.count == 4, "a throughput boot and a leak boot per side")
        #expect(boots.allSatisfy { $0.clock == .virtual }, "TCG defaults to the virtual clock")
        #expect(boots.filter(\.kmemleak).count == 2)
        #expect(Set(boots.filter(\.kmemleak).map(\.side)) == [.baseline, .patched])
    }

    @Test func throughputBootsAlternateBaselineAndPatched() async throws {
        let store = MemoryStore()
        var fivePlan = plan
        fivePlan.repetitions = 5
        fivePlan.leakCheck = false
        _ = try await makeEngine(store: store).run(plan: fivePlan, series: series, workload: workload)
        let tests = store.state.withLock { $0.phases.map(\.phase) }.filter { $0 == .testBaseline || $0 == .testPatched }
        #expect(tests == [.testBaseline, .testPatched, .testBaseline, .testPatched], "ABAB")
        let samples = store.state.withLock { $0.samples }
        for side in Side.allCases {
            #expect(samples.filter { $0.side == side }.map(\.repetition).sorted() == [1, 2, 3, 4, 5])
        }
    }

    @Test func newLeakOnPatchedSideFailsTheRun() async throws {
        let store = MemoryStore()
        let leak = Leak(side: .patched, size: 64, comm: "ip", backtrace: ["kmalloc_trace+0x1/0x2", "nsim_leak+0x3/0x4"],
                        fingerprint: "nsim_leak", raw: "")
        var engine = makeEngine(store: store)
        engine.collector = FakeCollector(leaks: [.patched: [leak]])
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .fail)
        #expect(outcome.comparison?.newLeaks.map(\.fingerprint) == ["nsim_leak"])
    }

    @Test func buildFailureIsStoredWithItsPhaseAndBlame() async throws {
        let store = MemoryStore()
        var engine = makeEngine(store: store)
        engine.kernel = FakeKernel(failSide: .patched)
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .fail, "a patched build failure is the series' fault")
        #expect(outcome.error?.phase == .buildPatched)
        let state = store.state.withLock { $0 }
        #expect(state.finished?.status == .failed)
        #expect(state.phases.last?.phase == .buildPatched)
        #expect(state.phases.last?.outcome == .failed)
        #expect(state.builds.map(\.side) == [.baseline], "what was built before the failure is kept")
    }

    @Test func infrastructureFailureGivesErrorVerdict() async throws {
        let store = MemoryStore()
        var engine = makeEngine(store: store)
        engine.guests = FakeLauncher(failure: NetrigError(phase: .testBaseline, blame: .infrastructure, subject: "qemu:///system",
                                                          message: "cannot connect to libvirt"))
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .error)
        #expect(outcome.verdict.exitCode == 1)
        #expect(outcome.error?.subject == "qemu:///system")
    }

    @Test func virtualClockUnderKVMIsRefused() async throws {
        var kvmPlan = plan
        kvmPlan.accelerator = .kvm
        kvmPlan.clock = .virtual
        let outcome = try await makeEngine(store: MemoryStore()).run(plan: kvmPlan, series: series, workload: workload)
        #expect(outcome.verdict == .fail)
        #expect(outcome.error?.message.contains("virtual clock needs TCG") == true)
    }

    // MARK: fixtures

    let plan = RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "x.mbox", configName: "default", nic: .virtioNet,
                       workload: "w", repetitions: 3, leakCheck: true, clock: nil, accelerator: nil, memoryMiB: 512,
                       vcpus: 1, commandLine: ["netrig", "run"])
    let series = Series(title: "t", revision: 1, baseCommit: nil,
                        patches: [Patch(index: 1, total: 1, subject: "s", author: "a", mail: "", diffHash: "h")], source: "x.mbox")
    let workload = WorkloadDefinition(name: "w", summary: "", topology: .loop, nics: [.virtioNet], requiredSymbols: [],
                                      programs: [GuestProgram(name: "p", sources: ["p.c"])], duration: 1, timeout: .seconds(5),
                                      server: [], client: ["p"], modes: [WorkloadMode(name: "m", clientArguments: [])],
                                      metrics: [], unsupported: [])

    func makeEngine(store: MemoryStore) -> RunEngine {
        RunEngine(kernel: FakeKernel(failSide: nil), images: FakeImages(), accelerators: FakeProbe(), guests: FakeLauncher(failure: nil),
                  workloads: FakeWorkloads(), collector: FakeCollector(leaks: [:]), store: store, progress: SilentProgress(),
                  clock: { 0 }, timestamp: { "now" }, workDirectory: { _, side in "/nonexistent/\(side)" })
    }
}

struct FakeKernel: KernelPipeline {
    var failSide: Side?
    func prepareTree(request: String?, base: String?, series: Series) async throws -> KernelTree {
        KernelTree(repository: "/tree", name: "tree", baseCommit: "base", version: "6.12")
    }
    func apply(_ series: Series, on tree: KernelTree) async throws -> AppliedSeries {
        AppliedSeries(baseCommit: tree.baseCommit, commits: ["c1"])
    }
    func configSpec(named name: String) throws -> KernelConfigSpec {
        KernelConfigSpec(name: name, base: "tinyconfig", fragments: [])
    }
    func build(_ request: BuildRequest, progress: any ProgressObserver) async throws -> KernelArtifact {
        if request.side == failSide {
            throw NetrigError(phase: .buildPatched, blame: .series, subject: "patched kernel", message: "the build failed")
        }
        return KernelArtifact(side: request.side, commit: request.commit, key: "k", configName: request.config.name, configHash: "h",
                              kernelImage: "/k/bzImage", configPath: "/k/config", programs: ["p": "/k/p"], buildLog: "/k/log",
                              cached: false, buildSeconds: 1, ccacheHitRatio: nil, reproducer: [])
    }
}

struct FakeImages: ImageProvider {
    func prepareImage(progress: any ProgressObserver) async throws -> String { "/images/rootfs.ext4" }
}

struct FakeProbe: AcceleratorProbe {
    func probe(kernel: String?) async -> (accelerator: Accelerator, reason: String) { (.tcg, "fake") }
}

struct FakeSession: GuestSession {
    var name: String
    var consoleLog = "/console.log"
    var bootSeconds = 1.0
    func run(_ argv: [String], timeout: Duration) async throws -> CommandOutput { CommandOutput(exitStatus: 0, standardOutput: "", standardError: "") }
    func runScript(_ script: String, timeout: Duration) async throws -> CommandOutput { CommandOutput(exitStatus: 0, standardOutput: "", standardError: "") }
    func upload(_ hostPath: String, to guestPath: String, mode: Int) async throws {}
}

struct FakeLauncher: GuestLauncher {
    var failure: NetrigError?
    func withGuest<T: Sendable>(_ spec: GuestSpec, _ body: (any GuestSession) async throws -> T) async throws -> T {
        if let failure { throw failure }
        return try await body(FakeSession(name: spec.name))
    }
}

struct FakeWorkloads: WorkloadExecutor {
    func run(_ workload: WorkloadDefinition, side: Side, nic: NICModel, programs: [String: String], repetitions: Int,
             firstRepetition: Int, warmup: Bool, on guest: any GuestSession) async throws -> WorkloadOutcome {
        let samples = (firstRepetition..<(firstRepetition + repetitions)).map {
            Sample(side: side, workload: workload.name, nic: nic, metric: "m/throughput", unit: "MiB/s", repetition: $0,
                   value: 100 + Double($0) * 0.01, higherIsBetter: true)
        }
        return WorkloadOutcome(status: .completed, samples: samples, transcript: "")
    }
}

struct FakeCollector: GuestCollector {
    var leaks: [Side: [Leak]]
    func prepare(on guest: any GuestSession, kmemleak: Bool) async throws {}
    func collect(on guest: any GuestSession, side: Side, kmemleak: Bool) async throws -> Collected {
        Collected(leaks: leaks[side] ?? [], splats: [], dmesg: "")
    }
}

final class MemoryStore: RunRecorder {
    struct State {
        var phases: [PhaseRecord] = []
        var builds: [KernelArtifact] = []
        var boots: [BootRecord] = []
        var samples: [Sample] = []
        var finished: (status: RunStatus, verdict: Verdict)?
    }
    let state = Mutex(State())
    func createRun(plan: RunPlan, startedAt: String) async throws -> RunID { 1 }
    func recordTree(_ run: RunID, tree: KernelTree) async throws {}
    func recordSeries(_ run: RunID, series: Series, applied: AppliedSeries?) async throws {}
    func recordPhase(_ run: RunID, _ phase: PhaseRecord) async throws { state.withLock { $0.phases.append(phase) } }
    func recordBuild(_ run: RunID, _ artifact: KernelArtifact) async throws { state.withLock { $0.builds.append(artifact) } }
    func recordBoot(_ run: RunID, _ boot: BootRecord, samples: [Sample], collected: Collected) async throws {
        state.withLock { $0.boots.append(boot); $0.samples += samples }
    }
    func finishRun(_ run: RunID, status: RunStatus, verdict: Verdict, error: NetrigError?) async throws {
        state.withLock { $0.finished = (status, verdict) }
    }
}
