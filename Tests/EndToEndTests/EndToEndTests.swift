import Foundation
import HostCommands
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

    func netrig(_ arguments: [String], timeout: Duration = .seconds(2400)) async throws -> HostCommandResult {
        try await HostCommandRunner().run(HostCommand(binary, arguments, environment: ["NETRIG_HOME": fixtures.repository]),
                                          timeout: timeout)
    }

    @Test func exampleSeriesRunsEndToEndAndPasses() async throws {
        let scratch = fixtures.scratchDirectory("e2e")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storePath = scratch + "/runs.sqlite"
        let result = try await netrig(["run", "--store", storePath, "--repetitions", "2"])
        let output = result.standardOutput + result.standardError
        #expect(result.exitStatus == 0, "netrig run failed:\n\(output)")
        #expect(result.standardOutput.contains("copy/throughput"))
        #expect(result.standardOutput.contains("verdict: pass"))

        let store = try SQLiteRunStore(path: storePath)
        let summary = try #require(try await store.listRuns(limit: 10).first)
        let run = try #require(try await store.loadRun(summary.id))
        #expect(run.summary.status == .completed)
        #expect(run.summary.verdict == .pass)
        #expect(run.summary.treeName.hasPrefix("Debian linux-source-6.12"))
        #expect(run.series?.patches.count == 2)
        #expect(run.applied?.commits.count == 2)
        #expect(Set(run.builds.map(\.side)) == [.baseline, .patched])
        #expect(run.builds.allSatisfy { FileManager.default.fileExists(atPath: $0.kernelImage) })
        let completed = Set(run.phases.filter { $0.outcome == .completed }.map(\.phase))
        for phase in [Phase.prepareTree, .applySeries, .configure, .buildBaseline, .buildPatched, .buildImage, .testBaseline, .testPatched, .checkLeaks, .compare] {
            #expect(completed.contains(phase), "phase \(phase.rawValue) recorded")
        }
        // Per side a throughput boot (kmemleak off) and a leak boot (kmemleak on).
        #expect(run.boots.count == 4)
        #expect(run.boots.filter { $0.kmemleak }.count == 2)
        #expect(run.boots.allSatisfy { $0.dmesg.contains("Linux version") && $0.bootSeconds > 0 && $0.clock == .virtual })
        // 2 sides x 2 modes (copy, zerocopy) x 2 repetitions, all positive throughputs.
        #expect(run.samples.count == 8)
        #expect(run.samples.allSatisfy { $0.value > 0 && $0.unit == "MiB/s" })
        #expect(run.splats.isEmpty, "a no-op series on a clean kernel leaves no splats: \(run.splats.map(\.title))")
        let comparison = Comparison(samples: run.samples, leaks: run.leaks, splats: run.splats)
        #expect(comparison.newLeaks.isEmpty)

        // The same inputs again build nothing.
        let again = try await netrig(["run", "--store", storePath, "--repetitions", "1", "--no-leak-check", "--clock", "real"])
        #expect(again.exitStatus == 0, "second run failed:\n\(again.standardOutput)\(again.standardError)")
        let secondID = try #require(try await store.listRuns(limit: 1).first).id
        let second = try #require(try await store.loadRun(secondID))
        #expect(second.builds.allSatisfy { $0.cached }, "the second run reuses both kernels from the build cache")

        let listing = try await netrig(["runs", "--store", storePath])
        #expect(listing.standardOutput.contains("small no-op cleanups"))
        #expect(listing.standardOutput.split(separator: "\n").count == 3, "a header and two runs")
        let compare = try await netrig(["compare", "--store", storePath, String(summary.id)])
        #expect(compare.exitStatus == 0)
        #expect(compare.standardOutput.contains("\(summary.id):baseline"))
        // Runs measured in different clocks are not compared unless forced.
        let mixed = try await netrig(["compare", "--store", storePath, "\(summary.id):patched", "\(second.summary.id):patched"])
        #expect(mixed.exitStatus == 1)
        #expect(mixed.standardOutput.contains("measurement clocks differ"))
        let forced = try await netrig(["compare", "--store", storePath, "--force", "\(summary.id):patched", "\(second.summary.id):patched"])
        #expect(forced.standardOutput.contains("\(second.summary.id):patched"))
    }

    @Test func seriesThatDoesNotApplyFailsInApplyWithExitCode2() async throws {
        let scratch = fixtures.scratchDirectory("e2e-apply")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let example = try String(contentsOfFile: fixtures.repository + "/examples/page-pool-comments.mbox", encoding: .utf8)
        // Patch 2's context no longer matches the tree.
        let broken = example.replacingOccurrences(of: "-\treturn netmem_is_net_iov(netmem) ||", with: "-\treturn netmem_is_net_iov(nm) ||")
        try broken.write(toFile: scratch + "/broken.mbox", atomically: true, encoding: .utf8)
        let result = try await netrig(["run", "--store", scratch + "/runs.sqlite", "--series", scratch + "/broken.mbox"], timeout: .seconds(600))
        #expect(result.exitStatus == 2, "\(result.standardOutput)\(result.standardError)")
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
