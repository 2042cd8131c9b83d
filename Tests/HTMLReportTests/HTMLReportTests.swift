import Foundation
import Testing
@testable import HTMLReport
@testable import NetrigCore

/// Pages rendered from a stored run made in memory: escaping, the expected sections, and links that resolve.
@Suite struct HTMLReportTests {
    func storedRun(id: RunID, subject: String, dmesgLine: String, directory: String) throws -> StoredRun {
        let console = directory + "/console-\(id).log"
        try "boot\n\(dmesgLine)\n".write(toFile: console, atomically: true, encoding: .utf8)
        let buildLog = directory + "/build-\(id).log"
        try "  CC      net/core/page_pool.o\n".write(toFile: buildLog, atomically: true, encoding: .utf8)
        let plan = RunPlan(treeRequest: nil, baseRequest: nil, seriesPath: "/s/it's <here>.mbox", configName: "default", nic: .virtioNet,
                           workload: "msg_zerocopy", repetitions: 3, leakCheck: true, clock: nil, accelerator: nil, memoryMiB: 1024,
                           vcpus: 2, commandLine: ["netrig", "run"], maxRepetitions: 12)
        let summary = RunSummary(id: id, startedAt: "2026-11-23T05:00:00Z", seriesTitle: subject, treeName: "Debian", baseCommit: "75a29d725cb3",
                                 configName: "default", nic: "virtio-net", workload: "msg_zerocopy", status: .completed,
                                 verdict: .fail, failedPhase: nil)
        let series = Series(title: subject, revision: 2, baseCommit: nil,
                            patches: [Patch(index: 1, total: 1, subject: subject, author: "Ada <ada@example.org>", mail: Data(), diffHash: "h",
                                            trailers: [Trailer(name: "Reviewed-by", value: "Jesper <hawk@example.org>", givenBy: "Jesper <hawk@example.org>"),
                                                       Trailer(name: "Acked-by", value: "<b>bold</b>", givenBy: "Mallory <m@example.org>")])],
                            source: "x.mbox", intakeNotes: ["the mbox holds revisions v1, v2; testing v2 (the newest; --revision N chooses)"],
                            revisions: [1, 2])
        let artifact = KernelArtifact(side: .patched, commit: "abc", key: "k", configName: "default", configHash: "h", kernelImage: "/k",
                                      configPath: "/nonexistent/config", programs: [:], buildLog: buildLog, cached: false, buildSeconds: 20,
                                      ccacheHitRatio: 0.9, reproducer: [])
        let boots = [Side.baseline, .patched].map {
            BootRecord(side: $0, nic: .virtioNet, accelerator: .tcg, clock: .virtual, kmemleak: false, bootSeconds: 17,
                       consoleLog: console, dmesg: dmesgLine, workloadTranscript: "", unsupportedReason: nil)
        }
        let samples = (1...12).flatMap { repetition in [Side.baseline, .patched].map { side in
            Sample(side: side, workload: "msg_zerocopy", nic: .virtioNet, metric: "copy/throughput", unit: "MiB/s", repetition: repetition,
                   value: (side == .baseline ? 100 : 96) + Double(repetition % 4) * 0.1, higherIsBetter: true)
        } }
        let leak = Leak(side: .patched, size: 64, comm: "msg_zerocopy", backtrace: ["sk_setsockopt+0x1/0x2"], fingerprint: "sk_setsockopt",
                        raw: "unreferenced object 0xffff (size 64):\n  backtrace:\n    sk_setsockopt+0x1/0x2 <leak>")
        let splat = Splat(side: .patched, kind: .stalledPool, title: "page_pool_release_retry() stalled pool shutdown", text: dmesgLine)
        return StoredRun(summary: summary, plan: plan, series: series, applied: AppliedSeries(baseCommit: "base", commits: ["abc"]),
                         phases: [PhaseRecord(phase: .buildPatched, seconds: 20, outcome: .completed),
                                  PhaseRecord(phase: .testBaseline, seconds: 60, outcome: .completed)],
                         builds: [artifact], boots: boots, samples: samples, leaks: [leak], splats: [splat], error: nil,
                         patchBuilds: [PatchBuild(patch: 1, subject: subject, commit: "abc", succeeded: true,
                                                  newWarnings: ["net/core/page_pool.c:1:1: warning: <unused>"], cached: false, seconds: 20,
                                                  log: buildLog)],
                         configChanges: [ConfigChange(symbol: "CONFIG_PAGE_POOL_STATS", baseline: "n", patched: "y")])
    }

