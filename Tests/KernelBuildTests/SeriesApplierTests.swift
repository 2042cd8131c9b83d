import Foundation
import HostCommands
import Testing
@testable import KernelBuild
@testable import NetrigCore

/// `git am` for real, in a small repository made for each test.
@Suite struct SeriesApplierTests {
    func makeRepository() async throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-git-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let lines = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        try lines.write(toFile: directory + "/a.c", atomically: true, encoding: .utf8)
        try lines.write(toFile: directory + "/b.c", atomically: true, encoding: .utf8)
        let git = Git(directory: directory)
        try await git.run(["init", "--quiet"])
        try await git.run(["add", "."])
        try await git.run(["commit", "--quiet", "-m", "base"])
        return directory
    }

    func change(_ file: String, line: Int, from old: String, to new: String) -> String {
        """
        diff --git a/\(file) b/\(file)
        --- a/\(file)
        +++ b/\(file)
        @@ -\(line - 1),3 +\(line - 1),3 @@
         line \(line - 1)
        -\(old)
        +\(new)
         line \(line + 1)
        """
    }

    @Test func appliesEachPatchAsACommit() async throws {
        let repo = try await makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repo) }
        let base = try await Git(directory: repo).run(["rev-parse", "HEAD"])
        let text = mail("[PATCH 1/2] first", diff: change("a.c", line: 3, from: "line 3", to: "line three"))
            + mail("[PATCH 2/2] second", diff: change("b.c", line: 5, from: "line 5", to: "line five"))
        let series = try await MboxParser.parse(text, source: "s")
        let applied = try await SeriesApplier(worktree: repo).apply(series, base: base)
        #expect(applied.commits.count == 2)
        #expect(applied.baseCommit == base)
        let log = try await Git(directory: repo).run(["log", "--format=%s", "\(base)..\(applied.tipCommit)"])
        #expect(log == "second\nfirst")
        let content = try String(contentsOfFile: repo + "/b.c", encoding: .utf8)
        #expect(content.contains("line five"))
    }

    @Test func failingPatchIsNamedWithFileAndHunkAndEarlierPatchesKept() async throws {
        let repo = try await makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repo) }
        let base = try await Git(directory: repo).run(["rev-parse", "HEAD"])
        let text = mail("[PATCH 1/3] good", diff: change("a.c", line: 3, from: "line 3", to: "line three"))
            + mail("[PATCH 2/3] stale context", diff: change("b.c", line: 7, from: "line that is not there", to: "x"))
            + mail("[PATCH 3/3] never reached", diff: change("a.c", line: 9, from: "line 9", to: "line nine"))
        let series = try await MboxParser.parse(text, source: "s")
        do {
            _ = try await SeriesApplier(worktree: repo).apply(series, base: base)
            Issue.record("a patch with stale context applied")
        } catch let error as NetrigError {
            #expect(error.isCode(.patchDoesNotApply) && error.phase == nil, "the engine, not the applier, names the phase")
            #expect(error.blame == .series)
            #expect(error.subject == "patch 2/3 'stale context'")
            #expect(error.details.contains { $0.contains("b.c at line 6") })
            #expect(error.details.contains { $0.contains("@@ -6,3 +6,3 @@") })
            let kept = try await Git(directory: repo).run(["log", "--format=%s", "-1", "refs/netrig/applied"])
            #expect(kept == "good")
            let status = try await Git(directory: repo).tryRun(["status", "--porcelain"])
            #expect(status.standardOutput.isEmpty, "no git am in progress and no stray files")
        }
    }

    /// Two netrig processes on one tree: one applies a series under the build lock while the other asks
    /// for the worktree (every run and build does). The second must never disturb the first's `git am`
    /// (found by the two-runs fault test: its patch 1/2 "did not apply", blamed on the series).
    @Test func askingForTheWorktreeNeverCutsAnotherRunsApplyShort() async throws {
        let repo = try await makeRepository()
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-ws-\(UUID().uuidString)").path
        defer {
            try? FileManager.default.removeItem(atPath: repo)
            try? FileManager.default.removeItem(atPath: cache)
        }
        let base = try await Git(directory: repo).run(["rev-parse", "HEAD"])
        // Forty patches, each turning one line of a.c or b.c back and forth: an apply that takes seconds.
        var text = ""
        var changed: Set<String> = []
        for index in 1...40 {
            // Lines 3, 5, …, 11 of b.c and 4, 6, …, 12 of a.c: no patch's context is a line another one changes.
            let file = index % 2 == 0 ? "b.c" : "a.c"
            let line = 3 + (index % 10)
            let key = "\(file):\(line)"
            let was = changed.contains(key) ? "line \(line) changed" : "line \(line)"
            let now = changed.contains(key) ? "line \(line)" : "line \(line) changed"
            if changed.contains(key) { changed.remove(key) } else { changed.insert(key) }
            text += mail("[PATCH \(index)/40] step \(index)", diff: change(file, line: line, from: was, to: now))
        }
        let series = try await MboxParser.parse(text, source: "s")
        let directories = NetrigDirectories(cache: cache, data: cache + "/data")
        let pipeline = LocalKernelPipeline(directories: directories, kconfigDirectory: cache, progress: SilentProgress())
        let tree = KernelTree(repository: repo, name: "test", baseCommit: base, version: "0")
        _ = try await pipeline.workspace.worktree(for: tree)
        let apply = Task { try await pipeline.apply(series, on: tree) }
        let asker = Task {
            var asked = 0
            while !Task.isCancelled {
                _ = try await pipeline.workspace.worktree(for: tree)
                asked += 1
                try await Task.sleep(for: .milliseconds(20))
            }
            return asked
        }
        let applied = try await apply.value
        asker.cancel()
        let asked = (try? await asker.value) ?? 0
        #expect(applied.commits.count == 40, "every patch applied while the worktree was asked for \(asked) times")
    }
}
