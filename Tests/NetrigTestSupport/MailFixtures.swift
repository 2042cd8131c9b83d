import Foundation
import HostCommands

/// Patch mail made the way the list gets it, by git itself (`git format-patch` with its options) and,
/// for the transfer encodings git-send-email would apply, by Python's `email` package: never by
/// hand-editing mail text. Each fixture is a series of commits on a base in a real repository.
public struct MailFixtures: Sendable {
    /// A commit of a fixture's series: its message, and the change it makes to the working tree.
    public typealias Commit = (message: String, change: @Sendable (String) throws -> Void)

    /// The repository, and its base and tip of the series branch.
    public var repository: String
    public var base: String
    public var tip: String

    let runner = HostCommandRunner()

    public init(repository: String, base: String, tip: String) {
        self.repository = repository
        self.base = base
        self.tip = tip
    }

    /// A small repository: `a.c` and `b.c` (20 lines each, a long comment in `a.c` so quoted-printable
    /// must break its lines), a base commit, and a branch of commits made by `commits`.
    public static func make(in directory: String, author: String = "Toke Høiland-Jørgensen <toke@example.org>",
                            baseMessage: String = "base", commits: [Commit]) async throws -> MailFixtures {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let lines = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let longComment = "/* " + String(repeating: "a comment long enough that quoted-printable must break it ", count: 2) + "*/\n"
        try (lines + longComment).write(toFile: directory + "/a.c", atomically: true, encoding: .utf8)
        try lines.write(toFile: directory + "/b.c", atomically: true, encoding: .utf8)
        var fixture = MailFixtures(repository: directory, base: "", tip: "")
        try await fixture.git(["init", "--quiet"])
        try await fixture.git(["add", "."])
        try await fixture.git(["commit", "--quiet", "-m", baseMessage], author: "Base <base@example.org>")
        fixture.base = try await fixture.git(["rev-parse", "HEAD"])
        for commit in commits {
            try commit.change(directory)
            try await fixture.git(["add", "-A"])
            try await fixture.git(["commit", "--quiet", "-m", commit.message], author: author)
        }
        fixture.tip = try await fixture.git(["rev-parse", "HEAD"])
        return fixture
    }

    /// A series on a big tree without checking it out: a bare clone sharing `repository`'s objects, and
    /// commits on `base` made with git's plumbing, each applying its diff to an index (`git apply
    /// --cached`) under its own message. The kernel tree is the use: the series build with netrig, and
    /// nothing is copied.
    public static func onTree(_ repository: String, base: String, in directory: String, author: String = "Ada Netmem <ada@example.org>",
                              commits: [(message: String, diff: String)]) async throws -> MailFixtures {
        var fixture = MailFixtures(repository: directory, base: base, tip: base)
        let clone = try await fixture.runner.run(HostCommand("git", ["clone", "--quiet", "--bare", "--shared", repository, directory]))
        guard clone.succeeded else { throw FixtureError("git clone --shared failed: \(clone.standardError)") }
        let index = directory + "/netrig-fixture.index"
        var parent = base
        for commit in commits {
            try await fixture.git(["read-tree", parent], index: index)
            try await fixture.git(["apply", "--cached", "-"], index: index, input: commit.diff)
            let tree = try await fixture.git(["write-tree"], index: index)
            parent = try await fixture.git(["commit-tree", tree, "-p", parent, "-m", commit.message], author: author)
        }
        try? FileManager.default.removeItem(atPath: index)
        try await fixture.git(["update-ref", "refs/heads/series", parent])
        fixture.tip = parent
        return fixture
    }