    @Test func textFromPatchesAndLogsIsEscapedAndEverySectionIsThere() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-html-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let hostile = "page_pool: <script>alert(1)</script> & \"quotes\""
        let run = try storedRun(id: 7, subject: hostile, dmesgLine: "<img src=x onerror=alert(2)>", directory: scratch)
        let site = ReportSite(output: scratch + "/site")
        let written = try site.write([run])
        #expect(written == ["index.html", "run-7.html", "compare-7.html"])
        for page in written {
            let html = try String(contentsOfFile: scratch + "/site/" + page, encoding: .utf8)
            #expect(!html.contains("<script>alert"), "\(page) must not carry the subject's markup")
            #expect(!html.contains("<img src=x"), "\(page) must not carry the console's markup")
            #expect(html.contains("href=\"index.html\""), "\(page) links back to the index")
        }
        let runPage = try String(contentsOfFile: scratch + "/site/run-7.html", encoding: .utf8)
        #expect(runPage.contains("page_pool: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"))
        #expect(runPage.contains("CONFIG_PAGE_POOL_STATS"))
        #expect(runPage.contains("warning: &lt;unused&gt;"))
        #expect(runPage.contains("sk_setsockopt+0x1/0x2 &lt;leak&gt;"), "full kmemleak text")
        #expect(runPage.contains("page_pool stalled-pool"), "page_pool leftovers are named as such")
        // The whole command, not the `netrig run` typed: series, resolved base, config, NIC, workload, accelerator, clock, repetitions.
        #expect(runPage.contains("<code>Reviewed-by: Jesper &lt;hawk@example.org&gt;</code>"), "the trailers from the list, per patch")
        #expect(runPage.contains("Acked-by: &lt;b&gt;bold&lt;/b&gt;</code> (from Mallory"))
        #expect(runPage.contains("testing v2 (the newest"))
        #expect(runPage.contains("netrig run --series &#39;/s/it&#39;\\&#39;&#39;s &lt;here&gt;.mbox&#39; --revision 2 --base 75a29d725cb3 --config default "
                                 + "--nic virtio-net --workload msg_zerocopy --accel tcg --clock virtual --repetitions 3 --max-repetitions 12"),
                "the reproducer, quoted and escaped")
        #expect(runPage.contains("class=\"timeline\""))
        let comparison = try String(contentsOfFile: scratch + "/site/compare-7.html", encoding: .utf8)
        #expect(comparison.contains("<svg class=\"plot\""))
        #expect(comparison.components(separatedBy: "<circle").count - 1 == 24, "one dot per sample")
        #expect(comparison.contains("Regression"))
        #expect(try LinkCheck.brokenLinks(in: scratch + "/site").isEmpty)
    }

    /// An inconclusive run says so before any number, on both pages, and so does an accelerator fallback.
    @Test func inconclusiveAndAFallbackAreShownAsSuch() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-html-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var run = try storedRun(id: 8, subject: "s", dmesgLine: "x", directory: scratch)
        run.summary.verdict = .inconclusive
        // Samples that scatter: the metric cannot be decided.
        run.samples = run.samples.map { sample in
            var noisy = sample
            noisy.value = 100 + Double((sample.repetition * 37) % 11) * 4
            return noisy
        }
        run.leaks = []
        run.splats = []
        run.environment = RunEnvironment(hypervisor: "QEMU 7.2.22", workload: WorkloadDefinition(
            name: "msg_zerocopy", summary: "", topologies: [.loop], nics: [.virtioNet], requiredSymbols: [], programs: [], duration: 2,
            timeout: .seconds(60), server: [], client: [], modes: [], metrics: [], unsupported: []),
            accelerator: "TCG: fell back", acceleratorFallback: "a KVM guest of run 8 (baseline) printed nothing within 12 s")
        #expect(run.comparison.undecided.map(\.metric) == ["copy/throughput"])
        let written = try ReportSite(output: scratch + "/site").write([run])
        #expect(written.contains("compare-8.html"))
        for page in ["run-8.html", "compare-8.html"] {
            let html = try String(contentsOfFile: scratch + "/site/" + page, encoding: .utf8)
            #expect(html.contains("Inconclusive: nothing was found against the series, but copy/throughput could not be decided. This is not a pass."), "\(page)")
            #expect(html.contains("Accelerator fallback: a KVM guest of run 8 (baseline) printed nothing within 12 s"), "\(page)")
        }
        let index = try String(contentsOfFile: scratch + "/site/index.html", encoding: .utf8)
        #expect(index.contains("class=\"badge inconclusive\""))
        #expect(index.contains("<option value=\"inconclusive\">"))
    }

    /// A check that could not run is said before any number, on the run and the comparison page.
    @Test func aCheckThatDidNotRunIsShownAsNotChecked() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-html-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var run = try storedRun(id: 9, subject: "s", dmesgLine: "x", directory: scratch)
        run.summary.verdict = .inconclusive
        run.leaks = []
        run.splats = []
        run.samples = run.samples.map { var same = $0; same.value = 100 + Double($0.repetition % 3) * 0.01; return same }
        let gap = UncheckedCheck(check: UncheckedCheck.pagePoolLeftovers, reason: "the tree has no ynl CLI at a/cli.py or b/cli.py")
        run.boots = run.boots.map { var boot = $0; boot.unchecked = [gap]; return boot }
        #expect(run.comparison.unchecked == ["page_pool leftovers: not checked on baseline and patched (the tree has no ynl CLI at a/cli.py or b/cli.py)"])
        _ = try ReportSite(output: scratch + "/site").write([run])
        for page in ["run-9.html", "compare-9.html"] {
            let html = try String(contentsOfFile: scratch + "/site/" + page, encoding: .utf8)
            #expect(html.contains("Not checked: page_pool leftovers: not checked on baseline and patched (the tree has no ynl CLI at a/cli.py or b/cli.py). This is not a pass."), "\(page)")
        }
    }

    @Test func linkCheckFindsAMissingTarget() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-links-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try "<a href=\"index.html\">i</a><a href=\"run-3.html\">r</a><a href=\"https://example.org/\">x</a>"
            .write(toFile: scratch + "/index.html", atomically: true, encoding: .utf8)
        #expect(try LinkCheck.brokenLinks(in: scratch) == ["index.html → run-3.html"])
    }
}
