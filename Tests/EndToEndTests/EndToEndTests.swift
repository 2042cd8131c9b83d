import Foundation
import HostCommands
import HTMLReport
import NetrigCore
import NetrigTestSupport
import RunStore
import Testing

/// The whole path, for real: the `netrig` binary applies the example series to Debian's 6.12 tree, builds
/// both kernels, boots them in libvirt/QEMU guests, runs msg_zerocopy over SSH, scans kmemleak, stores the
/// run in SQLite and prints the comparison. The assertions read the stored run back.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct EndToEndTests {
    let fixtures = HostFixtures.shared
    var binary: String { fixtures.repository + "/.build/debug/netrig" }

    func netrig(_ arguments: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(2400)) async throws -> HostCommandResult {
        let start = ContinuousClock.now
        let result = try await HostCommandRunner().run(HostCommand(binary, arguments, environment: environment ?? ["NETRIG_HOME": fixtures.repository]),
                                                       timeout: timeout)
        // Where a long test's time went, in the test log: each run's phase times and any added rounds.
        if arguments.first == "run" {
            let notes = (result.standardOutput + result.standardError).lines.filter {
                $0.contains("phases:") || $0.contains("more per side") || $0.contains("confirming")
            }
            print("netrig \(arguments.prefix(6).joined(separator: " ")): \(ContinuousClock.now - start)\n" + notes.joined(separator: "\n"))
        }
        return result
    }

    /// The newcomer's path first: `doctor`, then `run` on the README's defaults, with an empty data
    /// directory and no accelerator answer (built kernels and ccache may be warm: this is no cold build).
    /// Whatever this host's KVM does, the comment-only example (two kernels with the same code: a kernel
    /// against itself) passes on the default NIC, every metric decided, and no guest's clock failed.
    /// The later steps go on in the same state.
    @Test func exampleSeriesPassesAndAnExtraCostIsARegression() async throws {
        let scratch = fixtures.scratchDirectory("e2e")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fresh = try fixtures.freshState(in: scratch)
        func netrig(_ arguments: [String]) async throws -> HostCommandResult { try await self.netrig(arguments, environment: fresh) }
        let storePath = scratch + "/runs.sqlite"
        let store = try SQLiteRunStore(path: storePath)

        // 0. doctor before any run: it decides KVM or TCG only with a kernel it built, and keeps nothing else.
        let doctor = try await netrig(["doctor"])
        #expect(doctor.exitStatus == 0, "\(doctor.standardOutput)")
        let accelerator = try #require(doctor.standardOutput.lines.first { $0.contains("accelerator:") })
        #expect(!accelerator.contains("KVM ran the firmware (no kernel was tried)"), "\(accelerator)")
        let probeFile = fresh["NETRIG_CACHE_DIR"]! + "/accelerator-probe.json"
        if accelerator.contains("could not decide") {
            #expect(!FileManager.default.fileExists(atPath: probeFile), "an undecided answer is never kept")
        }

        // 1. The example series (a comment and a no-op refactor), with leak checking: not a failure.
        let result = try await netrig(["run", "--store", storePath, "--repetitions", "4"])
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 0, "netrig run did not pass:\n\(output)")
        #expect(result.standardOutput.contains("copy/throughput"))
        #expect(result.standardOutput.contains("verdict: pass"))
        let firstID = try #require(try await store.listRuns(limit: 10).first).id
        let run = try #require(try await store.loadRun(firstID))
        #expect(run.summary.status == .completed)
        #expect(run.summary.verdict == .pass)
        #expect(run.comparison.undecided.isEmpty, "no metric left undecided: \(run.comparison.undecided.map(\.verdictText))")
        #expect(Set(run.boots.map(\.accelerator)).count == 1 && Set(run.boots.map(\.clock)).count == 1, "one accelerator and clock for both sides")
        #expect(run.environment?.accelerator != nil, "the accelerator and why are recorded")
        #expect(FileManager.default.fileExists(atPath: probeFile) || run.environment?.acceleratorFallback != nil,
                "the run's probe booted a kernel, so its answer is kept")
        #expect(run.summary.treeName.hasPrefix("Debian linux-source-6.12"))
        #expect(run.series?.patches.count == 2)
        #expect(run.applied?.commits.count == 2)
        #expect(Set(run.builds.map(\.side)) == [.baseline, .patched])
        #expect(run.builds.allSatisfy { FileManager.default.fileExists(atPath: $0.kernelImage) })
        let completed = Set(run.phases.filter { $0.outcome == .completed }.map(\.phase))
        for phase in [Phase.prepareTree, .applySeries, .configure, .buildBaseline, .buildPatched, .buildImage, .testBaseline, .testPatched, .checkLeaks, .compare] {
            #expect(completed.contains(phase), "phase \(phase.rawValue) recorded")
        }
        // Per side at least two throughput boots (ABAB, kmemleak off; a third when the noise asked for more
        // runs) and a leak boot (kmemleak on).
        let throughputBoots = run.boots.filter { !$0.kmemleak }
        #expect(throughputBoots.count >= 4 && throughputBoots.filter { $0.side == .baseline }.count == throughputBoots.filter { $0.side == .patched }.count)
        #expect(run.boots.filter { $0.kmemleak }.count == 2)
        #expect(run.boots.allSatisfy { $0.dmesg.contains("Linux version") && $0.bootSeconds > 0 && $0.clock == .virtual })
        // Every guest kept time: no failed APIC timer calibration, no RCU stall, no unstable clocksource.
        for boot in run.boots {
            #expect(GuestClockHealth.problems(inKernelLog: boot.dmesg).isEmpty,
                    "\(boot.side.rawValue) boot: \(GuestClockHealth.problems(inKernelLog: boot.dmesg))")
        }
        // 2 sides x 2 modes (copy, zerocopy) x 4 repetitions or more (as many as the noise asked for), all positive.
        let perSide = run.samples.filter { $0.side == .baseline }.count
        #expect(run.samples.count >= 16 && run.samples.count == 2 * perSide && perSide % 2 == 0)
        #expect(run.samples.allSatisfy { $0.value > 0 && $0.unit == "MiB/s" })
        #expect(run.splats.isEmpty, "a no-op series on a clean kernel leaves no splats: \(run.splats.map(\.title))")
        let comparison = Comparison(samples: run.samples, leaks: run.leaks, splats: run.splats)
        #expect(comparison.newLeaks.isEmpty)
        #expect(comparison.metrics.allSatisfy { $0.verdict != .regression && $0.verdict != .improvement })

        // 2. A small deliberate cost per byte a TCP send copies (one loop step per 64 bytes): a copy-mode
        // regression through the emulated NIC, with its interval, and exit code 2. Zerocopy sends copy
        // nothing, so they do not pay it.
        let costly = try await netrig(["run", "--store", storePath, "--repetitions", "4", "--no-leak-check",
                                       "--series", fixtures.repository + "/examples/extra-cost-per-byte.mbox"])
        #expect(costly.exitStatus == 2, "\(costly.standardOutput)\(costly.standardError)")
        #expect(costly.standardOutput.contains("regression"))
        let costID = try #require(try await store.listRuns(limit: 1).first).id
        let costRun = try #require(try await store.loadRun(costID))
        #expect(costRun.builds.first { $0.side == .baseline }?.cached == true, "the same baseline is not built twice")
        let costComparison = Comparison(samples: costRun.samples, leaks: [], splats: [])
        let copy = try #require(costComparison.metrics.first { $0.metric == "copy/throughput" })
        #expect(copy.verdict == .regression)
        #expect(copy.delta < 0)
        #expect(copy.interval.map { $0.upperBound < 0 } == true, "the interval excludes no change: \(String(describing: copy.interval))")
        let zerocopy = try #require(costComparison.metrics.first { $0.metric == "zerocopy/throughput" })
        #expect(zerocopy.verdict != .regression, "zerocopy sends copy nothing: \(zerocopy.verdictText) \(zerocopy.delta)")

        // 3. The same kernel compared with itself across the two runs: no finding.
        let same = try await netrig(["compare", "--store", storePath, "\(firstID):baseline", "\(costID):baseline"])
        #expect(same.exitStatus == 0 || same.exitStatus == 3, "\(same.standardOutput)")
        #expect(!same.standardOutput.contains("regression") && !same.standardOutput.contains("improvement"))

        // 4. The same inputs again build nothing; runs in different clocks are not compared unless forced.
        let again = try await netrig(["run", "--store", storePath, "--repetitions", "1", "--no-leak-check", "--clock", "real"])
        // One run per side decides no metric: inconclusive (exit 3), never a pass.
        #expect(again.exitStatus == 3, "second run:\n\(again.standardOutput)\(again.standardError)")
        let secondID = try #require(try await store.listRuns(limit: 1).first).id
        let second = try #require(try await store.loadRun(secondID))
        #expect(second.builds.allSatisfy { $0.cached }, "the repeated run reuses both kernels from the build cache")
        #expect(second.boots.allSatisfy { $0.clock == .real })
        let mixed = try await netrig(["compare", "--store", storePath, "\(firstID):patched", "\(secondID):patched"])
        #expect(mixed.exitStatus == 1)
        #expect(mixed.standardOutput.contains("measurement clocks differ"))
        let forced = try await netrig(["compare", "--store", storePath, "--force", "\(firstID):patched", "\(secondID):patched"])
        #expect(forced.standardOutput.contains("\(secondID):patched"))

        let listing = try await netrig(["runs", "--store", storePath])
        #expect(listing.standardOutput.contains("small no-op cleanups"))
        #expect(listing.standardOutput.contains("deliberate cost"))
        #expect(listing.standardOutput.split(separator: "\n").count == 4, "a header and three runs")
        let within = try await netrig(["compare", "--store", storePath, String(firstID)])
        #expect(within.exitStatus == (run.summary.verdict == .pass ? 0 : 3), "compare says what the run said: \(within.standardOutput)")
        #expect(within.standardOutput.contains("\(firstID):baseline"))

        // The pages of these three real runs, in a real headless browser.
        #expect(FileManager.default.fileExists(atPath: scratch + "/html/run-\(firstID).html"), "netrig run writes its page beside the store")
        let site = scratch + "/site"
        let report = try await netrig(["report", "--store", storePath, "--out", site])
        #expect(report.exitStatus == 0, "\(report.standardOutput)\(report.standardError)")
        try await checkPagesInBrowser(site: site, runs: [firstID, costID])
    }

    /// `runs`: a run whose page to load, and a run with a throughput regression whose comparison to load.
    /// Loads the index, a run page and a comparison page in Debian's chromium (headless): no console
    /// errors, the expected elements in the rendered DOM, a screenshot of each kept in .build/screenshots
    /// for review; and every internal link of the site resolves.
    func checkPagesInBrowser(site: String, runs: [Int64]) async throws {
        let screenshots = fixtures.repository + "/.build/screenshots"
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        let pages: [(String, [String])] = [
            ("index.html", ["<table id=\"runs\"", "id=\"verdict-filter\"", "run-\(runs[0]).html"]),
            ("run-\(runs[0]).html", ["class=\"timeline\"", "Patches", "Boots", "console.log", "Reproduce"]),
            ("compare-\(runs[1]).html", ["<svg class=\"plot\"", "<circle", "Regression"]),
        ]
        for (page, expected) in pages {
            let url = "file://" + site + "/" + page
            let common = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                          "--user-data-dir=" + site + "/.chromium", "--enable-logging=stderr", "--v=0", "--window-size=1366,900"]
            let dom = try await HostCommandRunner().run(HostCommand("chromium", common + ["--dump-dom", url]), timeout: .seconds(120))
            #expect(dom.exitStatus == 0, "chromium: \(dom.standardError.suffix(2000))")
            for fragment in expected { #expect(dom.standardOutput.contains(fragment), "\(page) lacks \(fragment)") }
            // The pages log nothing, so any console line (chromium prints console.error and uncaught
            // exceptions alike as INFO:CONSOLE) is a failure.
            let consoleErrors = dom.standardError.split(separator: "\n").filter { $0.contains(":CONSOLE") }
            #expect(consoleErrors.isEmpty, "\(page): \(consoleErrors)")
            let shot = screenshots + "/" + page.replacingOccurrences(of: ".html", with: ".png")
            let screenshot = try await HostCommandRunner().run(HostCommand("chromium", common + ["--screenshot=" + shot, url]), timeout: .seconds(120))
            #expect(screenshot.exitStatus == 0 && FileManager.default.fileExists(atPath: shot), "no screenshot of \(page)")
        }
        #expect(try LinkCheck.brokenLinks(in: site).isEmpty)
    }

    /// The series leaks eight zeroed 64-byte objects per setsockopt(SO_ZEROCOPY). (Its first version used
    /// kmalloc and was found in 3 of 5 runs: SLUB's stale free pointers chain kmalloc()ed objects together,
    /// so one live neighbour hid them all.) The new leak is confirmed by a second leak boot of both sides.
    @Test func injectedLeakIsReportedAsANewLeakInJSON() async throws {
        let scratch = fixtures.scratchDirectory("e2e-leak")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let result = try await netrig(["run", "--store", scratch + "/runs.sqlite", "--repetitions", "1", "--clock", "real", "--json", "-",
                                       "--series", fixtures.repository + "/examples/leak-zerocopy-setsockopt.mbox"])
        #expect(result.exitStatus == 2, "\(result.standardOutput)\(result.standardError)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                                    "standard output is one JSON document")
        #expect(document["verdict"] as? String == "fail")
        #expect(document["run"] as? Int != nil)
        let findings = try #require(document["findings"] as? [[String: Any]])
        let leak = try #require(findings.first { $0["kind"] as? String == "leak" }, "findings: \(findings)")
        #expect(leak["blame"] as? String == "series")
        #expect(leak["nic"] as? String == "virtio-net")
        #expect(leak["workload"] as? String == "msg_zerocopy")
        let evidence = try #require(leak["evidence"] as? [String: Any])
        let fingerprint = try #require(evidence["fingerprint"] as? String)
        #expect(fingerprint.hasPrefix("sk_setsockopt"), "fingerprint \(fingerprint)")
        #expect((evidence["backtrace"] as? [String])?.contains { $0.hasPrefix("sk_setsockopt+") } == true)
        #expect(result.standardError.contains("NEW LEAK"), "the human-readable report goes to standard error")
        #expect((document["leaks"] as? [String: [String]])?["new"] == [fingerprint])

        let runID = try #require(document["run"] as? Int)
        let stored = try #require(try await SQLiteRunStore(path: scratch + "/runs.sqlite").loadRun(Int64(runID)))
        let leakBoots = stored.boots.filter(\.kmemleak)
        #expect(leakBoots.count == 4, "a leak boot per side, and a second one per side to confirm the new leak")
        #expect(stored.leaks.filter { $0.side == .patched }.map(\.round).sorted().last == 2, "found again in the second leak check")
        #expect(leakBoots.filter { $0.side == .patched }.allSatisfy { $0.kmemleakReport?.contains("unreferenced object") == true },
                "the raw kmemleak report of every leak boot is stored")
        #expect(stored.comparison.newLeaks.map(\.fingerprint) == [fingerprint], "the stored run compares as the run did")
        #expect(stored.environment?.hypervisor?.hasPrefix("QEMU ") == true)
    }

    /// examples/broken-middle-patch.mbox: patch 1 adds a warning, patch 2 does not build, patch 3 fixes it.
    /// Real incremental builds of each patch in Debian's tree; the second run builds nothing.
    @Test func perPatchBuildsNameTheBrokenPatchAndTheNewWarning() async throws {
        let scratch = fixtures.scratchDirectory("e2e-patches")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        let arguments = ["run", "--store", storePath, "--build-only", "--json", scratch + "/report.json",
                         "--series", fixtures.repository + "/examples/broken-middle-patch.mbox"]
        let result = try await netrig(arguments, timeout: .seconds(1800))
        #expect(result.exitStatus == 2, "\(result.standardOutput)\(result.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/report.json"))) as? [String: Any])
        #expect(report["verdict"] as? String == "fail")
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.map { $0["patch"] as? Int } == [1, 2], "findings: \(findings)")
        #expect(findings.allSatisfy { $0["kind"] as? String == "build" && $0["blame"] as? String == "series" })
        let warning = try #require(((findings[0]["evidence"] as? [String: Any])?["details"] as? [String])?.first)
        #expect(warning.hasPrefix("net/core/page_pool.c:798:"), "\(warning)")
        #expect(warning.contains("unused variable"))
        let error = try #require(((findings[1]["evidence"] as? [String: Any])?["details"] as? [String])?.first)
        #expect(error.hasPrefix("net/core/page_pool.c:824:"), "\(error)")
        #expect(error.contains("error:"))
        #expect(result.standardOutput.contains("patch 2/3") && result.standardOutput.contains("DOES NOT BUILD"))

        // Same inputs again: every patch's outcome comes from the cache, the failure included.
        let again = try await netrig(arguments, timeout: .seconds(600))
        #expect(again.exitStatus == 2)
        let store = try SQLiteRunStore(path: storePath)
        let latest = try #require(try await store.listRuns(limit: 1).first)
        let stored = try #require(try await store.loadRun(latest.id))
        #expect(stored.patchBuilds.map(\.succeeded) == [true, false, true])
        #expect(stored.patchBuilds.allSatisfy { $0.cached }, "\(stored.patchBuilds)")
        #expect(stored.patchBuilds[0].newWarnings.count == 1, "the warning is reported again from the cached log")
        #expect(stored.boots.isEmpty, "--build-only boots nothing")
    }

    /// `--configs default,devmem-off --build-only`: a run per config, one verdict; the devmem-off config
    /// really has NET_DEVMEM off (no dma-buf support: kconfigs/fragments/devmem-off.config) and the default has it on.
    /// Builds the second config, cold the first time (about 10 minutes here), cached afterwards.
    /// On 6.12 (RealConfigTests.everyNamedConfigHoldsOnThisTree checks 7.2's configs without building:
    /// a cold devmem-off build costs 10 minutes per tree).
    @Test func configMatrixBuildsEachConfigAndDevmemOffHolds() async throws {
        let tree = NamedTree.debian612.name
        let scratch = fixtures.scratchDirectory("e2e-matrix")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        let result = try await netrig(["run", "--store", storePath, "--build-only", "--configs", "default,devmem-off", "--tree", tree,
                                       "--json", scratch + "/report.json"], timeout: .seconds(3600))
        #expect(result.exitStatus == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.contains("matrix verdict: pass"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/report.json"))) as? [String: Any])
        let runs = try #require(report["runs"] as? [Int])
        #expect(runs.count == 2)
        #expect((report["config_changes"] as? [Any])?.isEmpty == true, "a comment-only series changes no config symbol")
        let store = try SQLiteRunStore(path: storePath)
        var devmem: [String: String] = [:]
        for id in runs {
            let run = try #require(try await store.loadRun(Int64(id)))
            let patched = try #require(run.builds.first { $0.side == .patched })
            let config = try String(contentsOfFile: patched.configPath, encoding: .utf8)
            devmem[run.plan.configName] = config.split(separator: "\n").first { $0.contains("CONFIG_NET_DEVMEM") }.map(String.init)
            #expect(run.configChanges == [])
            #expect(run.patchBuilds.count == 2 && run.patchBuilds.allSatisfy { $0.succeeded })
        }
        #expect(devmem["default"] == "CONFIG_NET_DEVMEM=y")
        #expect(devmem["devmem-off"] == "# CONFIG_NET_DEVMEM is not set" || devmem["devmem-off"] == nil, "\(devmem)")
    }

    /// Linux 7.2 from Debian unstable, as `--tree debian-7.2` fetches it: the default example passes with
    /// every check made (the page_pool state read with 7.2's own ynl, under pyynl/), and the per-byte cost
    /// (its 7.2 version: the 6.12 one does not apply) is a regression. The kernels are the ones every 7.2
    /// test shares (the default config).
    @Test func onLinux72TheExamplePassesWithEveryCheckAndAnExtraCostIsARegression() async throws {
        let scratch = fixtures.scratchDirectory("e2e-72")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        // The no-op: three runs per side in one boot per side (virtual time is steady enough, and the engine
        // adds runs when the noise asks for them).
        let result = try await netrig(["run", "--store", storePath, "--tree", "debian-7.2", "--repetitions", "3", "--no-leak-check",
                                       "--json", scratch + "/pass.json"])
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 0, "netrig run --tree debian-7.2 did not pass:\n\(output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/pass.json"))) as? [String: Any])
        #expect(report["verdict"] as? String == "pass")
        #expect((report["tree"] as? String)?.hasPrefix("Debian linux-source-7.2 (7.2.") == true, "\(report["tree"] ?? "no tree")")
        #expect(report["not_checked"] == nil, "every check ran: \(report["not_checked"] ?? "")")
        let store = try SQLiteRunStore(path: storePath)
        let runID = try #require(try await store.listRuns(limit: 1).first).id
        let run = try #require(try await store.loadRun(runID))
        #expect(run.builds.allSatisfy { $0.programs["ynl"] != nil && $0.unchecked?.isEmpty != false }, "7.2's ynl was found and packed")
        #expect(run.boots.allSatisfy { $0.unchecked.isEmpty && $0.dmesg.contains("Linux version 7.2.") }, "\(run.boots.map(\.unchecked))")
        #expect(!output.contains("NOT CHECKED"))
        let listing = try await netrig(["runs", "--store", storePath])
        #expect(listing.standardOutput.contains("Debian linux-source-7.2 (7.2."), "runs shows the tree and its version:\n\(listing.standardOutput)")

        // Four runs per side: on 7.2 the cost is about 1.3 % (2-3 % on 6.12), below the 2 % the virtual
        // clock promises to see, so it is a regression only with the ranks' significance, which three
        // samples a side cannot reach (measured: -1.28 %, p 0.059, "no significant change").
        let costly = try await netrig(["run", "--store", storePath, "--tree", "debian-7.2", "--repetitions", "4", "--no-leak-check",
                                       "--series", fixtures.repository + "/examples/linux-7.2/extra-cost-per-byte.mbox"])
        #expect(costly.exitStatus == 2, "\(costly.standardOutput)\(costly.standardError)")
        let costID = try #require(try await store.listRuns(limit: 1).first).id
        let costRun = try #require(try await store.loadRun(costID))
        #expect(costRun.builds.first { $0.side == .baseline }?.cached == true, "the same 7.2 baseline is not built twice")
        let copy = try #require(costRun.comparison.metrics.first { $0.metric == "copy/throughput" })
        #expect(copy.verdict == .regression && copy.delta < 0, "\(copy.verdictText) \(copy.delta)")
    }

    @Test func seriesThatDoesNotApplyFailsInApplyWithExitCode2() async throws {
        let scratch = fixtures.scratchDirectory("e2e-apply")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let example = try String(contentsOfFile: fixtures.repository + "/examples/page-pool-comments.mbox", encoding: .utf8)
        // Patch 2's context no longer matches the tree.
        let broken = example.replacingOccurrences(of: "-\treturn netmem_is_net_iov(netmem) ||", with: "-\treturn netmem_is_net_iov(nm) ||")
        try broken.write(toFile: scratch + "/broken.mbox", atomically: true, encoding: .utf8)
        let result = try await netrig(["run", "--store", scratch + "/runs.sqlite", "--series", scratch + "/broken.mbox",
                                       "--json", scratch + "/report.json"], timeout: .seconds(600))
        #expect(result.exitStatus == 2, "\(result.standardOutput)\(result.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/report.json"))) as? [String: Any])
        let finding = try #require((report["findings"] as? [[String: Any]])?.first)
        #expect(finding["kind"] as? String == "apply")
        #expect(finding["patch"] as? Int == 2)
        #expect(finding["blame"] as? String == "series")
        #expect(result.standardOutput.contains("patch 2/2 'page_pool: convert the netmem to a page once"))
        #expect(result.standardOutput.contains("net/core/page_pool.c"))
        let store = try SQLiteRunStore(path: scratch + "/runs.sqlite")
        let runID = try #require(try await store.listRuns(limit: 1).first).id
        let run = try #require(try await store.loadRun(runID))
        #expect(run.summary.status == .failed)
        #expect(run.summary.failedPhase == .applySeries)
        #expect(run.phases.map(\.phase) == [.prepareTree, .applySeries])
        #expect(run.error?.blame == .series)
    }
}
