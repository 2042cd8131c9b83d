import Foundation
import HostCommands
import NetrigCore

/// Applies a series with `git am`, one patch at a time, so a failure names its patch, file and hunk and
/// the worktree keeps the patches before it (at `refs/netrig/applied`) for inspection.
struct SeriesApplier: Sendable {
    var worktree: String
    var runner: any CommandRunner = HostCommandRunner()

    func apply(_ series: Series, base: String) async throws -> AppliedSeries {
        let git = Git(directory: worktree, runner: runner)
        try await checkout(base, in: git)
        var commits: [String] = []
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-am-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for patch in series.patches {
            let file = scratch + "/\(patch.index).patch"
            // The bytes as they arrived: git am decodes them itself, as it would from the list.
            try patch.mail.write(to: URL(fileURLWithPath: file))
            let am = try await git.tryRun(["am", "--keep-cr", "--quiet", file])
            if !am.succeeded {
                // git apply reads a diff, not a mail: it is given the patch as git mailinfo decoded it.
                let diffFile = scratch + "/\(patch.index).diff"
                try Data(patch.decodedDiff.utf8).write(to: URL(fileURLWithPath: diffFile))
                let check = try await git.tryRun(["apply", "--check", "--verbose", diffFile])
                _ = try await git.tryRun(["am", "--abort"])
                let head = try await git.run(["rev-parse", "HEAD"])
                try await git.run(["update-ref", "refs/netrig/applied", head])
                let rest = Array(series.patches.drop { $0.index < patch.index })
                if let applied = try await alreadyApplied(rest, on: head, git: git, scratch: scratch) {
                    throw applied
                }
                throw failure(patch: patch, amOutput: am.standardError + am.standardOutput,
                              checkOutput: check.standardError, keptAt: head, applied: commits.count)
            }
            commits.append(try await git.run(["rev-parse", "HEAD"]))
        }
        try await git.run(["update-ref", "refs/netrig/applied", commits.last ?? base])
        return AppliedSeries(baseCommit: base, commits: commits)
    }

    /// When `patches` (the one that failed and those after it) are already in the tree at `head`: they
    /// reverse-apply there, last first. The base is wrong, not the series. The worktree is reset after.
    func alreadyApplied(_ patches: [Patch], on head: String, git: Git, scratch: String) async throws -> NetrigError? {
        guard let first = patches.first, let last = patches.last else { return nil }
        var reversed = 0
        for patch in patches.reversed() {
            let file = scratch + "/\(patch.index).reverse.diff"
            try Data(patch.decodedDiff.utf8).write(to: URL(fileURLWithPath: file))
            guard try await git.tryRun(["apply", "--reverse", file]).succeeded else { break }
            reversed += 1
        }
        try await git.run(["checkout", "--quiet", "--force", head])
        try await git.run(["clean", "-fdxq"])
        guard reversed == patches.count else { return nil }
        let which = patches.count == 1 ? "\(first.label) is" : "patches \(first.index)–\(last.index) of \(last.total) are"
        return NetrigError(blame: .usage, subject: first.label,
                           message: "\(which) already applied on the base \(head.prefix(12)): every one of them reverse-applies there",
                           details: ["the base already contains the series: test it on the commit before it (--base REF), or on a tree without it"],
                           patch: first.index)
    }

    func checkout(_ commit: String, in git: Git) async throws {
        _ = try await git.tryRun(["am", "--abort"])
        try await git.run(["checkout", "--quiet", "--detach", "--force", commit])
        try await git.run(["clean", "-fdxq"])
    }

    func failure(patch: Patch, amOutput: String, checkOutput: String, keptAt: String, applied: Int) -> NetrigError {
        var details: [String] = []
        let lines = (checkOutput + "\n" + amOutput).split(separator: "\n").map(String.init)
        var location: (file: String, line: Int)?
        for line in lines where line.hasPrefix("error: patch failed: ") {
            let spec = line.dropFirst("error: patch failed: ".count)
            if let colon = spec.lastIndex(of: ":"), let number = Int(spec[spec.index(after: colon)...]) {
                location = (String(spec[..<colon]), number)
                break
            }
        }
        if let location {
            details.append("does not apply to \(location.file) at line \(location.line)")
            if let hunk = Self.hunk(in: patch.decodedDiff, file: location.file, oldStart: location.line) {
                details.append("hunk: \(hunk)")
            }
        }
        details += lines.filter { $0.hasPrefix("error:") && !$0.hasPrefix("error: patch failed") }.prefix(4)
        details.append("the \(applied) patch(es) before it are applied at \(keptAt.prefix(12)) (refs/netrig/applied)")
        return NetrigError(blame: .series, subject: patch.label,
                           message: "does not apply", details: details, patch: patch.index, code: .patchDoesNotApply)
    }

    /// The `@@ -start,len +start,len @@` header of the hunk for `file` starting at `oldStart`.
    static func hunk(in mail: String, file: String, oldStart: Int) -> String? {
        var inFile = false
        for line in mail.split(separator: "\n") {
            if line.hasPrefix("diff --git ") { inFile = line.hasSuffix(" b/" + file) }
            guard inFile, line.hasPrefix("@@ -") else { continue }
            let numbers = line.dropFirst(4).prefix { $0.isNumber }
            if Int(numbers) == oldStart { return String(line) }
        }
        return nil
    }
}
