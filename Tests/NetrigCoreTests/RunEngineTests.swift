import Foundation
import Synchronization
import Testing
import NetrigFakes
@testable import NetrigCore

/// The engine against small fakes: phase order, what is stored, and how failures end a run.
@Suite struct RunEngineTests {
    @Test func completedRunStoresEveryPhaseAndPasses() async throws {
        let store = InMemoryRunStore()
        let engine = makeEngine(store: store)
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .pass)
        #expect(outcome.error == nil)
        let phases = store.read { $0.phases.map(\.phase) }
        #expect(phases == [.prepareTree, .applySeries, .configure, .buildBaseline, .buildPatches, .buildPatched, .buildImage, .probeAccel,
                           .testBaseline, .testPatched, .checkLeaks, .compare])
        let finished = store.read { $0.finished }
        #expect(finished?.status == .completed)
        #expect(store.read { $0.samples.count } == 6)
        let boots = store.read { $0.boots }
        #expect(boots.count == 4, "a throughput boot and a leak boot per side")
        #expect(boots.allSatisfy { $0.clock == .virtual }, "TCG defaults to the virtual clock")
        #expect(boots.filter(\.kmemleak).count == 2)
        #expect(Set(boots.filter(\.kmemleak).map(\.side)) == [.baseline, .patched])
    }

    @Test func throughputBootsAlternateBaselineAndPatched() async throws {
        let store = InMemoryRunStore()
        var fivePlan = plan
        fivePlan.repetitions = 5
        fivePlan.leakCheck = false
        _ = try await makeEngine(store: store).run(plan: fivePlan, series: series, workload: workload)
        let tests = store.read { $0.phases.map(\.phase) }.filter { $0 == .testBaseline || $0 == .testPatched }
        #expect(tests == [.testBaseline, .testPatched, .testBaseline, .testPatched], "ABAB")
        let samples = store.read { $0.samples }
        for side in Side.allCases {
            #expect(samples.filter { $0.side == side }.map(\.repetition).sorted() == [1, 2, 3, 4, 5])
        }
    }

    @Test func newLeakOnPatchedSideFailsTheRun() async throws {
        let store = InMemoryRunStore()
        let leak = Leak(side: .patched, size: 64, comm: "ip", backtrace: ["kmalloc_trace+0x1/0x2", "nsim_leak+0x3/0x4"],
                        fingerprint: "nsim_leak", raw: "")
        var engine = makeEngine(store: store)
        engine.collector = FakeCollector(leaks: [.patched: [leak]])
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .fail)
        #expect(outcome.comparison?.newLeaks.map(\.fingerprint) == ["nsim_leak"])
        let state = store.latest
        #expect(state.phases.filter { $0.phase == .checkLeaks }.count == 2, "the new leak was confirmed by a second leak check")
        #expect(state.boots.filter(\.kmemleak).count == 4, "both sides booted again with kmemleak")
        #expect(state.boots.filter(\.kmemleak).allSatisfy { $0.kmemleakReport != nil }, "the raw report of every leak boot is kept")
    }

    @Test func newLeakThatDoesNotReappearIsUnconfirmedAndPasses() async throws {
        let leak = Leak(side: .patched, size: 64, comm: "ip", backtrace: ["nsim_leak+0x3/0x4"], fingerprint: "nsim_leak", raw: "")
        var engine = makeEngine(store: InMemoryRunStore())
        engine.collector = FakeCollector(leaks: [.patched: [leak]], onlyOnce: true)
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .pass)
        #expect(outcome.comparison?.newLeaks.isEmpty == true)
        #expect(outcome.comparison?.unconfirmedLeaks.map(\.fingerprint) == ["nsim_leak"])
        #expect(outcome.comparison.map { Finding.from($0, plan: plan) }?.isEmpty == true, "not a finding of the series")
    }

    @Test func noNewLeakMeansOneLeakCheckOnly() async throws {
        let store = InMemoryRunStore()
        let old = Leak(side: .baseline, size: 8, comm: "swapper", backtrace: ["x+0x1/0x2"], fingerprint: "x", raw: "")
        var engine = makeEngine(store: store)
        engine.collector = FakeCollector(leaks: [.baseline: [old], .patched: [Leak(side: .patched, size: 8, comm: "swapper", backtrace: ["x+0x1/0x2"], fingerprint: "x", raw: "")]])
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .pass)
        #expect(outcome.comparison?.persistingLeaks.map(\.fingerprint) == ["x"])
        #expect(store.read { $0.phases.filter { $0.phase == .checkLeaks }.count } == 1)
    }

    /// A run that failed in the patched side's first throughput boot, resumed: the baseline's stored boot
    /// is kept, everything after it runs, and the run ends complete under its own id.
    @Test func resumedRunKeepsItsStoredBootsAndRunsTheRest() async throws {
        let store = InMemoryRunStore()
        var fourPlan = plan
        fourPlan.repetitions = 4
        var failing = makeEngine(store: store)
        failing.workloads = FakeWorkloads(failIn: .testPatched)
        let first = try await failing.run(plan: fourPlan, series: series, workload: workload)
        #expect(first.error?.phase == .testPatched)
        #expect(store.read { $0.boots.map(\.workloadFailed) } == [false, true], "the baseline's first round was stored, and the failed boot")

        let prior = store.latest
        let resumed = try await makeEngine(store: store).run(plan: fourPlan, series: series, workload: workload, resuming: prior)
        #expect(resumed.verdict == .pass && resumed.run == first.run)
        let state = store.latest
        #expect(store.wasResumed() && state.finished?.status == .completed)
        let throughputBoots = state.boots.filter { !$0.kmemleak && !$0.workloadFailed }
        #expect(throughputBoots.map(\.side) == [.baseline, .patched, .baseline, .patched],
                "the stored baseline boot ran once; then patched round 1, and round 2 of both")
        for side in Side.allCases {
            #expect(state.samples.filter { $0.side == side }.map(\.repetition).sorted() == [1, 2, 3, 4])
        }
        #expect(resumed.comparison?.metrics.first?.baseline.count == 4, "the kept samples are compared with the new ones")

        // Resumed again after the leak check: nothing is booted any more.
        let bootsBefore = state.boots.count
        let again = try await makeEngine(store: store).run(plan: fourPlan, series: series, workload: workload,
                                                          resuming: store.latest)
        #expect(again.verdict == .pass)
        #expect(store.read { $0.boots.count } == bootsBefore, "every boot was already stored")
    }

    /// SIGINT during a boot (the command cancels the engine's task): the run is stored as interrupted in
    /// that phase, blamed on nobody's series, whatever the cut-off workload said.
    @Test func cancelledRunIsStoredAsInterruptedInItsPhase() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.workloads = FakeWorkloads(hangIn: .testPatched)
        let task = Task { try await engine.run(plan: plan, series: series, workload: workload) }
        while !store.latest.phases.contains { $0.phase == .testBaseline } { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        let outcome = try await task.value
        #expect(outcome.error?.phase == .testPatched)
        #expect(outcome.error?.message == RunEngine.interruptedMessage)
        #expect(outcome.error?.blame == .infrastructure && outcome.verdict == .error)
        let state = store.latest
        #expect(state.finished?.status == .interrupted)
        #expect(state.phases.last.map { $0.phase == .testPatched && $0.outcome == .failed } == true)
        #expect(state.samples.filter { $0.side == .baseline }.count == 3, "what was measured before stays")
    }

    @Test func workloadFailureInALeakBootNamesTheLeakPhase() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.workloads = FakeWorkloads(failIn: .checkLeaks)
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.error?.phase == .checkLeaks)
        // Both sides' leak boots failed: the base tree does it too, so it is never the series'.
        #expect(outcome.verdict == .error && outcome.error?.blame == .baseline, "\(String(describing: outcome.error))")
        #expect(outcome.error?.details.contains { $0.hasPrefix("the patched side failed too") } == true)
        // The failed boot is stored with what its kernel said, and the error says it too.
        #expect(outcome.error?.details.contains { $0.contains("said: Oops: general protection fault") } == true, "\(outcome.error?.details ?? [])")
        let failedBoots = store.read { $0.boots.filter { $0.workloadFailed } }
        #expect(!failedBoots.isEmpty && failedBoots.allSatisfy { $0.dmesg == "Oops" && $0.kmemleak })
    }

    @Test func hypervisorAndWorkloadAreRecorded() async throws {
        let store = InMemoryRunStore()
        _ = try await makeEngine(store: store).run(plan: plan, series: series, workload: workload)
        let environment = store.read { $0.environment }
        #expect(environment?.hypervisor == "QEMU 7.2.0-fake")
        #expect(environment?.workload == workload)
    }

    @Test func buildFailureIsStoredWithItsPhaseAndBlame() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.kernel = FakeKernel(failSide: .patched)
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .fail, "a patched build failure is the series' fault")
        #expect(outcome.error?.phase == .buildPatches)
        #expect(outcome.error?.patch == 1)
        #expect(outcome.error.map { $0.isCode(.buildFailed) && $0.log == "/logs/c1.log" } == true, "\(String(describing: outcome.error))")
        #expect(outcome.error?.details == ["net/core/sock.c:10:5: error: expected ';'"], "the log is a field, not a detail line")
        #expect(outcome.findings.count == 1, "one finding for the patch, not a second one for the error: \(outcome.findings)")
        #expect(outcome.findings.first?.kind == .build)
        #expect(outcome.findings.first?.patch == 1)
        #expect(outcome.findings.first?.evidence.details?.first == "net/core/sock.c:10:5: error: expected ';'")
        let state = store.latest
        #expect(state.finished?.status == .failed)
        #expect(state.phases.last?.phase == .buildPatches)
        #expect(state.phases.last?.outcome == .completed, "the per-patch builds ran; the patched kernel is what is missing")
        #expect(state.builds.map(\.side) == [.baseline], "what was built before the failure is kept")
        #expect(state.patchBuilds.map(\.succeeded) == [false])
    }

    @Test func aPatchThatDoesNotBuildInTheMiddleIsAFindingAndTheRunGoesOn() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.kernel = FakeKernel(failSide: nil, patchBuilds: [
            PatchBuild(patch: 1, subject: "one", commit: "c1", succeeded: true,
                       newWarnings: ["net/core/sock.c:1570:7: warning: unused variable 'x' [-Wunused-variable]"], cached: false, seconds: 1),
            PatchBuild(patch: 2, subject: "two", commit: "c2", succeeded: false, firstError: "net/core/dev.c:3:1: error: oops",
                       cached: false, seconds: 1),
            PatchBuild(patch: 3, subject: "three", commit: "c3", succeeded: true, cached: false, seconds: 1),
        ])
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.error == nil, "the tip builds, so the run goes on to test it")
        #expect(outcome.verdict == .fail)
        #expect(outcome.findings.map(\.patch) == [1, 2])
        #expect(outcome.findings.allSatisfy { $0.kind == .build && $0.blame == .series })
        #expect(outcome.findings.first?.summary.contains("adds 1 compiler warning") == true)
        #expect(store.read { $0.boots.count } == 4)
    }

    @Test func inconclusiveMetricsGetTheRunsTheNoiseAsksFor() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.workloads = FakeWorkloads(noise: 0.03)
        var adaptive = plan
        adaptive.leakCheck = false
        adaptive.maxRepetitions = 60
        let outcome = try await engine.run(plan: adaptive, series: series, workload: workload)
        let metric = try #require(outcome.comparison?.metrics.first)
        #expect(metric.baseline.count > 3, "runs were added to the 3 planned")
        #expect(metric.baseline.count == metric.patched.count)
        #expect(metric.verdict != .inconclusive, "\(metric)")
        let samples = store.read { $0.samples }
        #expect(samples.filter { $0.side == .baseline }.map(\.repetition).sorted() == Array(1...metric.baseline.count))

        // With a limit below what the noise asks for, nothing is added and the verdict says how many.
        var capped = adaptive
        capped.maxRepetitions = 4
        let limited = try await engine.run(plan: capped, series: series, workload: workload)
        let cappedMetric = try #require(limited.comparison?.metrics.first)
        #expect(cappedMetric.baseline.count == 3)
        #expect(cappedMetric.verdict == .inconclusive)
        #expect((cappedMetric.runsNeeded ?? 0) > 4)
    }

    @Test func configChangesOfTheSeriesAreRecorded() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        let change = ConfigChange(symbol: "CONFIG_PAGE_POOL_STATS", baseline: "n", patched: "y")
        engine.kernel = FakeKernel(failSide: nil, changes: [change])
        var buildPlan = plan
        buildPlan.buildOnly = true
        let outcome = try await engine.run(plan: buildPlan, series: series, workload: workload)
        #expect(outcome.verdict == .pass, "a config change is recorded, not a failure")
        #expect(store.read { $0.configChanges } == [change])
    }

    @Test func buildOnlyStopsAfterTheBuilds() async throws {
        let store = InMemoryRunStore()
        var buildPlan = plan
        buildPlan.buildOnly = true
        let outcome = try await makeEngine(store: store).run(plan: buildPlan, series: series, workload: workload)
        #expect(outcome.verdict == .pass)
        #expect(outcome.comparison == nil)
        #expect(store.read { $0.phases.map(\.phase) } == [.prepareTree, .applySeries, .configure, .buildBaseline,
                                                                    .buildPatches, .buildPatched])
        #expect(store.read { $0.boots.isEmpty })
    }

    @Test func infrastructureFailureGivesErrorVerdict() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        // As the launcher throws it: no phase (the engine names the one it was in).
        engine.guests = FakeLauncher(failure: NetrigError(blame: .infrastructure, subject: "qemu:///system",
                                                          message: "cannot connect to libvirt", code: .hypervisorUnreachable))
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .error)
        #expect(outcome.verdict.exitCode == 1)
        #expect(outcome.error?.subject == "qemu:///system")
        #expect(outcome.error?.phase == .configure, "found before anything is built")
        #expect(outcome.error?.isCode(.hypervisorUnreachable) == true)
        #expect(store.read { $0.builds.isEmpty })
    }

    @Test func virtualClockUnderKVMIsRefused() async throws {
        var kvmPlan = plan
        kvmPlan.accelerator = .kvm
        kvmPlan.clock = .virtual
        let outcome = try await makeEngine(store: InMemoryRunStore()).run(plan: kvmPlan, series: series, workload: workload)
        #expect(outcome.verdict == .error, "the user's impossible choice is no failure of the series")
        #expect(outcome.error?.message.contains("virtual clock needs TCG") == true)
    }

    @Test func pairTopologyBootsTwoGuestsPerBootOnTheRealClock() async throws {
        let store = InMemoryRunStore()
        let launcher = FakeLauncher()
        var pairPlan = plan
        pairPlan.topology = .pair
        pairPlan.viommu = true
        pairPlan.extraCommandLine = ["swiotlb=force"]
        let engine = makeEngine(store: store, launcher: launcher)
        let outcome = try await engine.run(plan: pairPlan, series: series, workload: workload)
        #expect(outcome.verdict == .pass)
        let boots = launcher.booted.specs.withLock { $0 }
        #expect(boots.count == 4)
        for specs in boots {
            #expect(specs.map(\.end) == [0, 1])
            #expect(specs[1].name == specs[0].name + "-peer")
            #expect(specs.allSatisfy { $0.links == [NetworkLink(model: .virtioNet, topology: .pair)] && $0.viommu })
            #expect(specs.allSatisfy { $0.clock == .real }, "two guests share no virtual clock")
            #expect(specs.allSatisfy { $0.extraCommandLine.contains("swiotlb=force") })
            #expect(specs[0].workDirectory != specs[1].workDirectory)
        }
        let records = store.read { $0.boots }
        #expect(records.count == 8, "a boot record per guest")
        #expect(store.read { $0.samples.count } == 6, "samples once per boot, not per guest")
    }

    /// In virtual time, throughput boots have one vCPU unless --vcpus was given; leak boots keep theirs.
    @Test func throughputInVirtualTimeBootsOneVCPU() async throws {
        for (given, expected) in [(nil, 1), (2, 2)] as [(Int?, Int)] {
            let launcher = FakeLauncher()
            var virtualPlan = plan
            virtualPlan.clock = .virtual
            virtualPlan.vcpus = 2
            virtualPlan.throughputVCPUs = given ?? RunPlan.throughputVCPUsDefault
            _ = try await makeEngine(store: InMemoryRunStore(), launcher: launcher).run(plan: virtualPlan, series: series, workload: workload)
            let boots = launcher.booted.specs.withLock { $0 }.map { $0[0] }
            #expect(boots.filter { $0.name.contains("throughput") }.allSatisfy { $0.vcpus == expected }, "\(boots.map { ($0.name, $0.vcpus) })")
            #expect(boots.filter { $0.name.contains("leaks") }.allSatisfy { $0.vcpus == 2 })
            #expect(boots.contains { $0.name.contains("leaks") })
        }
        var realPlan = plan
        realPlan.vcpus = 2
        realPlan.throughputVCPUs = 1
        #expect(realPlan.vcpus(throughput: true, clock: .real) == 2, "the real clock keeps the guest's size")
        // The reproducer says --vcpus when it was given, and for a run stored before throughput boots had their own count.
        func reproducer(vcpus: Int, throughput: Int?) -> [String] {
            var sized = plan
            sized.vcpus = vcpus
            sized.throughputVCPUs = throughput
            return StoredRun(summary: RunSummary(id: 1, startedAt: "now", seriesTitle: "t", treeName: "t", baseCommit: "b", configName: "default",
                                                 nic: "virtio-net", workload: "w", status: .completed, verdict: .pass, failedPhase: nil),
                             plan: sized, series: series, applied: nil, phases: [], builds: [], boots: [], samples: [], leaks: [], splats: [],
                             error: nil).reproducer
        }
        #expect(!reproducer(vcpus: 2, throughput: 1).contains("--vcpus"))
        #expect(reproducer(vcpus: 2, throughput: 2).joined(separator: " ").contains("--vcpus 2"))
        #expect(reproducer(vcpus: 1, throughput: 1).joined(separator: " ").contains("--vcpus 1"))
        #expect(reproducer(vcpus: 2, throughput: nil).joined(separator: " ").contains("--vcpus 2"), "an old run booted 2 for throughput")
    }

    /// A throughput boot whose kernel says its timer failed leaves every metric undecided: no pass and
    /// no accusation rests on it.
    @Test func aGuestThatCouldNotKeepTimeDecidesNothing() async throws {
        let store = InMemoryRunStore()
        let engine = RunEngine(kernel: FakeKernel(failSide: nil), images: FakeImages(), accelerators: FakeProbe(), guests: FakeLauncher(),
                               workloads: FakeWorkloads(),
                               collector: FakeCollector(leaks: [:], throughputDmesg: "[    0.51] APIC timer disabled due to verification failure\n"),
                               store: store, progress: SilentProgress(), clock: { 0 }, timestamp: { "now" }, workDirectory: { _, side in "/nonexistent/\(side)" })
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .inconclusive)
        let metric = try #require(outcome.comparison?.metrics.first)
        #expect(metric.verdict == .inconclusive)
        #expect(metric.verdictText.contains("could not keep time: baseline throughput boot, round 1"), "\(metric.verdictText)")
        #expect(metric.verdictText.contains("the local APIC timer failed its calibration"))
        // The stored run, compared again (netrig show, compare, the pages), decides as the run did.
        let again = store.latest.comparison
        #expect(again.metrics.map(\.verdict) == outcome.comparison?.metrics.map(\.verdict))
        #expect(again == outcome.comparison, "the same comparison, word for word")
    }

    @Test func impossibleGuestPlansAreRefusedBeforeAnythingIsBuilt() async throws {
        var netdevsimPair = plan
        netdevsimPair.nic = .netdevsim
        netdevsimPair.topology = .pair
        #expect(throws: NetrigError.self) { _ = try ResolvedPlan.resolve(netdevsimPair, workload: workload) }
        var virtualPair = plan
        virtualPair.topology = .pair
        virtualPair.clock = .virtual
        #expect { _ = try ResolvedPlan.resolve(virtualPair, workload: workload) } throws: { ($0 as? NetrigError)?.subject == "--clock virtual" }
        var otherNIC = plan
        otherNIC.nic = .e1000e
        #expect { _ = try ResolvedPlan.resolve(otherNIC, workload: workload) } throws: {
            ($0 as? NetrigError)?.message == "workload w does not run on e1000e; it supports virtio-net, netdevsim"
        }
        var loopOnly = workload
        loopOnly.topologies = [.loop]
        var pairPlan = plan
        pairPlan.topology = .pair
        #expect { _ = try ResolvedPlan.resolve(pairPlan, workload: loopOnly) } throws: { ($0 as? NetrigError)?.message == "workload w needs the loop topology" }
        _ = try ResolvedPlan.resolve(plan, workload: workload)

        // A NIC this hypervisor cannot emulate ends the run before the tree is even prepared.
        let store = InMemoryRunStore()
        var igb = plan
        igb.nic = .virtioNet
        let engine = makeEngine(store: store, launcher: FakeLauncher(unsupported: [.virtioNet: "QEMU 7.2.0-fake has no 'virtio-net-pci' device"]))
        let outcome = try await engine.run(plan: igb, series: series, workload: workload)
        #expect(outcome.verdict == .error)
        #expect(outcome.error?.message == "unsupported here: QEMU 7.2.0-fake has no 'virtio-net-pci' device")
        #expect(store.read { $0.builds.isEmpty && $0.phases.isEmpty })
    }

    @Test func aWorkloadWhoseSymbolsTheConfigLacksStopsBeforeThePatchesAreBuilt() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        var kernel = FakeKernel(failSide: nil)
        kernel.values = ["CONFIG_NET_DEVMEM": "n"]
        engine.kernel = kernel
        var devmem = workload
        devmem.requiredSymbols = ["CONFIG_NET_DEVMEM", "CONFIG_UDMABUF"]
        let outcome = try await engine.run(plan: plan, series: series, workload: devmem)
        #expect(outcome.error?.message == "workload w needs CONFIG_NET_DEVMEM, CONFIG_UDMABUF, which this config does not enable")
        #expect(outcome.error?.phase == .buildBaseline && outcome.error?.blame == .usage)
        #expect(store.read { $0.phases.map(\.phase) }.last == .buildBaseline)
        #expect(store.read { $0.patchBuilds.isEmpty }, "no patch was built")
    }

    // MARK: blame follows evidence

    @Test func aBaselineThatHangsAtBootIsNeverTheSeries() async throws {
        let store = InMemoryRunStore()
        let launcher = FakeLauncher(hangSide: .baseline)
        let outcome = try await makeEngine(store: store, launcher: launcher).run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .error && outcome.verdict.exitCode == 1)
        #expect(outcome.error?.blame == .baseline && outcome.error?.phase == .testBaseline)
        #expect(outcome.error?.details.contains { $0.hasPrefix("blame: the baseline (the base tree without the series)") } == true)
        #expect(outcome.findings.allSatisfy { $0.blame != .series })
        #expect(launcher.booted.specs.withLock { $0.allSatisfy { $0[0].name.hasPrefix("baseline") } }, "the patched kernel was never booted")
    }

    @Test func aBaselineWorkloadThatFailsIsNeverTheSeries() async throws {
        var engine = makeEngine(store: InMemoryRunStore())
        engine.workloads = FakeWorkloads(failIn: .testBaseline)
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .error && outcome.error?.blame == .baseline)
        #expect(outcome.findings.map(\.blame) == [.baseline])
    }

    @Test func aPatchedKernelThatHangsIsTheSeriesWithTheBaselineAsEvidence() async throws {
        let outcome = try await makeEngine(store: InMemoryRunStore(), launcher: FakeLauncher(hangSide: .patched))
            .run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .fail && outcome.verdict.exitCode == 2)
        #expect(outcome.error?.blame == .series)
        let because = try #require(outcome.error?.details.first { $0.hasPrefix("blame: the series, because") })
        #expect(because.contains("the baseline booted the same way (virtio-net loop, TCG, virtual clock) in 1 s and got through w"), "\(because)")
    }

    @Test func aPatchedFailureWithoutABaselineToCompareIsUndecided() {
        let failure = NetrigError(phase: .testPatched, blame: .series, subject: "guest patched-throughput", message: "hung")
        let decided = RunEngine.attribute(failure, side: .patched, evidence: nil, plan: plan)
        #expect(decided.blame == .infrastructure && Verdict(ending: decided) == .error)
        let silent = NetrigError(phase: .testPatched, blame: .infrastructure, message: "silent", code: .consoleSilent)
        #expect(RunEngine.attribute(silent, side: .patched, evidence: "the baseline booted", plan: plan).blame == .series,
                "KVM proven by the baseline: a silent patched kernel is the series'")
        let lost = NetrigError(phase: .testPatched, blame: .infrastructure, message: "lost the connection to libvirt")
        #expect(RunEngine.attribute(lost, side: .patched, evidence: "the baseline booted", plan: plan) == lost)
    }

    // MARK: the accelerator is proven by what the run boots

    @Test func aSilentKVMGuestTurnsTheWholeRunToTCGAndCorrectsTheHostsAnswer() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store, launcher: FakeLauncher(silentUnderKVM: [.baseline, .patched]))
        let probe = FakeProbe(answer: AcceleratorAnswer(.kvm, "cached: KVM"))
        engine.accelerators = probe
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .pass, "\(String(describing: outcome.error))")
        let boots = store.read { $0.boots }
        #expect(!boots.isEmpty && boots.allSatisfy { $0.accelerator == .tcg && $0.clock == .virtual }, "both sides on one accelerator and clock")
        #expect(probe.corrections.answers.withLock { $0.map(\.accelerator) } == [.tcg], "the host's answer is corrected once")
        let environment = try #require(store.read { $0.environment })
        #expect(environment.acceleratorFallback?.contains("printed nothing within") == true)
        #expect(environment.accelerator?.hasPrefix("TCG") == true)
        let note = store.read { $0.phases.first { $0.phase == .testBaseline }?.note }
        #expect(note?.hasPrefix("accelerator fallback:") == true, "\(String(describing: note))")
    }

    @Test func aKVMGuestQEMUCannotStartAlsoTurnsTheRunToTCG() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store, launcher: FakeLauncher(silentUnderKVM: [.baseline, .patched], kvmFailure: .kvmStartFailed))
        engine.accelerators = FakeProbe(answer: AcceleratorAnswer(.kvm, "cached: KVM"))
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .pass, "\(String(describing: outcome.error))")
        #expect(store.read { $0.environment?.acceleratorFallback }?.hasPrefix("QEMU could not start a KVM guest") == true)
    }

    @Test func aForcedKVMIsNeverSwitchedAndASilentGuestIsNotTheSeries() async throws {
        var kvm = plan
        kvm.accelerator = .kvm
        kvm.clock = .real
        let outcome = try await makeEngine(store: InMemoryRunStore(), launcher: FakeLauncher(silentUnderKVM: [.baseline]))
            .run(plan: kvm, series: series, workload: workload)
        #expect(outcome.verdict == .error, "\(String(describing: outcome.error))")
    }

    @Test func onceKVMBootedASilentPatchedKernelIsTheSeries() async throws {
        var engine = makeEngine(store: InMemoryRunStore(), launcher: FakeLauncher(silentUnderKVM: [.patched]))
        engine.accelerators = FakeProbe(answer: AcceleratorAnswer(.kvm, "a KVM guest booted the kernel"))
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .fail && outcome.error?.blame == .series, "\(String(describing: outcome.error))")
    }

    @Test func anUndecidedProbeIsTCG() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.accelerators = FakeProbe(answer: AcceleratorAnswer(nil, "no kernel was tried"))
        _ = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(store.read { $0.boots.allSatisfy { $0.accelerator == .tcg } })
        #expect(store.read { $0.environment?.accelerator }?.contains("undecided, so TCG") == true)
    }

    // MARK: inconclusive is its own verdict

    @Test func aRunWithAnUndecidedMetricIsInconclusiveNotPass() async throws {
        var engine = makeEngine(store: InMemoryRunStore())
        engine.workloads = FakeWorkloads(noise: 0.2)
        var noisy = plan
        noisy.leakCheck = false
        noisy.maxRepetitions = 4
        let outcome = try await engine.run(plan: noisy, series: series, workload: workload)
        #expect(outcome.verdict == .inconclusive && outcome.verdict.exitCode == 3)
        #expect(outcome.findings.isEmpty)
        let metric = try #require(outcome.comparison?.metrics.first)
        // Far more runs than the limit: the text says what would help instead of a number of runs.
        #expect(metric.verdictText.contains("what would help instead: another NIC (--nic)"), "\(metric.verdictText)")
        #expect(metric.verdictText.contains("far more than --max-repetitions 4"))
        #expect(Verdict.combined([.pass, .inconclusive]) == .inconclusive)
        #expect(Verdict.combined([.inconclusive, .error]) == .error)
        #expect(Verdict.combined([.inconclusive, .fail]) == .fail)
    }

    /// A check a guest could not make is never a clean result: the run, its stored comparison and a
    /// resumed run all say "not checked", and none of them passes.
    @Test func aCheckThatCouldNotRunMakesTheRunInconclusive() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        let gap = UncheckedCheck(check: UncheckedCheck.pagePoolLeftovers, reason: "ynl page-pool-get failed (exit 1): ENOENT")
        engine.collector = FakeCollector(leaks: [:], unchecked: [.patched: [gap]])
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .inconclusive)
        #expect(outcome.findings.isEmpty, "not a finding against the series")
        let line = "page_pool leftovers: not checked on patched (ynl page-pool-get failed (exit 1): ENOENT)"
        #expect(outcome.comparison?.unchecked == [line])
        let stored = store.latest
        #expect(stored.comparison.unchecked == [line], "the stored run says the same")
        #expect(Verdict.of(findings: [], comparison: stored.comparison) == .inconclusive)
        #expect(store.read { $0.finished?.verdict } == .inconclusive)
    }

    /// The tree's reason (what it lacks and where netrig looked) replaces the guest's "no ynl" for the
    /// same check, on every boot.
    @Test func theBuildsReasonForAMissingToolIsTheOneReported() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        var kernel = FakeKernel(failSide: nil)
        kernel.unchecked = [UncheckedCheck(check: UncheckedCheck.pagePoolLeftovers, reason: "the tree has no ynl CLI at a/cli.py or b/cli.py")]
        engine.kernel = kernel
        let guestSays = UncheckedCheck(check: UncheckedCheck.pagePoolLeftovers, reason: "no ynl CLI in the guest")
        engine.collector = FakeCollector(leaks: [:], unchecked: [.baseline: [guestSays], .patched: [guestSays]])
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .inconclusive)
        #expect(outcome.comparison?.unchecked == ["page_pool leftovers: not checked on baseline and patched (the tree has no ynl CLI at a/cli.py or b/cli.py)"])
        #expect(store.read { $0.boots }.allSatisfy { $0.unchecked.map(\.reason) == ["the tree has no ynl CLI at a/cli.py or b/cli.py"] })
    }

    /// A workload the NIC does not support measured nothing: the run says so and does not pass.
    @Test func anUnsupportedWorkloadIsNotAPass() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.workloads = FakeWorkloads(unsupported: [.baseline: "unsupported by this NIC: EOPNOTSUPP", .patched: "unsupported by this NIC: EOPNOTSUPP"])
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.verdict == .inconclusive)
        #expect(outcome.comparison?.unchecked == ["workload w: not checked on baseline and patched (unsupported by this NIC: EOPNOTSUPP)"])
        #expect(store.latest.comparison.unchecked == outcome.comparison?.unchecked)
    }

    /// A resumed run keeps what its stored boots could not check.
    @Test func aResumedRunKeepsItsStoredBootsUncheckedChecks() async throws {
        let store = InMemoryRunStore()
        var fourPlan = plan
        fourPlan.repetitions = 4
        var failing = makeEngine(store: store)
        failing.workloads = FakeWorkloads(failIn: .testPatched)
        let gap = UncheckedCheck(check: UncheckedCheck.pagePoolLeftovers, reason: "no ynl CLI in the guest")
        failing.collector = FakeCollector(leaks: [:], unchecked: [.baseline: [gap]])
        let first = try await failing.run(plan: fourPlan, series: series, workload: workload)
        #expect(first.verdict != .pass)
        var resuming = makeEngine(store: store)
        resuming.collector = FakeCollector(leaks: [:])
        let second = try await resuming.run(plan: fourPlan, series: series, workload: workload, resuming: store.latest)
        #expect(second.comparison?.unchecked == ["page_pool leftovers: not checked on baseline (no ynl CLI in the guest)"])
        #expect(second.verdict == .inconclusive)
    }

    // MARK: fixtures

    let plan = RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "x.mbox", configName: "default", nic: .virtioNet,
                       workload: "w", repetitions: 3, leakCheck: true, clock: nil, accelerator: nil, memoryMiB: 512,
                       vcpus: 1, commandLine: ["netrig", "run"])
    let series = Series(title: "t", revision: 1, baseCommit: nil,
                        patches: [Patch(index: 1, total: 1, subject: "s", author: "a", mail: "", diffHash: "h")], source: "x.mbox")
    let workload = WorkloadDefinition(name: "w", summary: "", topologies: [.loop, .pair], nics: [.virtioNet, .netdevsim], requiredSymbols: [],
                                      programs: [GuestProgram(name: "p", sources: ["p.c"])], duration: 1, timeout: .seconds(5),
                                      server: [], client: ["p"], modes: [WorkloadMode(name: "m", clientArguments: [])],
                                      metrics: [], unsupported: [])

    func makeEngine(store: InMemoryRunStore, launcher: FakeLauncher = FakeLauncher()) -> RunEngine {
        RunEngine(kernel: FakeKernel(failSide: nil), images: FakeImages(), accelerators: FakeProbe(), guests: launcher,
                  workloads: FakeWorkloads(), collector: FakeCollector(leaks: [:]), store: store, progress: SilentProgress(),
                  clock: { 0 }, timestamp: { "now" }, workDirectory: { _, side in "/nonexistent/\(side)" })
    }
}

extension InMemoryRunStore {
    /// Reads the newest run (a test's one run).
    func read<T>(_ body: (StoredRun) -> T) -> T { body(latest) }
}

extension StoredRun {
    /// How the run ended, once it has.
    var finished: (status: RunStatus, verdict: Verdict)? { summary.verdict.map { (summary.status, $0) } }
}
