import Foundation
import NetrigFakes
import Testing
@testable import NetrigCommands
@testable import NetrigCore

/// One comparison: what the run says, `show`, `compare` and the run's page say the same, because all of
/// them compute it from the stored evidence with `Comparison(_:setting:)`.
@Suite struct ComparisonConsistencyTests {
    /// The pair topology boots two guests per leak check. A new leak the patched kernel shows in both
    /// leak rounds is confirmed; counting guests instead of rounds (4 leak boots for 2 rounds) made it
    /// "unconfirmed" everywhere but in the run itself.
    @Test func aConfirmedLeakInThePairTopologyIsNewInTheRunShowCompareAndThePage() async throws {
        let directory = Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryRunStore(), printed = Printed()
        let context = Fixtures.runContext(store: store, directory: directory, printed: printed,
                                          collector: FakeCollector(leaks: [.patched: [Fixtures.leak]]))
        let runJSON = directory + "/run.json"
        let run = try RunCommand.parse(["--topology", "pair", "--nic", "virtio-net", "--workload", "w", "-n", "3", "--json", runJSON])
        #expect(try await Fixtures.exitCode { try await run.run(context) } == Verdict.fail.exitCode)
        let stored = store.latest
        #expect(stored.boots.filter(\.kmemleak).count == 8, "two rounds of two sides of two guests")
        #expect(stored.plan.topology == .pair)
        let runLeaks = try Fixtures.json(runJSON)["leaks"] as? [String: [String]]
        #expect(runLeaks?["new"] == ["page_pool_create"] && runLeaks?["unconfirmed"] == [])

        let shown = Printed()
        var showContext = context
        showContext.standardOutput = { shown.out($0) }
        try await ShowCommand.parse(["\(stored.summary.id)"]).run(showContext)
        #expect(shown.standardOutput.contains("NEW LEAK page_pool_create"), "\(shown.standardOutput)")
        #expect(!shown.standardOutput.contains("unconfirmed"))

        let compareJSON = directory + "/compare.json"
        let compare = try CompareCommand.parse(["\(stored.summary.id)", "--json", compareJSON])
        #expect(try await Fixtures.exitCode { try await compare.run(context) } == Verdict.fail.exitCode)
        let compared = try Fixtures.json(compareJSON)
        #expect((compared["leaks"] as? [String: [String]])?["new"] == ["page_pool_create"])
        #expect(compared["verdict"] as? String == "fail")

        let page = try String(contentsOfFile: directory + "/html/run-\(stored.summary.id).html", encoding: .utf8)
        #expect(page.contains("new: 1") && page.contains("page_pool_create"))
        #expect(!page.contains("unconfirmed: "))
    }

    /// A leak found once and not again is unconfirmed in all four, and fails nothing.
    @Test func aLeakSeenOnceIsUnconfirmedEverywhere() async throws {
        let directory = Fixtures.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryRunStore(), printed = Printed()
        let context = Fixtures.runContext(store: store, directory: directory, printed: printed,
                                          collector: FakeCollector(leaks: [.patched: [Fixtures.leak]], onlyOnce: true))
        let run = try RunCommand.parse(["--topology", "loop", "--nic", "virtio-net", "--workload", "w", "-n", "3"])
        _ = try await Fixtures.exitCode { try await run.run(context) }
        let comparison = store.latest.comparison
        #expect(comparison.unconfirmedLeaks.map(\.fingerprint) == ["page_pool_create"] && comparison.newLeaks.isEmpty)
        #expect(printed.standardOutput.contains("unconfirmed (patched side once"))
        let compare = try CompareCommand.parse(["1"])
        let shown = Printed()
        var compareContext = context
        compareContext.standardOutput = { shown.out($0) }
        _ = try await Fixtures.exitCode { try await compare.run(compareContext) }
        #expect(shown.standardOutput.contains("unconfirmed (patched side once"))
    }
}
