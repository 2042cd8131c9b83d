import Foundation
import NetrigCore

/// Applies a series with `git am`, one patch at a time, so a failure names its patch, file and hunk and
/// the worktree keeps the patches before it (at `refs/netrig/applied`) for inspection.
struct SeriesApplier: Sendable {
    var worktree: String

    func apply(_ series: Series, base: String) async throws -> AppliedSeries {
        let git = Git(directory: worktree)
        try await checkout(base, in: git)
        var commits: [String] = []
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-am-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for patch in series.patches {
            let file = scratch + "/\(patch.index).patch"
            try patch.mail.write(toFile: file, atomically: true, encoding: .utf8)
            let am = try await git.tryRun(["am", "--keep-cr", "--quiet", file])
            if !am.succeeded {
                let check = try await git.tryRun(["apply", "--check", "--verbose", file])
                _ = try await git.tryRun(["am", "--abort"])
                let head = try await git.run(["rev-parse", "HEAD"], phase: .applySeries)
                try await git.run(["update-ref", "refs/netrig/applied", head], phase: .applySeries)
                throw failure(patch: patch, amOutput: am.standardError + am.standardOutput,
                              checkOutput: check.standardError, keptAt: head, applied: commits.count)
            }
            commits.append(try await git.run(["rev-parse", "HEAD"], phase: .applySeries))
        }
        try await git.run(["update-ref", "refs/netrig/applied", commits.last ?? base], phase: .applySeries)
        return AppliedSeries(baseCommit: base, commits: commits)
    }

    func checkout(_ commit: String, in git: Git) async throws {
        _ = try await git.tryRun(["am", "--abort"])
        try await git.run(["checkout", "--quiet", "--detach", "--force", commit], phase: .applySeries)
        try await git.run(["clean", "-fdxq"], phase: .applySeries)
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
            if let hunk = Self.hunk(in: patch.mail, file: location.file, oldStart: location.line) {
                details.append("hunk: \(hunk)")
            }
        }
        details += lines.filter { $0.hasPrefix("error:") && !$0.hasPrefix("error: patch failed") }.prefix(4)
        details.append("the \(applied) patch(es) before it are applied at \(keptAt.prefix(12)) (refs/netrig/applied)")
        return NetrigError(phase: .applySeries, blame: .series, subject: patch.label,
                           message: "does not apply", details: details, patch: patch.index)
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
