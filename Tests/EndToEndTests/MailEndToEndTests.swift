import Foundation
import HostCommands
import NetrigCore
import NetrigTestSupport
import RunStore
import Testing

/// The example series' two changes, mailed every way the list delivers a series (made by git format-patch
/// and Python's email package on Debian's tree), each through `netrig run --build-only`: every one applies
/// as the commits git would make and builds; the trailers reviewers gave come out in the JSON report; a
/// base the tree lacks is an error naming it. The changes are the example's, so the kernels come from the
/// build cache the other end-to-end tests fill.
@Suite(.serialized, .enabled(if: HostFixtures.enabled)) struct MailEndToEndTests {
    let fixtures = HostFixtures.shared

    func netrig(_ arguments: [String]) async throws -> HostCommandResult {
        try await HostCommandRunner().run(HostCommand(fixtures.repository + "/.build/debug/netrig", arguments,
                                                      environment: ["NETRIG_HOME": fixtures.repository]), timeout: .seconds(1800))
    }

    @Test func seriesAsTheListDeliversThemBuildWithThePatchesGitWouldApply() async throws {
        let tree = try await fixtures.defaultTree()
        let scratch = fixtures.scratchDirectory("e2e-mail")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let diffs = try await MailFixtures.diffs(of: fixtures.repository + "/examples/page-pool-comments.mbox")
        try #require(diffs.count == 2)
        let fixture = try await MailFixtures.onTree(tree.repository, base: tree.baseCommit, in: scratch + "/repo", commits: [
            ("page_pool: explain what the producer lock serialises\n\nThe comment said too little.\n\n"
             + "From the datasheet of no NIC at all: the ring holds 256 entries.\n\nSigned-off-by: Ada Netmem <ada@example.org>", diffs[0]),
            ("page_pool: convert the netmem to a page once\n\nSigned-off-by: Ada Netmem <ada@example.org>", diffs[1]),
        ])
        let sent = try await fixture.formatPatch(["--cover-letter", "--thread", "--subject-prefix=PATCH net-next", "--base=\(tree.baseCommit)"])
        #expect(String(decoding: sent, as: UTF8.self).contains("\n\nFrom the datasheet of no NIC at all"))
        let v1 = try await fixture.formatPatch(["-v1", "--base=\(tree.baseCommit)"], range: "\(tree.baseCommit)..\(fixture.tip)~1")
        let v2 = try await fixture.formatPatch(["-v2", "--cover-letter", "--thread", "--base=\(tree.baseCommit)"])
        let reviewed = "Reviewed-by: Jesper Dangaard Brouer <hawk@example.org>"
        let variants: [(name: String, mail: Data, trailers: [[String]])] = [
            ("from-paragraph.mbox", sent, [[], []]),
            ("quoted-printable.mbox", try await fixture.transferEncoded(sent, "quoted-printable", dropContentType: true), [[], []]),
            ("base64.mbox", try await fixture.transferEncoded(sent, "base64"), [[], []]),
            ("crlf.mbox", try await fixture.python("for message in messages:\n    write(message, '\\r\\n')\n", input: sent), [[], []]),
            ("thread.mbox", try await fixture.withReplies(sent, [("1/2]", "Jesper Dangaard Brouer <hawk@example.org>", "Thanks.\n\n" + reviewed)]),
             [[reviewed], []]),
            ("two-revisions.mbox", v1 + v2, [[], []]),
        ]
        let store = scratch + "/runs.sqlite"
        let tipTree = try await fixture.git(["rev-parse", "\(fixture.tip)^{tree}"])
        for variant in variants {
            let path = scratch + "/" + variant.name
            try variant.mail.write(to: URL(fileURLWithPath: path))
            let json = scratch + "/" + variant.name + ".json"
            let result = try await netrig(["run", "--build-only", "--store", store, "--json", json, "--series", path])
            #expect(result.exitStatus == 0, "\(variant.name): \(result.standardOutput)\(result.standardError)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
            let series = try #require(report["series"] as? [String: Any], "\(variant.name)")
            let patches = try #require(series["patches"] as? [[String: Any]])
            #expect(patches.map { $0["subject"] as? String } == ["page_pool: explain what the producer lock serialises",
                                                                "page_pool: convert the netmem to a page once"], "\(variant.name)")
            let trailers = patches.map { ($0["trailers"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? ""): \($0["value"] ?? "")" } }
            #expect(trailers == variant.trailers, "\(variant.name)")
            #expect(series["base_commit"] as? String == tree.baseCommit)
            if variant.name == "two-revisions.mbox" {
                #expect(series["revision"] as? Int == 2 && series["revisions"] as? [Int] == [1, 2], "\(series)")
            }
            // What was built is what git would apply: the fixture branch's tree, its messages.
            let runID = try #require(report["run"] as? Int64)
            let stored = try #require(try await SQLiteRunStore(path: store).loadRun(runID))
            let applied = try #require(stored.applied)
            #expect(try await fixture.git(["--git-dir", tree.repository + "/.git", "rev-parse", "\(applied.tipCommit)^{tree}"]) == tipTree, "\(variant.name)")
            let message = try await fixture.git(["--git-dir", tree.repository + "/.git", "log", "-1", "--format=%B", applied.commits[0]])
            #expect(message.contains("\n\nFrom the datasheet of no NIC at all: the ring holds 256 entries."), "\(variant.name): \(message)")
            #expect(stored.patchBuilds.count == 2 && stored.patchBuilds.allSatisfy(\.succeeded), "\(variant.name)")
        }

        // A directory of .patch files, as git format-patch -o writes it.
        try await fixture.git(["format-patch", "--quiet", "--base=\(tree.baseCommit)", "-o", scratch + "/patches", "\(tree.baseCommit)..\(fixture.tip)"])
        let directory = try await netrig(["run", "--build-only", "--store", store, "--series", scratch + "/patches"])
        #expect(directory.exitStatus == 0, "\(directory.standardOutput)\(directory.standardError)")

        // The last patch alone, on a base only the sender has: exit 1, naming the commit and the tree.
        let alone = scratch + "/alone.mbox"
        try await fixture.formatPatch(["--base=\(fixture.tip)~1"], range: "\(fixture.tip)~1..\(fixture.tip)").write(to: URL(fileURLWithPath: alone))
        let parent = try await fixture.git(["rev-parse", "\(fixture.tip)~1"])
        let missing = try await netrig(["run", "--build-only", "--store", store, "--series", alone])
        #expect(missing.exitStatus == 1, "\(missing.standardOutput)\(missing.standardError)")
        let said = missing.standardOutput + missing.standardError
        #expect(said.contains("base-commit \(parent)") && said.contains("is not in Debian linux-source-6.12"),
                "\(said)")
        #expect(said.contains("--base REF"), "what to do: \(said)")
    }
}
