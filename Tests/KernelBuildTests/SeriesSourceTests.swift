import Foundation
import Testing
@testable import KernelBuild
@testable import NetrigCore

/// Series from a directory of patch files and from a git range, with real git.
@Suite struct SeriesSourceTests {
    /// A repository with a base commit and three commits on top; returns (repository, base).
    func makeRepository() async throws -> (String, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-range-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let git = Git(directory: directory)
        try await git.run(["init", "--quiet"])
        let identity = ["-c", "user.name=Ada", "-c", "user.email=ada@example.org"]
        try "base\n".write(toFile: directory + "/a.c", atomically: true, encoding: .utf8)
        try await git.run(["add", "."])
        try await git.run(identity + ["commit", "--quiet", "-m", "base"])
        let base = try await git.run(["rev-parse", "HEAD"])
        for step in 1...3 {
            try "base\nstep \(step)\n".write(toFile: directory + "/a.c", atomically: true, encoding: .utf8)
            try await git.run(identity + ["commit", "--quiet", "-am", "net: step \(step)"])
        }
        return (directory, base)
    }

    @Test func aGitRangeBecomesASeriesOnItsBase() async throws {
        let (repository, base) = try await makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repository) }
        let series = try await SeriesSource.load(path: nil, range: "\(base)..HEAD", tree: repository)
        #expect(series.patches.map(\.subject) == ["net: step 1", "net: step 2", "net: step 3"])
        #expect(series.patches.map(\.index) == [1, 2, 3])
        #expect(series.baseCommit == base)
        // And it applies on that base, for real.
        let applied = try await SeriesApplier(worktree: repository).apply(series, base: base)
        #expect(applied.commits.count == 3)
    }

    @Test func aDirectoryOfFormatPatchFilesIsASeries() async throws {
        let (repository, base) = try await makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repository) }
        let directory = repository + "/out"
        try await Git(directory: repository).run(["format-patch", "--quiet", "--cover-letter", "-o", directory, "\(base)..HEAD"])
        let series = try await SeriesSource.load(path: directory, range: nil, tree: nil)
        #expect(series.patches.map(\.subject) == ["net: step 1", "net: step 2", "net: step 3"])
    }

    @Test func handMadeUnnumberedPatchesFollowTheFileNames() async throws {
        let (repository, base) = try await makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repository) }
        let directory = repository + "/out"
        // --no-numbered writes [PATCH] subjects; rename so that name order is the only order there is.
        try await Git(directory: repository).run(["format-patch", "--quiet", "--no-numbered", "-o", directory, "\(base)..HEAD"])
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for (index, name) in names.enumerated() {
            try FileManager.default.moveItem(atPath: directory + "/" + name, toPath: directory + "/p\(["a", "b", "c"][index]).patch")
        }
        let series = try await SeriesSource.load(path: directory, range: nil, tree: nil)
        #expect(series.patches.map(\.subject) == ["net: step 1", "net: step 2", "net: step 3"])
        let applied = try await SeriesApplier(worktree: repository).apply(series, base: base)
        #expect(applied.commits.count == 3)
    }

    @Test func badInputsNameWhatIsWrong() async throws {
        await #expect(throws: NetrigError.self) { try await SeriesSource.load(path: nil, range: "a..b", tree: nil) }
        do {
            _ = try await SeriesSource.load(path: "/nonexistent/series", range: nil, tree: nil)
            Issue.record("expected an error")
        } catch let error as NetrigError {
            #expect(error.subject == "/nonexistent/series")
            #expect(error.isCode(.seriesUnreadable))
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-empty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        do {
            _ = try await SeriesSource.load(path: empty, range: nil, tree: nil)
            Issue.record("expected an error")
        } catch let error as NetrigError {
            #expect(error.message.contains("no .patch files"))
        }
    }
}
