import Foundation
import HostCommands
import NetrigCore

/// Where a series comes from: an mbox file (git format-patch, b4), a directory of `.patch` files, or a
/// git range in a local tree (`A..B`, made into an mbox with `git format-patch`).
public enum SeriesSource {
    /// `path` is an mbox file, a maildir or a directory of `.patch` files; `range` needs `tree`. A range's
    /// first end is the base unless the series says otherwise. `revision`: the one to test when the mbox
    /// holds several (nil: the newest).
    public static func load(path: String?, range: String?, tree: String?, revision: Int? = nil,
                            runner: any CommandRunner = HostCommandRunner()) async throws -> Series {
        if let range {
            guard path == nil else { throw usage(range, "give --series or --range, not both") }
            guard let tree else { throw usage(range, "--range needs --tree: the git tree the commits are in") }
            if let named = NamedTree.named(tree) {
                throw usage(range, "--range needs the path of a git tree with the commits; \(named.name) is Debian's source as one commit")
            }
            return try await fromRange(range, tree: tree, runner: runner)
        }
        guard let path else { throw usage("--series", "no series given") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NetrigError(blame: .usage, subject: path, message: "no such series file or directory", code: .seriesUnreadable)
        }
        if isDirectory.boolValue { return try await fromDirectory(path, revision: revision, runner: runner) }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw NetrigError(blame: .usage, subject: path, message: "cannot read the series file", code: .seriesUnreadable)
        }
        return try SeriesAssembler.assemble(try await MailIntake.read([path], runner: runner), source: path, revision: revision)
    }

    /// A maildir (`cur/`, `new/`), or every `*.patch` file (and `*.diff`, `*.eml`, `*.mbox`) in name order,
    /// as `git format-patch -o` writes them, whatever their encoding. Numbered subjects ([PATCH 2/5])
    /// decide the order; when none is numbered, the file names do.
    static func fromDirectory(_ directory: String, revision: Int?, runner: any CommandRunner) async throws -> Series {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if ["cur", "new"].contains(where: { fm.fileExists(atPath: directory + "/" + $0, isDirectory: &isDirectory) && isDirectory.boolValue }) {
            return try SeriesAssembler.assemble(try await MailIntake.read([directory], runner: runner), source: directory, revision: revision)
        }
        let names = try fm.contentsOfDirectory(atPath: directory)
            .filter { name in [".patch", ".diff", ".eml", ".mbox"].contains { name.hasSuffix($0) } }
            .sorted()
        guard !names.isEmpty else {
            throw NetrigError(blame: .usage, subject: directory, message: "no .patch files in the directory", code: .seriesUnreadable)
        }
        let messages = try await MailIntake.read(names.map { directory + "/" + $0 }, runner: runner)
        return try SeriesAssembler.assemble(messages, source: directory, revision: revision, numberByPosition: true)
    }

    /// `git format-patch A..B` in the user's tree; the series' base is A.
    static func fromRange(_ range: String, tree: String, runner: any CommandRunner) async throws -> Series {
        let ends = range.components(separatedBy: "..")
        guard ends.count == 2, !ends[0].isEmpty, !ends[1].isEmpty, !range.contains("...") else {
            throw usage(range, "a range is BASE..TIP, e.g. net-next/main..my-series")
        }
        let git = Git(directory: tree, runner: runner)
        let base = try await git.run(["rev-parse", "--verify", ends[0] + "^{commit}"])
        let count = try await git.run(["rev-list", "--count", "--no-merges", range])
        guard let number = Int(count), number > 0 else { throw usage(range, "the range holds no commits") }
        // Files git writes itself (-o), read as bytes: a commit with text that is not UTF-8 stays as it is.
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("netrig-range-\(getpid())-\(UUID().uuidString.prefix(8))").path
        defer { try? fm.removeItem(atPath: scratch) }
        let formatted = try await git.tryRun(["format-patch", "--quiet", "-o", scratch, "--no-signature", "--no-color", "--numbered",
                                              "--base=" + base, range])
        guard formatted.succeeded else {
            throw NetrigError(blame: .usage, subject: range, message: "git format-patch failed",
                              details: formatted.standardError.lastLines(4), code: .seriesUnreadable)
        }
        let files = try fm.contentsOfDirectory(atPath: scratch).sorted().map { scratch + "/" + $0 }
        var series = try SeriesAssembler.assemble(try await MailIntake.read(files, runner: runner), source: "\(tree) \(range)")
        series.baseCommit = base
        return series
    }

    static func usage(_ subject: String, _ message: String) -> NetrigError {
        NetrigError(blame: .usage, subject: subject, message: message, code: .seriesUnreadable)
    }
}