    /// The patch part of every message of an mbox (git mailsplit and git mailinfo): to make commits of
    /// the same changes under other messages.
    public static func diffs(of mbox: String) async throws -> [String] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-diffs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch + "/split", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let runner = HostCommandRunner()
        guard try await runner.run(HostCommand("git", ["mailsplit", "-o" + scratch + "/split", mbox])).succeeded else { throw FixtureError("mailsplit \(mbox)") }
        var diffs: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: scratch + "/split").sorted() {
            let info = try await runner.run(HostCommand("sh", ["-c", "git mailinfo \"$1\" \"$2\" <\"$3\"", "sh", scratch + "/msg", scratch + "/patch",
                                                               scratch + "/split/" + name]))
            guard info.succeeded else { throw FixtureError("mailinfo \(name)") }
            let patch = try String(contentsOfFile: scratch + "/patch", encoding: .utf8)
            if patch.contains("diff --git ") { diffs.append(patch) }
        }
        return diffs
    }

    /// Replaces `old` with `new` in `file` of the working tree.
    public static func edit(_ file: String, _ old: String, _ new: String) -> @Sendable (String) throws -> Void {
        { directory in
            let path = directory + "/" + file
            let text = try String(contentsOfFile: path, encoding: .utf8)
            guard text.contains(old) else { throw FixtureError("\(file) has no '\(old)'") }
            try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// `git format-patch --stdout` of the series with `options` (e.g. `--cover-letter`, `--thread`, `-v2`,
    /// `--base=...`, `--pretty=mboxrd`).
    public func formatPatch(_ options: [String], range: String? = nil) async throws -> Data {
        let result = try await runner.run(HostCommand("git", ["-C", repository, "format-patch", "--stdout"] + options
                                                      + [range ?? "\(base)..\(tip)"]))
        guard result.succeeded else { throw FixtureError("git format-patch failed: \(result.standardError)") }
        return Data(result.standardOutput.utf8)
    }

    /// Runs a Python script on the messages of an mbox, split by git mailsplit (Python's `mailbox` would
    /// split at any line starting "From ", a commit message's paragraph too): the script finds the email
    /// package's `messages` (compat32, headers as sent) and `write(message, linesep)`, which appends a
    /// message to the output mbox under a `From ` line, as git format-patch writes one, unmangled.
    public func python(_ script: String, input: Data) async throws -> Data {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-fixture-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch + "/in", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try input.write(to: URL(fileURLWithPath: scratch + "/in.mbox"))
        let split = try await runner.run(HostCommand("git", ["mailsplit", "--keep-cr", "-o" + scratch + "/in", scratch + "/in.mbox"]))
        guard split.succeeded else { throw FixtureError("git mailsplit failed: \(split.standardError)") }
        let prologue = """
        import email, os, sys
        from email import policy
        from email.generator import BytesGenerator
        messages = [email.message_from_bytes(open(os.path.join(sys.argv[1], name), 'rb').read(), policy=policy.compat32)
                    for name in sorted(os.listdir(sys.argv[1]))]
        out = open(sys.argv[2], 'wb')
        def write(message, linesep='\\n'):
            out.write(b'From fixture Mon Sep 17 00:00:00 2001' + linesep.encode())
            BytesGenerator(out, mangle_from_=False, policy=message.policy.clone(linesep=linesep)).flatten(message)
            out.write(linesep.encode())

        """
        try (prologue + script + "\nout.close()\n").write(toFile: scratch + "/fixture.py", atomically: true, encoding: .utf8)
        let result = try await runner.run(HostCommand("python3", [scratch + "/fixture.py", scratch + "/in", scratch + "/out.mbox"]))
        guard result.succeeded, let out = FileManager.default.contents(atPath: scratch + "/out.mbox") else {
            throw FixtureError("python fixture failed: \(result.standardError)")
        }
        return out
    }

    /// Every message's body re-encoded with `encoding` ("quoted-printable" or "base64"), as git-send-email
    /// `--transfer-encoding` would; `dropContentType` removes the Content-Type header too (as some list
    /// archives deliver mail: the decoder must not depend on it).
    public func transferEncoded(_ mbox: Data, _ encoding: String, dropContentType: Bool = false) async throws -> Data {
        try await python("""
        import base64, quopri
        for message in messages:
            body = message.get_payload(decode=True)
            del message['Content-Transfer-Encoding']
            if \(dropContentType ? "True" : "False"):
                del message['Content-Type']
                del message['MIME-Version']
            if '\(encoding)' == 'base64':
                encoded = base64.encodebytes(body).decode('ascii')
            else:
                encoded = quopri.encodestring(body).decode('ascii')
            message['Content-Transfer-Encoding'] = '\(encoding)'
            message.set_payload(encoded)
            write(message)
        """, input: mbox)
    }

    /// The mbox with replies added: each `(to, from, body)` answers the message whose subject contains
    /// `to`, quoting it, threaded under it with In-Reply-To and References.
    public func withReplies(_ mbox: Data, _ replies: [(to: String, from: String, body: String)]) async throws -> Data {
        let specs = replies.map { reply in
            "(\(Self.pythonString(reply.to)), \(Self.pythonString(reply.from)), \(Self.pythonString(reply.body)))"
        }.joined(separator: ", ")
        return try await python("""
        from email.message import EmailMessage
        from email.utils import make_msgid
        for message in messages:
            if message['Message-ID'] is None:
                message['Message-ID'] = make_msgid(domain='example.org')
            write(message)
        for to, sender, body in [\(specs)]:
            parent = next(m for m in messages if to in ' '.join(str(m['Subject']).split()))
            reply = EmailMessage(policy=policy.default.clone(max_line_length=998))
            reply['From'] = sender
            reply['Subject'] = 'Re: ' + ' '.join(str(parent['Subject']).split())
            reply['Message-ID'] = make_msgid(domain='example.org')
            parent_id = ' '.join(str(parent['Message-ID']).split())
            reply['In-Reply-To'] = parent_id
            reply['References'] = ' '.join((str(parent['References'] or '') + ' ' + parent_id).split())
            quoted = ''.join('> ' + line + '\\n' for line in parent.get_payload(decode=True).decode('utf-8', 'replace').splitlines()[:8])
            reply.set_content('On a day, someone wrote:\\n' + quoted + '\\n' + body + '\\n')
            messages.append(reply)
            write(reply)
        """, input: mbox)
    }

    static func pythonString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            .replacingOccurrences(of: "\n", with: "\\n") + "'"
    }

    @discardableResult
    public func git(_ arguments: [String], author: String? = nil, index: String? = nil, input: String? = nil, trim: Bool = true) async throws -> String {
        var environment = ["GIT_COMMITTER_NAME": "Fixture", "GIT_COMMITTER_EMAIL": "fixture@example.org",
                           "GIT_COMMITTER_DATE": "2026-11-30T12:00:00Z", "GIT_AUTHOR_DATE": "2026-11-30T12:00:00Z"]
        if let author, let open = author.firstIndex(of: "<") {
            environment["GIT_AUTHOR_NAME"] = author[..<open].trimmingCharacters(in: .whitespaces)
            environment["GIT_AUTHOR_EMAIL"] = String(author[author.index(after: open)...].dropLast())
        } else {
            environment["GIT_AUTHOR_NAME"] = "Fixture"
            environment["GIT_AUTHOR_EMAIL"] = "fixture@example.org"
        }
        if let index { environment["GIT_INDEX_FILE"] = index }
        let result = try await runner.run(HostCommand("git", ["-C", repository] + arguments, environment: environment), input: input)
        guard result.succeeded else { throw FixtureError("git \(arguments.joined(separator: " ")) failed: \(result.standardError)") }
        return trim ? result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) : result.standardOutput
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
