import Foundation
import NetrigCore

/// Where a series comes from: an mbox file (git format-patch, b4), a directory of `.patch` files, or a
/// git range in a local tree (`A..B`, made into an mbox with `git format-patch`).
public enum SeriesSource {
    /// `path` is an mbox file or a directory; `range` needs `tree`. A range's first end is the base
    /// unless the series says otherwise.
    public static func load(path: String?, range: String?, tree: String?) async throws -> Series {
        if let range {
            guard path == nil else { throw usage(range, "give --series or --range, not both") }
            guard let tree else { throw usage(range, "--range needs --tree: the git tree the commits are in") }
            return try await fromRange(range, tree: tree)
        }
        guard let path else { throw usage("--series", "no series given") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NetrigError(phase: .applySeries, blame: .usage, subject: path, message: "no such series file or directory")
        }
        if isDirectory.boolValue { return try fromDirectory(path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NetrigError(phase: .applySeries, blame: .usage, subject: path, message: "cannot read the series file")
        }
        return try MboxParser.parse(String(decoding: data, as: UTF8.self), source: path)
    }

    /// Every `*.patch` file (and `*.diff`, `*.eml`) in name order, as `git format-patch -o` writes them.
    /// Numbered subjects ([PATCH 2/5]) decide the order; unnumbered ones ([PATCH]) follow the file names.
    static func fromDirectory(_ directory: String) throws -> Series {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { name in [".patch", ".diff", ".eml", ".mbox"].contains { name.hasSuffix($0) } }
            .sorted()
        guard !names.isEmpty else {
            throw NetrigError(phase: .applySeries, blame: .usage, subject: directory, message: "no .patch files in the directory")
        }
        var text = ""
        var unnumbered = 0
        var messages: [(name: String, text: String)] = []
        for name in names {
            var message = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
            if !message.hasPrefix("From ") { message = "From netrig Mon Sep 17 00:00:00 2001\n" + message }
            messages.append((name, message))
        }
        // Hand-made patches without numbers: number them in file order so the mbox parser sees a series.
        let patchMessages = messages.filter { $0.text.contains("\ndiff --git ") }
        let numbered = patchMessages.filter { message in
            message.text.split(separator: "\n").first { $0.lowercased().hasPrefix("subject:") }
                .map { SubjectPrefix(String($0.dropFirst("subject:".count))).number != nil } ?? false
        }
        for (name, message) in messages {
            var body = message
            if numbered.isEmpty, patchMessages.count > 1, patchMessages.contains(where: { $0.name == name }) {
                unnumbered += 1
                body = renumber(body, number: unnumbered, total: patchMessages.count)
            }
            text += body.hasSuffix("\n") ? body + "\n" : body + "\n\n"
        }
        return try MboxParser.parse(text, source: directory)
    }

    /// `Subject: [PATCH] x` → `Subject: [PATCH n/total] x`; a subject without a tag gets one.
    static func renumber(_ message: String, number: Int, total: Int) -> String {
        var lines = message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let index = lines.firstIndex(where: { $0.lowercased().hasPrefix("subject:") }) else { return message }
        let subject = lines[index].dropFirst("subject:".count).trimmingWhitespace
        if subject.hasPrefix("["), let close = subject.firstIndex(of: "]") {
            let tag = subject[subject.index(after: subject.startIndex)..<close]
            lines[index] = "Subject: [\(tag) \(number)/\(total)]" + subject[subject.index(after: close)...]
        } else {
            lines[index] = "Subject: [PATCH \(number)/\(total)] " + subject
        }
        return lines.joined(separator: "\n")
    }

    /// `git format-patch A..B` in the user's tree; the series' base is A.
    static func fromRange(_ range: String, tree: String) async throws -> Series {
        let ends = range.components(separatedBy: "..")
        guard ends.count == 2, !ends[0].isEmpty, !ends[1].isEmpty, !range.contains("...") else {
            throw usage(range, "a range is BASE..TIP, e.g. net-next/main..my-series")
        }
        let git = Git(directory: tree)
        let base = try await git.run(["rev-parse", "--verify", ends[0] + "^{commit}"], phase: .applySeries)
        let count = try await git.run(["rev-list", "--count", "--no-merges", range], phase: .applySeries)
        guard let number = Int(count), number > 0 else { throw usage(range, "the range holds no commits") }
        // Untrimmed: the last patch's final newline belongs to its diff.
        let formatted = try await git.tryRun(["format-patch", "--stdout", "--no-signature", "--no-color", "--numbered",
                                              "--base=" + base, range])
        guard formatted.succeeded else {
            throw NetrigError(phase: .applySeries, blame: .usage, subject: range, message: "git format-patch failed",
                              details: formatted.standardError.lastLines(4))
        }
        var series = try MboxParser.parse(formatted.standardOutput, source: "\(tree) \(range)")
        series.baseCommit = base
        return series
    }

    static func usage(_ subject: String, _ message: String) -> NetrigError {
        NetrigError(phase: .applySeries, blame: .usage, subject: subject, message: message)
    }
}
