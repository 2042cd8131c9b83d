import Foundation
@testable import GuestVM
import HostCommands
import NetrigCore
import NetrigTestSupport
import RunStore
import Testing

/// The fault suite of docs/RELIABILITY.md, through the `netrig` binary: bad input, libvirt out of reach,
/// SIGTERM and SIGKILL in the middle of a run, and `--resume`. Each asserts the error (phase and input),
/// the run stored with what it had, and that no guest or QEMU process is left behind.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct FaultSuiteTests {
    let fixtures = HostFixtures.shared
    var binary: String { fixtures.repository + "/.build/debug/netrig" }

    func netrig(_ arguments: [String], timeout: Duration = .seconds(1800)) async throws -> HostCommandResult {
        try await HostCommandRunner().run(HostCommand(binary, arguments, environment: ["NETRIG_HOME": fixtures.repository]),
                                          timeout: timeout)
    }

    /// `netrig run` in the background, for signals; `home` is the project directory it reads (NETRIG_HOME).
    func start(_ arguments: [String], output: String, home: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["NETRIG_HOME": home ?? fixtures.repository]) { $1 }
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// A short run of the example series (one repetition, no leak check) started in the background on
    /// `scratch/NAME.sqlite`, once the domain whose name starts with `prefix` runs: what the signal and
    /// daemon faults interrupt. Its output goes to `scratch/NAME.out`.
    func startRun(in scratch: String, name: String = "runs", untilDomain prefix: String) async throws -> (process: Process, store: String) {
        let store = scratch + "/\(name).sqlite"
        let process = try start(["run", "--store", store, "--repetitions", "1", "--no-leak-check", "--clock", "real"], output: scratch + "/\(name).out")
        _ = try await waitForDomain(prefix, of: process.processIdentifier, process: process)
        return (process, store)
    }

    func output(in scratch: String, name: String = "runs") -> String {
        (try? String(contentsOfFile: scratch + "/\(name).out", encoding: .utf8)) ?? ""
    }

    /// Names of the running libvirt domains (virsh, as an operator would look).
    func domains() async throws -> [String] {
        let list = try await HostCommandRunner().run(HostCommand("virsh", ["-c", fixtures.libvirtURI, "list", "--name"]), timeout: .seconds(30))
        return list.standardOutput.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// QEMU processes whose command line names a domain of process `pid`.
    func qemuProcesses(of pid: Int32) async throws -> [String] {
        let ps = try await HostCommandRunner().run(HostCommand("ps", ["-eo", "args"]), timeout: .seconds(30))
        return ps.standardOutput.split(separator: "\n").map(String.init).filter { $0.contains("qemu-system") && $0.contains("-\(pid)-") }
    }

    /// Waits until a domain of `pid` whose name starts with `prefix` runs.
    func waitForDomain(_ prefix: String, of pid: Int32, process: Process, limit: Duration = .seconds(900)) async throws -> String {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if let name = try await domains().first(where: { $0.hasPrefix("netrig-\(prefix)") && $0.contains("-\(pid)-") }) { return name }
            guard process.isRunning else { throw NetrigError(phase: .store, blame: .infrastructure, message: "netrig ended before \(prefix) booted") }
            try await Task.sleep(for: .seconds(1))
        }
        throw NetrigError(phase: .store, blame: .infrastructure, message: "no \(prefix) domain within \(limit)")
    }

    /// Waits for `process` to end; past `limit` it is killed and the test fails (a hung netrig is a finding).
    func waitForExit(_ process: Process, limit: Duration = .seconds(900)) async throws {
        let start = ContinuousClock.now
        while process.isRunning {
            if ContinuousClock.now - start > limit {
                kill(process.processIdentifier, SIGKILL)
                Issue.record("netrig did not end within \(limit)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Files and directories netrig process `pid` made in the temporary directory and left there.
    func temporaryLeftovers(of pid: Int32) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
            .filter { $0.hasPrefix("netrig-") && !$0.hasPrefix("netrig-test-") && $0.contains("-\(pid)") }
    }

    /// Command lines of running processes that start with `prefix` (e.g. a kernel's `make -C`), with or
    /// without the program's directory.
    func processes(startingWith prefix: String) async throws -> [String] {
        let ps = try await HostCommandRunner().run(HostCommand("ps", ["-eo", "args"]), timeout: .seconds(30))
        return ps.standardOutput.split(separator: "\n").map(String.init).filter {
            $0.hasPrefix(prefix) || ($0.hasPrefix("/") && $0.contains("/" + prefix) && !$0.contains(" /" + prefix))
        }
    }

    /// Starts libvirtd again (as scripts/prerequisites does) and waits until it answers.
    func startLibvirtd() async throws {
        let runner = HostCommandRunner()
        _ = try await runner.run(HostCommand("libvirtd", ["-d"]), timeout: .seconds(30))
        for _ in 0..<60 {
            if try await runner.run(HostCommand("virsh", ["-c", fixtures.libvirtURI, "list", "--name"]), timeout: .seconds(10)).succeeded { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw NetrigError(phase: .store, blame: .infrastructure, message: "libvirtd did not come back")
    }

    /// Junk, a series missing its patch 2 of 3, and a cut-off mbox: each refused with the file or the patch
    /// named, and stored as a run that failed in apply-series.
    @Test func badSeriesAreNamedAndStored() async throws {
        let scratch = fixtures.scratchDirectory("fault-input")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let store = scratch + "/runs.sqlite"
        var junk = Data(count: 4096)
        for index in junk.indices { junk[index] = UInt8((index * 7919) % 256) }
        try junk.write(to: URL(fileURLWithPath: scratch + "/junk.mbox"))
        // broken-middle-patch.mbox has three patches (and a cover letter); drop patch 2/3.
        let full = try String(contentsOfFile: fixtures.repository + "/examples/broken-middle-patch.mbox", encoding: .utf8)
        let messages = full.components(separatedBy: "\nFrom ")
        let kept = messages.filter { !$0.contains(" 2/3]") }
        try #require(kept.count == messages.count - 1)
        try kept.joined(separator: "\nFrom ").write(toFile: scratch + "/missing.mbox", atomically: true, encoding: .utf8)
        // The example series cut in the middle of its diff.
        let example = try String(contentsOfFile: fixtures.repository + "/examples/page-pool-comments.mbox", encoding: .utf8)
        try String(example.prefix(example.count * 2 / 3)).write(toFile: scratch + "/truncated.mbox", atomically: true, encoding: .utf8)

        // A cover letter and nothing else.
        try messages[0].write(toFile: scratch + "/cover-only.mbox", atomically: true, encoding: .utf8)

        for (file, words) in [("junk.mbox", "junk.mbox"), ("missing.mbox", "the series is incomplete: patch 2/3 is missing"), ("cover-only.mbox", "cover-only.mbox")] {
            let result = try await netrig(["run", "--store", store, "--series", scratch + "/" + file], timeout: .seconds(120))
            #expect(result.exitStatus == 2, "\(file): \(result.standardError)")
            #expect(result.standardError.contains(words), "\(file): \(result.standardError)")
            #expect(result.standardError.contains("stored as run"), "\(file): \(result.standardError)")
        }
        let truncated = try await netrig(["run", "--store", store, "--series", scratch + "/truncated.mbox"], timeout: .seconds(600))
        #expect(truncated.exitStatus == 2, "\(truncated.standardOutput)\(truncated.standardError)")
        #expect((truncated.standardOutput + truncated.standardError).contains("patch"), "the patch that does not apply is named")

        let runs = try await SQLiteRunStore(path: store).listRuns(limit: 10)
        #expect(runs.count == 4)
        #expect(runs.allSatisfy { $0.status == .failed && $0.failedPhase == .applySeries && $0.verdict == .fail },
                "\(runs.map { "\($0.status) \(String(describing: $0.failedPhase))" })")
    }

    /// `--append` takes kernel arguments, never a replacement for netrig's init or root nor shell text: refused
    /// as a usage error (exit 64) before a tree, a build or a guest is touched, with the argument named.
    @Test func appendRefusesInitRootAndShellText() async throws {
        let scratch = fixtures.scratchDirectory("fault-append")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        _ = FileManager.default.createFile(atPath: scratch + "/bzImage", contents: Data("not booted".utf8))
        for (command, append) in [("run", "init=/bin/sh"), ("run", "quiet;reboot"), ("boot", "root=/dev/sda"), ("boot", "a=$(id)")] {
            let target = command == "run" ? ["--store", scratch + "/runs.sqlite"] : ["--kernel", scratch + "/bzImage"]
            let result = try await netrig([command] + target + ["--append", append], timeout: .seconds(60))
            #expect(result.exitStatus == 64, "\(command) --append \(append): \(result.standardError)")
            #expect(result.standardError.contains("--append"), "\(result.standardError)")
            #expect(result.standardError.contains(append.split(separator: " ").first.map(String.init) ?? append), "\(result.standardError)")
        }
        if FileManager.default.fileExists(atPath: scratch + "/runs.sqlite") {
            let runs = try await SQLiteRunStore(path: scratch + "/runs.sqlite").listRuns(limit: 1)
            #expect(runs.isEmpty, "a usage error is no run")
        }
    }

    /// A series whose kernel oopses in the middle of a workload (examples/oops-zerocopy-setsockopt.mbox: a NULL
    /// dereference in sk_setsockopt() on SO_ZEROCOPY, so msg_zerocopy's sender is killed while the guest lives
    /// on): the run fails in test-patched with the series to blame, the error names the workload and the
    /// kernel's Oops, the boot is stored with its console and dmesg, and no guest is left.
    @Test func anOopsInTheMiddleOfAWorkloadIsTheSeriesFault() async throws {
        let scratch = fixtures.scratchDirectory("fault-oops")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        let result = try await netrig(["run", "--store", storePath, "--series", fixtures.repository + "/examples/oops-zerocopy-setsockopt.mbox",
                                       "--workload", "msg_zerocopy", "--repetitions", "1", "--no-leak-check", "--clock", "real", "--json", scratch + "/run.json"])
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 2, "\(output.lastLines(20))")
        #expect(output.contains("msg_zerocopy"), "the workload is named: \(output.lastLines(20))")
        #expect(output.contains("'client' was killed by signal KILL"), "how the client ended: \(output.lastLines(20))")
        #expect(output.contains("said: BUG: kernel NULL pointer dereference"), "the kernel's words: \(output.lastLines(20))")
        #expect(output.lastLines(8).allSatisfy { $0.count < 400 }, "one line per splat title, not the console: \(output.lastLines(8))")

        let store = try SQLiteRunStore(path: storePath)
        let summary = try #require(try await store.listRuns(limit: 1).first)
        #expect(summary.status == .failed && summary.failedPhase == .testPatched && summary.verdict == .fail)
        let run = try #require(try await store.loadRun(summary.id))
        #expect(run.error?.blame == .series)
        #expect(run.error?.details.contains { $0.hasPrefix("blame: the series, because the baseline booted the same way (virtio-net loop, TCG") } == true,
                "the blame says its evidence: \(run.error?.details ?? [])")
        let failedBoot = try #require(run.boots.first { $0.side == .patched && $0.workloadFailed })
        #expect(FileManager.default.fileExists(atPath: failedBoot.consoleLog), "the console is kept")
        #expect(run.splats.contains { $0.side == .patched && $0.kind == .oops }, "\(run.splats.map { "\($0.kind) \($0.title)" })")
        #expect(!run.splats.contains { $0.side == .baseline }, "the baseline is clean")
        #expect(run.boots.contains { $0.side == .baseline && !$0.workloadFailed }, "the baseline's boot is kept")
        let json = try String(contentsOfFile: scratch + "/run.json", encoding: .utf8)
        #expect(json.contains("sk_setsockopt") || json.contains("NULL pointer"), "the JSON report carries the oops")
        #expect(try await domains().isEmpty, "no guest is left")
    }

    /// A kernel command line that panics the kernel at boot (`rootfstype=` of a file system the kernel lacks:
    /// "VFS: Unable to mount root fs"): the baseline's boot fails with the console's panic lines and the guest
    /// named, blamed on the baseline (the tree without the series panics, so it is not the series: exit 1),
    /// stored as a run that failed in test-baseline with its console kept; no guest is left.
    @Test func aKernelCommandLineThatPanicsIsNamedWithTheConsole() async throws {
        let scratch = fixtures.scratchDirectory("fault-panic")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        let result = try await netrig(["run", "--store", storePath, "--repetitions", "1", "--no-leak-check", "--clock", "real", "--append", "rootfstype=netrignofs"],
                                      timeout: .seconds(600))
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 1, "the baseline panics: never the series' (\(output.lastLines(15)))")
        #expect(output.contains("guest baseline-throughput") && output.contains("the kernel panicked during boot"), "\(output.lastLines(15))")
        #expect(output.contains("blame: the baseline (the base tree without the series) failed this way"), "\(output.lastLines(15))")
        #expect(output.contains("every guest boots with --append 'rootfstype=netrignofs'"), "\(output.lastLines(15))")
        #expect(output.contains("Kernel panic - not syncing: VFS: Unable to mount root fs"), "the console's panic line: \(output.lastLines(15))")
        let store = try SQLiteRunStore(path: storePath)
        let summary = try #require(try await store.listRuns(limit: 1).first)
        #expect(summary.status == .failed && summary.failedPhase == .testBaseline)
        let run = try #require(try await store.loadRun(summary.id))
        #expect(run.error?.blame == .baseline && summary.verdict == .error)
        let console = try #require(run.error?.details.first { $0.hasPrefix("console: ") }.map { String($0.dropFirst("console: ".count)) })
        #expect(try String(contentsOfFile: console, encoding: .utf8).contains("Unable to mount root fs"), "the console is kept with the run")
        #expect(try await domains().isEmpty)
    }

    /// A named config that asks for a symbol the tree does not have (a copy of the project whose kconfigs/
    /// has one more config): the run fails before anything is compiled, the symbol is named, and the run is
    /// stored with the phase; exit 1 (the config cannot hold on the base tree: nothing is said about the series).
    @Test func aConfigWithAnUnknownSymbolFailsTheRunNamingIt() async throws {
        let scratch = fixtures.scratchDirectory("fault-kconfig")
        let name = "netrig-test-unknown-symbol"
        let fm = FileManager.default
        defer {
            try? fm.removeItem(atPath: scratch)
            // The config's own build directory in netrig's worktree of the tree.
            for work in (try? fm.contentsOfDirectory(atPath: fixtures.directories.cache + "/work")) ?? [] {
                try? fm.removeItem(atPath: fixtures.directories.cache + "/work/\(work)/build/\(name)")
            }
        }
        let home = scratch + "/home"
        try fm.createDirectory(atPath: home + "/kconfigs/fragments", withIntermediateDirectories: true)
        for folder in ["workloads", "images", "examples"] {
            try fm.createSymbolicLink(atPath: home + "/" + folder, withDestinationPath: fixtures.repository + "/" + folder)
        }
        for fragment in try fm.contentsOfDirectory(atPath: fixtures.repository + "/kconfigs/fragments") {
            try fm.createSymbolicLink(atPath: home + "/kconfigs/fragments/" + fragment,
                                      withDestinationPath: fixtures.repository + "/kconfigs/fragments/" + fragment)
        }
        try "CONFIG_NETRIG_NO_SUCH_SYMBOL=y\n".write(toFile: home + "/kconfigs/fragments/unknown.config", atomically: true, encoding: .utf8)
        try """
            description = "default plus a symbol no tree has"
            base = "tinyconfig"
            fragments = ["base-guest", "netmem", "nics", "kmemleak", "viommu", "virtme", "xdp", "unknown"]
            """.write(toFile: home + "/kconfigs/\(name).toml", atomically: true, encoding: .utf8)

        let result = try await HostCommandRunner().run(
            HostCommand(binary, ["run", "--store", scratch + "/runs.sqlite", "--config", name, "--repetitions", "1", "--no-leak-check", "--clock", "real"],
                        environment: ["NETRIG_HOME": home]), timeout: .seconds(900))
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 1, "\(output.lastLines(15))")
        #expect(output.contains("CONFIG_NETRIG_NO_SUCH_SYMBOL") && output.contains("does not exist"), "\(output.lastLines(15))")
        let store = try SQLiteRunStore(path: scratch + "/runs.sqlite")
        let summary = try #require(try await store.listRuns(limit: 1).first)
        #expect(summary.status == .failed && [.configure, .buildBaseline].contains(summary.failedPhase),
                "\(summary.status) \(String(describing: summary.failedPhase))")
        let run = try #require(try await store.loadRun(summary.id))
        #expect(run.builds.isEmpty && run.boots.isEmpty, "nothing was built or booted")
        #expect(run.phases.contains { $0.phase == .applySeries && $0.outcome == .completed }, "the phases before it are stored")
    }

    /// A baseline that hangs at boot (`rootdelay=` longer than the boot timeout: the kernel waits before it
    /// mounts root, so init never runs): exit 1 and blamed on the baseline, never the series; the patched
    /// kernel is never booted; no guest is left.
    @Test func aBaselineThatHangsAtBootIsNeverTheSeries() async throws {
        let scratch = fixtures.scratchDirectory("fault-hang")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        let result = try await netrig(["run", "--store", storePath, "--repetitions", "1", "--no-leak-check", "--clock", "real",
                                       "--append", "rootdelay=3600", "--boot-timeout", "25"], timeout: .seconds(900))
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 1, "\(output.lastLines(15))")
        #expect(output.contains("guest baseline-throughput: no SSH within 25"), "\(output.lastLines(15))")
        #expect(output.contains("verdict: error: netrig could not decide"), "\(output.lastLines(15))")
        let store = try SQLiteRunStore(path: storePath)
        let summary = try #require(try await store.listRuns(limit: 1).first)
        #expect(summary.status == .failed && summary.failedPhase == .testBaseline && summary.verdict == .error)
        let run = try #require(try await store.loadRun(summary.id))
        #expect(run.error?.blame == .baseline)
        #expect(!run.phases.contains { $0.phase == .testPatched }, "the patched kernel was never booted")
        #expect(try await domains().isEmpty)
    }

    /// A workload whose client outlives its timeout on the unpatched baseline (a copy of the project with
    /// one more workload: `sleep 60` under a 5 s timeout): exit 1, blamed on the baseline.
    @Test func aBaselineWorkloadThatTimesOutIsNeverTheSeries() async throws {
        let scratch = fixtures.scratchDirectory("fault-timeout")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fm = FileManager.default
        let home = scratch + "/home"
        try fm.createDirectory(atPath: home + "/workloads", withIntermediateDirectories: true)
        for folder in ["kconfigs", "images", "examples"] {
            try fm.createSymbolicLink(atPath: home + "/" + folder, withDestinationPath: fixtures.repository + "/" + folder)
        }
        for file in try fm.contentsOfDirectory(atPath: fixtures.repository + "/workloads") {
            try fm.createSymbolicLink(atPath: home + "/workloads/" + file, withDestinationPath: fixtures.repository + "/workloads/" + file)
        }
        try """
            name = "netrig-test-stall"
            summary = "a client that outlives its timeout"
            topologies = ["loop"]
            nics = ["virtio-net"]
            requires = []
            duration = 1
            timeout = 5
            server = []
            client = ["sleep", "60"]

            [[modes]]
            name = "stall"
            client_args = []

            [[metrics]]
            name = "throughput"
            unit = "MiB/s"
            pattern = 'moved (\\d+) MiB'
            """.write(toFile: home + "/workloads/netrig-test-stall.toml", atomically: true, encoding: .utf8)
        let storePath = scratch + "/runs.sqlite"
        let result = try await HostCommandRunner().run(
            HostCommand(binary, ["run", "--store", storePath, "--workload", "netrig-test-stall", "--repetitions", "1", "--no-leak-check",
                                 "--clock", "real"], environment: ["NETRIG_HOME": home]), timeout: .seconds(900))
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 1, "\(output.lastLines(15))")
        #expect(output.contains("exceeded its timeout of 5"), "\(output.lastLines(15))")
        let store = try SQLiteRunStore(path: storePath)
        let summary = try #require(try await store.listRuns(limit: 1).first)
        #expect(summary.failedPhase == .testBaseline && summary.verdict == .error)
        let run = try #require(try await store.loadRun(summary.id))
        #expect(run.error?.blame == .baseline)
        #expect(run.boots.contains { $0.side == .baseline && $0.workloadFailed }, "the failed boot is kept")
        #expect(try await domains().isEmpty)
    }

    /// A KVM answer kept for this host boot that no kernel ever proved (what netrig kept before from a
    /// firmware-only probe): the run's first KVM guest does not run, every boot goes to TCG, the fallback
    /// is recorded and the kept answer corrected. Where KVM really works, the run stays on KVM: either way
    /// both sides share one accelerator and the verdict is no failure.
    @Test func aWrongKVMAnswerFallsBackToTCGForTheWholeRun() async throws {
        let scratch = fixtures.scratchDirectory("fault-kvm")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var fresh = try fixtures.freshState(in: scratch, shareImages: true, shareData: true)
        fresh["NETRIG_HOME"] = fixtures.repository
        let probeFile = fresh["NETRIG_CACHE_DIR"]! + "/accelerator-probe.json"
        let host = try #require(CachedAcceleratorProbe.currentHost())
        let entry: [String: Any] = ["format": 2, "hostBoot": host.boot, "kvmWritable": host.kvmWritable, "accelerator": "kvm",
                                    "reason": "KVM ran the firmware (no kernel was tried)", "probedAt": "earlier"]
        try JSONSerialization.data(withJSONObject: entry).write(to: URL(fileURLWithPath: probeFile))
        let storePath = scratch + "/runs.sqlite"
        let start = ContinuousClock.now
        let result = try await HostCommandRunner().run(HostCommand(binary, ["run", "--store", storePath, "--repetitions", "1", "--no-leak-check"],
                                                                   environment: fresh), timeout: .seconds(900))
        let elapsed = ContinuousClock.now - start
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 0 || result.exitStatus == 3, "\(output.lastLines(20))")
        let store = try SQLiteRunStore(path: storePath)
        let summary = try #require(try await store.listRuns(limit: 1).first)
        let run = try #require(try await store.loadRun(summary.id))
        let accelerators = Set(run.boots.map(\.accelerator)), clocks = Set(run.boots.map(\.clock))
        #expect(accelerators.count == 1 && clocks.count == 1, "one accelerator and clock: \(accelerators) \(clocks)")
        if let fallback = run.environment?.acceleratorFallback {
            #expect(accelerators == [.tcg] && clocks == [.virtual], "fell back to TCG and its virtual clock")
            #expect(output.contains("every boot of this run goes to TCG"), "\(output.lastLines(20))")
            #expect(run.phases.contains { $0.phase == .testBaseline && $0.note?.hasPrefix("accelerator fallback:") == true })
            let kept = try String(contentsOfFile: probeFile, encoding: .utf8)
            #expect(kept.contains("\"tcg\""), "the host's answer is corrected: \(kept)")
            print("KVM fallback: \(fallback); the run took \(elapsed)")
        } else {
            #expect(accelerators == [.kvm], "no fallback: KVM ran the guests")
        }
        #expect(try await domains().isEmpty)
    }

    /// libvirtd out of reach (a socket that does not exist): said before anything is built, stored in
    /// configure, exit 1 (netrig could not decide, not the series' fault).
    @Test func libvirtOutOfReachIsFoundBeforeBuilding() async throws {
        let scratch = fixtures.scratchDirectory("fault-libvirt")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let result = try await netrig(["run", "--store", scratch + "/runs.sqlite", "--repetitions", "1", "--no-leak-check", "--clock", "real",
                                       "--libvirt-uri", "qemu+unix:///system?socket=\(scratch)/no-libvirtd.sock"], timeout: .seconds(600))
        #expect(result.exitStatus == 1, "\(result.standardOutput)\(result.standardError)")
        #expect((result.standardOutput + result.standardError).contains("cannot connect to libvirt"))
        let run = try #require(try await SQLiteRunStore(path: scratch + "/runs.sqlite").listRuns(limit: 1).first)
        #expect(run.status == .failed && run.failedPhase == .configure)
        let stored = try #require(try await SQLiteRunStore(path: scratch + "/runs.sqlite").loadRun(run.id))
        #expect(stored.builds.isEmpty, "nothing was built")
    }

    /// SIGTERM while the patched kernel's guest runs: stored as interrupted in test-patched, exit 143, no
    /// guest left. `--resume` keeps the baseline's boot, runs the rest and completes the same run.
    @Test func sigtermStoresAnInterruptedRunThatResumes() async throws {
        let scratch = fixtures.scratchDirectory("fault-sigterm")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (process, storePath) = try await startRun(in: scratch, untilDomain: "patched-throughput")
        let pid = process.processIdentifier
        process.terminate()
        try await waitForExit(process)
        let output = output(in: scratch)
        #expect(process.terminationStatus == 143, "\(output.lastLines(10))")
        #expect(output.contains("netrig run --resume"), "\(output.lastLines(10))")
        #expect(try await domains().filter { $0.contains("-\(pid)-") }.isEmpty, "no guest of the interrupted run is left")
        #expect(try await qemuProcesses(of: pid).isEmpty)

        let store = try SQLiteRunStore(path: storePath)
        let run = try #require(try await store.listRuns(limit: 1).first)
        #expect(run.status == .interrupted && run.failedPhase == .testPatched && run.verdict == .error)
        let interrupted = try #require(try await store.loadRun(run.id))
        #expect(interrupted.boots.filter { $0.side == .baseline }.count == 1, "the baseline's boot was stored before the signal")
        #expect(interrupted.phases.contains { $0.phase == .testPatched && $0.outcome == .failed && $0.note?.contains("interrupted") == true })
        let overlays = FileManager.default.enumerator(atPath: scratch)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".qcow2") } ?? []
        #expect(overlays.isEmpty, "disk overlays are removed: \(overlays)")

        let resumed = try await netrig(["run", "--store", storePath, "--resume", String(run.id)])
        // One repetition per side decides no metric: the resumed run completes inconclusive (exit 3), never a pass.
        #expect(resumed.exitStatus == 3, "\(resumed.standardOutput)\(resumed.standardError)")
        #expect((resumed.standardOutput + resumed.standardError).contains("kept from the stored run"))
        let done = try #require(try await store.loadRun(run.id))
        #expect(done.summary.status == .completed && done.summary.verdict == .inconclusive)
        #expect(done.boots.filter { $0.side == .baseline }.count == 1, "the baseline did not boot again")
        #expect(done.boots.filter { $0.side == .patched && !$0.workloadFailed }.count == 1)
        #expect(Set(done.samples.map(\.side)) == [.baseline, .patched])
        #expect(try await store.listRuns(limit: 10).count == 1, "the same run, not a new one")
    }

    /// libvirtd killed at three moments of a run: as the baseline's domain appears (libvirt may have started
    /// QEMU without answering virDomainCreateXML, so netrig holds no handle to it), once the guest's init
    /// has started (waiting for SSH), and during the baseline's workload (which needs only SSH, so it
    /// finishes; the next boot then finds no libvirtd). QEMU outlives the daemon and nobody is left to destroy it,
    /// so netrig stops the guest's QEMU process itself, found by the domain's name; the run fails with
    /// libvirt named (exit 1, not the series' fault) and is stored as failed in the phase it was in, with
    /// `--resume` offered for when libvirtd is back (resuming itself is `sigtermStoresAnInterruptedRunThatResumes`).
    @Test func libvirtdKilledMidRunLeavesNoQEMUAndIsResumable() async throws {
        let scratch = fixtures.scratchDirectory("fault-libvirtd")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // Other tests' libvirt connections (when suites run in parallel) must not end this process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        for moment in ["creating", "booted", "workload"] {
            let directory = scratch + "/" + moment
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let (process, storePath) = try await startRun(in: directory, untilDomain: "baseline-throughput")
            let pid = process.processIdentifier
            if moment == "workload" {
                while !output(in: directory).contains("\n  baseline: msg_zerocopy ") {
                    try #require(process.isRunning, "the run ended before its workload")
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            if moment == "booted" {
                let console = directory + "/runs/1/baseline/throughput-1/console.log"
                let started = ContinuousClock.now
                // The kernel boots with loglevel=5: init's first line is the first on the console.
                while !((try? String(contentsOfFile: console, encoding: .utf8))?.contains("netrig: init") ?? false) {
                    try #require(process.isRunning && ContinuousClock.now - started < .seconds(120), "the guest's init never started")
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            let pkill = try await HostCommandRunner().run(HostCommand("pkill", ["-KILL", "-x", "libvirtd"]), timeout: .seconds(30))
            do {
                try #require(pkill.succeeded, "libvirtd was running")
                try await waitForExit(process, limit: .seconds(600))
                #expect(try await qemuProcesses(of: pid).isEmpty, "\(moment): netrig stopped the QEMU process libvirt could no longer destroy")
            } catch {
                try await startLibvirtd()
                throw error
            }
            try await startLibvirtd()
            let output = output(in: directory)
            #expect(process.terminationStatus == 1, "\(moment): \(output.lastLines(15))")
            #expect(output.contains("libvirt"), "\(moment): \(output.lastLines(15))")
            var left = try await domains().filter { $0.contains("-\(pid)-") }
            for _ in 0..<30 where !left.isEmpty {
                try await Task.sleep(for: .seconds(1))
                left = try await domains().filter { $0.contains("-\(pid)-") }
            }
            #expect(left.isEmpty, "\(moment): the restarted libvirtd lists no guest of the run: \(left)")

            let store = try SQLiteRunStore(path: storePath)
            let run = try #require(try await store.listRuns(limit: 1).first)
            #expect(run.status == .failed && [.testBaseline, .testPatched].contains(run.failedPhase),
                    "\(moment): \(run.status) \(String(describing: run.failedPhase))")
            let stored = try #require(try await store.loadRun(run.id))
            #expect(stored.error?.blame == .infrastructure)
            #expect(output.contains("netrig run --resume \(run.id)"), "\(moment): resumable once libvirtd is back")
            if moment == "workload" {
                #expect(run.failedPhase == .testPatched, "the baseline's workload needs no libvirtd and finishes")
                #expect(stored.samples.contains { $0.side == .baseline } && stored.boots.filter { $0.side == .baseline }.count == 1,
                        "the baseline's boot and samples are kept")
            }
        }
    }

    /// SIGINT (Ctrl-C) in two more phases, for real. In the middle of a kernel build: make and the compilers
    /// stop, the run is stored as interrupted in the build phase, and the interrupted build is neither
    /// cached as a failure of the series nor left half-made in the cache. In the middle of the baseline's
    /// workload: the guest goes, and the run is stored as interrupted in test-baseline. Exit 130 both times,
    /// nothing left in the temporary directory.
    @Test func sigintDuringABuildAndDuringAWorkload() async throws {
        let scratch = fixtures.scratchDirectory("fault-sigint")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let kernels = fixtures.directories.kernels
        let failedBefore = Set(try FileManager.default.contentsOfDirectory(atPath: kernels).filter { $0.hasSuffix(".failed.log") })
        // The example series with a word of its new comment changed: a tree no build has seen, so make runs.
        let example = try String(contentsOfFile: fixtures.repository + "/examples/page-pool-comments.mbox", encoding: .utf8)
        let token = "sigint-\(UUID().uuidString.prefix(8))"
        let line = try #require(example.range(of: "\n+\t * "), "an added comment line")
        let changed = example.replacingCharacters(in: line, with: "\n+\t * [\(token)] ")
        try changed.write(toFile: scratch + "/fresh.mbox", atomically: true, encoding: .utf8)

        let building = try start(["run", "--store", scratch + "/build.sqlite", "--series", scratch + "/fresh.mbox", "--repetitions", "1",
                                  "--no-leak-check"], output: scratch + "/build.out")
        let started = ContinuousClock.now
        while try await processes(startingWith: "make -C").isEmpty {
            try #require(building.isRunning && ContinuousClock.now - started < .seconds(600), "make never started")
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .seconds(3))
        kill(building.processIdentifier, SIGINT)
        try await waitForExit(building, limit: .seconds(120))
        let buildOutput = (try? String(contentsOfFile: scratch + "/build.out", encoding: .utf8)) ?? ""
        #expect(building.terminationStatus == 130, "\(buildOutput.lastLines(10))")
        #expect(try await processes(startingWith: "make -C").isEmpty, "make is stopped")
        let interruptedBuild = try #require(try await SQLiteRunStore(path: scratch + "/build.sqlite").listRuns(limit: 1).first)
        #expect(interruptedBuild.status == .interrupted && [.buildPatches, .buildPatched].contains(interruptedBuild.failedPhase),
                "\(interruptedBuild.status) \(String(describing: interruptedBuild.failedPhase))")
        let kernelEntries = try FileManager.default.contentsOfDirectory(atPath: kernels)
        #expect(Set(kernelEntries.filter { $0.hasSuffix(".failed.log") }) == failedBefore, "an interrupted build is no failure of the series")
        #expect(!kernelEntries.contains { $0.contains(".tmp-\(building.processIdentifier)") }, "no half-made cache entry")
        #expect(try temporaryLeftovers(of: building.processIdentifier).isEmpty)

        let (testing, testStore) = try await startRun(in: scratch, name: "test", untilDomain: "baseline-throughput")
        let pid = testing.processIdentifier
        while !output(in: scratch, name: "test").contains("\n  baseline: msg_zerocopy ") {
            try #require(testing.isRunning, "the run ended before its workload")
            try await Task.sleep(for: .milliseconds(200))
        }
        kill(pid, SIGINT)
        try await waitForExit(testing, limit: .seconds(120))
        let testOutput = output(in: scratch, name: "test")
        #expect(testing.terminationStatus == 130, "\(testOutput.lastLines(10))")
        #expect(try await domains().filter { $0.contains("-\(pid)-") }.isEmpty)
        #expect(try await qemuProcesses(of: pid).isEmpty)
        let interruptedTest = try #require(try await SQLiteRunStore(path: testStore).listRuns(limit: 1).first)
        #expect(interruptedTest.status == .interrupted && interruptedTest.failedPhase == .testBaseline,
                "\(interruptedTest.status) \(String(describing: interruptedTest.failedPhase))")
        #expect(try temporaryLeftovers(of: pid).isEmpty)
    }

    /// SIGINT while mmdebstrap builds the guest image, 4 s after it mounted /proc, /sys and /dev nodes into
    /// the root it builds (root mode), while it installs packages: every process of the build stops (found
    /// and fixed: only mmdebstrap was signalled, and the processes it had forked ran on in the half-built
    /// root after netrig exited, leaving the staging directory behind), no mount is left, nothing half-made
    /// stays in the image cache, and the run is stored as interrupted in build-image. A recipe with one comment
    /// added makes an image no cache holds; the kernels come from the build cache.
    @Test func sigintDuringTheImageBuildLeavesNoMountAndNoProcess() async throws {
        let scratch = fixtures.scratchDirectory("fault-image")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fm = FileManager.default
        let home = scratch + "/home"
        let recipe = home + "/images/debian-bookworm"
        try fm.createDirectory(atPath: recipe, withIntermediateDirectories: true)
        for folder in ["workloads", "kconfigs", "examples"] {
            try fm.createSymbolicLink(atPath: home + "/" + folder, withDestinationPath: fixtures.repository + "/" + folder)
        }
        let original = fixtures.repository + "/images/debian-bookworm"
        for file in try fm.contentsOfDirectory(atPath: original) { try fm.copyItem(atPath: original + "/" + file, toPath: recipe + "/" + file) }
        let text = try String(contentsOfFile: recipe + "/recipe.toml", encoding: .utf8)
        try (text + "# \(UUID().uuidString): a recipe no image cache holds\n").write(toFile: recipe + "/recipe.toml", atomically: true, encoding: .utf8)

        let process = try start(["run", "--store", scratch + "/runs.sqlite", "--repetitions", "1", "--no-leak-check", "--clock", "real"],
                                output: scratch + "/run.out", home: home)
        let pid = process.processIdentifier
        let images = fixtures.directories.images
        let staging = ".tmp-\(pid)"
        func buildMounts() -> [String] {
            Mounts.points(under: images, mountinfo: Mounts.current()).filter { $0.contains(staging + "/") }
        }
        let started = ContinuousClock.now
        while buildMounts().isEmpty {
            let output = (try? String(contentsOfFile: scratch + "/run.out", encoding: .utf8)) ?? ""
            try #require(process.isRunning, "the run ended before mmdebstrap mounted anything: \(output.lastLines(10))")
            try #require(ContinuousClock.now - started < .seconds(900), "mmdebstrap mounted nothing within 15 minutes")
            try await Task.sleep(for: .milliseconds(200))
        }
        let mounted = buildMounts()
        try await Task.sleep(for: .seconds(4))
        try #require(process.isRunning, "the image was built within 4 s of mounting: \(scratch)/run.out")
        kill(pid, SIGINT)
        try await waitForExit(process, limit: .seconds(180))
        let output = (try? String(contentsOfFile: scratch + "/run.out", encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 130, "\(output.lastLines(10))")
        #expect(buildMounts().isEmpty, "no mount left of \(mounted.count) (\(mounted.prefix(3)))")
        let ps = try await HostCommandRunner().run(HostCommand("ps", ["-eo", "args"]), timeout: .seconds(30))
        let building = ps.standardOutput.split(separator: "\n").filter { $0.contains(staging) }
        #expect(building.isEmpty, "mmdebstrap and its helpers have stopped: \(building)")
        let chrooted = (try fm.contentsOfDirectory(atPath: "/proc")).filter { entry in
            Int32(entry) != nil && ((try? fm.destinationOfSymbolicLink(atPath: "/proc/\(entry)/root")) ?? "").contains(staging)
        }
        #expect(chrooted.isEmpty, "no process runs in the half-built root (apt, dpkg): \(chrooted)")
        #expect(try fm.contentsOfDirectory(atPath: images).filter { $0.contains(staging) }.isEmpty, "the staging directory is removed")
        let run = try #require(try await SQLiteRunStore(path: scratch + "/runs.sqlite").listRuns(limit: 1).first)
        #expect(run.status == .interrupted && run.failedPhase == .buildImage, "\(run.status) \(String(describing: run.failedPhase))")
        #expect(try temporaryLeftovers(of: pid).isEmpty)
    }

    /// Two whole runs at once on one store (two processes, as two CI jobs on one machine would): both
    /// complete, each under its own id with its own boots and samples, and their guests do not collide.
    @Test func twoRunsAtOnceOnOneStoreBothComplete() async throws {
        let scratch = fixtures.scratchDirectory("fault-concurrent")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        let arguments = ["run", "--store", storePath, "--repetitions", "1", "--no-leak-check", "--clock", "real"]
        let first = try start(arguments, output: scratch + "/first.out")
        let second = try start(arguments, output: scratch + "/second.out")
        try await waitForExit(first, limit: .seconds(1200))
        try await waitForExit(second, limit: .seconds(1200))
        for (process, name) in [(first, "first"), (second, "second")] {
            let output = (try? String(contentsOfFile: scratch + "/\(name).out", encoding: .utf8)) ?? ""
            // One repetition per side decides no metric: inconclusive (exit 3); a failure would accuse the series.
            #expect(process.terminationStatus == 3, "\(name): \(output.lastLines(12))")
        }
        let store = try SQLiteRunStore(path: storePath)
        let runs = try await store.listRuns(limit: 10)
        #expect(runs.count == 2 && Set(runs.map(\.id)).count == 2)
        for summary in runs {
            let run = try #require(try await store.loadRun(summary.id))
            #expect(run.summary.status == .completed && run.summary.verdict == .inconclusive, "run \(summary.id): \(String(describing: run.error))")
            #expect(Set(run.samples.map(\.side)) == [.baseline, .patched], "run \(summary.id) has its own samples")
            #expect(run.boots.count == 2)
        }
        #expect(Set(runs.compactMap(\.owner?.pid)) == [first.processIdentifier, second.processIdentifier])
    }

    /// SIGKILL (nothing can be cleaned up in the process): libvirt destroys the guest with its connection,
    /// the store opens and lists every completed phase, and `netrig runs` calls the run interrupted.
    @Test func sigkillLeavesAReadableStoreAndNoGuest() async throws {
        let scratch = fixtures.scratchDirectory("fault-sigkill")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (process, storePath) = try await startRun(in: scratch, untilDomain: "baseline-throughput")
        let pid = process.processIdentifier
        kill(pid, SIGKILL)
        try await waitForExit(process)
        var left = try await domains().filter { $0.contains("-\(pid)-") }
        for _ in 0..<30 where !left.isEmpty {
            try await Task.sleep(for: .seconds(1))
            left = try await domains().filter { $0.contains("-\(pid)-") }
        }
        #expect(left.isEmpty, "libvirt destroys a killed netrig's guests (autodestroy): \(left)")
        #expect(try await qemuProcesses(of: pid).isEmpty)
        let run = try #require(try await SQLiteRunStore(path: storePath).listRuns(limit: 1).first)
        let stored = try #require(try await SQLiteRunStore(path: storePath).loadRun(run.id))
        let completed = Set(stored.phases.filter { $0.outcome == .completed }.map(\.phase))
        #expect(completed.isSuperset(of: [.prepareTree, .applySeries, .configure, .buildBaseline, .buildPatched]), "\(completed)")
        #expect(run.status == .running && run.owner?.pid == pid)
        let listing = try await netrig(["runs", "--store", storePath], timeout: .seconds(60))
        #expect(listing.standardOutput.contains("interrupted"), "\(listing.standardOutput)")
    }
}
