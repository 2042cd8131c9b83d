import Foundation
import HostCommands
import NetrigFakes
import Testing
@testable import NetrigCommands
@testable import NetrigCore

/// Each verb against fakes through its context: what it prints, stores and exits with.
@Suite struct CommandTests {
    let plan = RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "x.mbox", configName: "default", nic: .virtioNet,
                       workload: "w", repetitions: 3, leakCheck: true, clock: nil, accelerator: nil, memoryMiB: 512,
                       vcpus: 1, commandLine: ["netrig", "run"])

    @Test func runsListsNewestFirstAndARunWhoseProcessIsGoneAsInterrupted() async throws {
        let store = InMemoryRunStore(), printed = Printed()
        var context = NetrigContext.failing(printed: printed)
        context.openStore = { store }
        let done = try await store.createRun(plan: plan, startedAt: "2026-12-01T01:00:00Z")
        try await store.finishRun(done, status: .completed, verdict: .pass, error: nil)
        _ = try await store.createRun(plan: plan, startedAt: "2026-12-01T02:00:00Z")
        try await RunsCommand.parse([]).run(context)
        let lines = printed.standardOutput.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("2 ") && lines[1].contains("interrupted"), "a running run without its process: \(lines[1])")
        #expect(lines[2].hasPrefix("1 ") && lines[2].contains("completed") && lines[2].contains("pass"))
    }

    @Test func showNamesTheRunsGroupsAndWhatTheStoreCouldNotRead() async throws {
        let store = InMemoryRunStore(), printed = Printed()
        var context = NetrigContext.failing(printed: printed)
        context.openStore = { store }
        let run = try await store.createRun(plan: plan, startedAt: "now")
        let group = try await store.createGroup(kind: .matrix, label: "m", createdAt: "now")
        try await store.addToGroup(group, run: run, label: "devmem-off")
        try await ShowCommand.parse(["\(run)"]).run(context)
        #expect(printed.standardOutput.contains("matrix group \(group) 'm': devmem-off (runs \(run))"))
        #expect(printed.standardOutput.contains("reproduce: netrig run --series x.mbox"))
        await #expect(throws: (any Error).self) { try await ShowCommand.parse(["99"]).run(context) }
    }

    /// A config matrix is one group in the store, one member per cell, and one verdict.
    @Test func aMatrixIsStoredAsAGroupAndShownByGroup() async throws {
        let directory = Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryRunStore(), printed = Printed()
        let context = Fixtures.runContext(store: store, directory: directory, printed: printed)
        let json = directory + "/matrix.json"
        let run = try RunCommand.parse(["--configs", "default,devmem-off", "--nic", "virtio-net", "--workload", "w", "-n", "3", "--json", json])
        let code = try await Fixtures.exitCode { try await run.run(context) }
        #expect(code == 0, "\(printed.standardOutput)")
        let document = try Fixtures.json(json)
        let groupID = try #require(document["group"] as? Int64 ?? (document["group"] as? Int).map(Int64.init))
        let group = try #require(try await store.group(groupID))
        #expect(group.kind == .matrix && group.members.map(\.label) == ["default", "devmem-off"])
        #expect(document["runs"] as? [Int] == group.members.map { Int($0.run) })
        let shown = Printed()
        var showContext = context
        showContext.standardOutput = { shown.out($0) }
        try await GroupCommand.parse(["\(groupID)"]).run(showContext)
        #expect(shown.standardOutput.contains("matrix group \(groupID)") && shown.standardOutput.contains("group verdict: pass"))
    }

    /// A workload that does not exist is refused before anything runs, and stored as failed in configure.
    @Test func aRefusedRunIsStoredFailedInItsStep() async throws {
        let directory = Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryRunStore(), printed = Printed()
        let context = Fixtures.runContext(store: store, directory: directory, printed: printed)
        let run = try RunCommand.parse(["--workload", "nope"])
        #expect(try await Fixtures.exitCode { try await run.run(context) } == Verdict.error.exitCode)
        let stored = store.latest
        #expect(stored.summary.status == .failed && stored.summary.failedPhase == .configure)
        #expect(stored.phases.map(\.phase) == [.configure] && stored.plan.workload == "nope")
        #expect(printed.standardError.contains("stored as run \(stored.summary.id), failed in configure"))
        // A plan that cannot run (virtual time across two guests) is refused the same way, before any build.
        let pair = try RunCommand.parse(["--topology", "pair", "--clock", "virtual", "--workload", "w"])
        #expect(try await Fixtures.exitCode { try await pair.run(context) } == Verdict.error.exitCode)
        #expect(store.latest.summary.failedPhase == .configure && store.latest.builds.isEmpty)
        #expect(store.latest.error?.subject == "--clock virtual")
    }

    /// `--resume` of an interrupted run goes on under its id, with its own plan, and boots only what is missing.
    @Test func resumeGoesOnUnderTheRunsIDAndRefusesACompletedRun() async throws {
        let directory = Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryRunStore(), printed = Printed()
        let launcher = FakeLauncher()
        let context = Fixtures.runContext(store: store, directory: directory, printed: printed, launcher: launcher)
        _ = try await Fixtures.exitCode { try await RunCommand.parse(["--workload", "w", "-n", "3"]).run(context) }
        let first = store.latest
        #expect(first.summary.verdict == .pass)
        await #expect { try await RunCommand.parse(["--resume", "\(first.summary.id)"]).run(context) } throws: {
            "\($0)".contains("the run completed")
        }
        // Interrupted after everything was stored: resuming boots nothing again.
        try await store.finishRun(first.summary.id, status: .interrupted, verdict: .error,
                                  error: NetrigError(phase: .compare, blame: .infrastructure, message: "interrupted"))
        let bootsBefore = launcher.booted.specs.withLock { $0.count }
        #expect(try await Fixtures.exitCode { try await RunCommand.parse(["--resume", "\(first.summary.id)"]).run(context) } == 0)
        #expect(launcher.booted.specs.withLock { $0.count } == bootsBefore, "every boot was kept")
        #expect(store.wasResumed(first.summary.id) && store.latest.summary.verdict == .pass)
        #expect(store.latest.boots.count == first.boots.count)
    }

    /// `doctor` reaches libvirt only through the context's hypervisor: one that cannot be reached is a
    /// failed check with its fix, and the exit status says so.
    @Test func doctorSaysWhenTheHypervisorCannotBeReached() async throws {
        let printed = Printed()
        var context = NetrigContext.failing(printed: printed)
        let runner = ScriptedCommandRunner()
        runner.on("dpkg-query", reply: .output(DoctorCommand.packages.map { "\($0) installed" }.joined(separator: "\n")))
        runner.on("pgrep", reply: .success)
        runner.on("git", reply: .failure(128))
        runner.on("swift", ["--version"], reply: .output("Swift version 6.3.1 (swift-6.3.1-RELEASE)\n"))
        context.commands = runner
        context.hypervisor = { UnreachableHypervisor() }
        context.probe = { KeptProbe(inner: FakeProbe(answer: AcceleratorAnswer(.tcg, "a KVM guest printed nothing"))) }
        context.libvirtURI = "qemu:///system"
        let code = try await Fixtures.exitCode { try await DoctorCommand.parse([]).run(context) }
        #expect(code == 1)
        #expect(printed.standardOutput.contains("FAIL libvirt qemu:///system: qemu:///system: cannot connect to libvirt: no daemon"),
                "\(printed.standardOutput)")
        #expect(printed.standardOutput.contains("fix: virtlogd -d; libvirtd -d"))
        #expect(printed.standardOutput.contains("ok   accelerator: TCG: a KVM guest printed nothing"))
        #expect(runner.calls.contains { $0.executable == "dpkg-query" })
    }

    /// `boot --accel kvm` is the user's answer: the probe is never asked.
    @Test func bootWithAForcedAcceleratorNeverProbes() async throws {
        let directory = Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let kernel = directory + "/bzImage"
        FileManager.default.createFile(atPath: kernel, contents: Data())
        let printed = Printed()
        var context = NetrigContext.failing(printed: printed)
        let launcher = FakeLauncher()
        let probe = KeptProbe(inner: FakeProbe(answer: AcceleratorAnswer(.tcg, "probed")))
        context.launcher = { _ in launcher }
        context.images = { FakeImages() }
        context.probe = { probe }
        _ = try? await BootCommand.parse(["--kernel", kernel, "--accel", "kvm", "--nics", "netdevsim"]).run(context)
        #expect(probe.probes.answers.withLock { $0.isEmpty }, "the probe was not asked")
        #expect(launcher.booted.specs.withLock { $0.first?.first?.accelerator } == .kvm)
        // Without --accel the probe decides.
        _ = try? await BootCommand.parse(["--kernel", kernel, "--nics", "netdevsim"]).run(context)
        #expect(probe.probes.answers.withLock { $0.count } == 1)
        #expect(launcher.booted.specs.withLock { $0.last?.first?.accelerator } == .tcg)
    }
}

struct UnreachableHypervisor: HypervisorQuery {
    func versions() async throws -> (library: String, hypervisor: String) {
        throw NetrigError(blame: .infrastructure, subject: "qemu:///system", message: "cannot connect to libvirt: no daemon",
                          code: .hypervisorUnreachable)
    }
}
