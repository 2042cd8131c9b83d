import Foundation
import HostCommands
import NetrigCore

/// One mail message as git reads it: the bytes `git mailsplit` cut out of the mbox (what `git am` is
/// given), and what `git mailinfo` decoded from them (RFC 2047 headers, quoted-printable and base64
/// bodies, charsets).
public struct MailMessage: Sendable, Equatable {
    /// The message exactly as it arrived, as git mailsplit cut it out of the mbox (its `From ` line kept).
    public var raw: Data
    /// The subject, decoded, with its `[PATCH ...]` prefix kept (`git mailinfo -k`).
    public var subject: String
    /// `Name <address>`, decoded.
    public var author: String
    /// Message-ID, In-Reply-To and References, without angle brackets.
    public var messageID: String?
    public var inReplyTo: String?
    public var references: [String]
    /// The text before the patch: a commit message, a cover letter, or a reply.
    public var body: String
    /// The patch part, decoded: empty when the message carries none.
    public var patch: String

    public init(raw: Data, subject: String, author: String, messageID: String? = nil, inReplyTo: String? = nil,
                references: [String] = [], body: String, patch: String) {
        self.raw = raw
        self.subject = subject
        self.author = author
        self.messageID = messageID
        self.inReplyTo = inReplyTo
        self.references = references
        self.body = body
        self.patch = patch
    }
}

/// Reads mail with the tools `git am` itself uses: `git mailsplit` (mbox, mboxrd, maildir, bare
/// messages) and `git mailinfo`. netrig only orders and classifies what they return
/// (`SeriesAssembler`).
public enum MailIntake {
    /// Every message of `paths` (mbox files, maildirs, single messages), in order.
    public static func read(_ paths: [String], runner: any CommandRunner = HostCommandRunner()) async throws -> [MailMessage] {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("netrig-mail-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try fm.createDirectory(atPath: scratch + "/split", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: scratch) }
        // Each file read once: a thread as lore serves it for download (t.mbox.gz) is unpacked first (git
        // mailsplit reads no gzip), and an empty file holds no mail (git mailsplit refuses it; the
        // assembler says so). A maildir is a directory, given as it is.
        var inputs: [(path: String, data: Data?)] = []
        for (number, path) in paths.enumerated() {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            guard !isDirectory.boolValue else {
                inputs.append((path, nil))
                continue
            }
            guard let data = fm.contents(atPath: path), !data.isEmpty else { continue }
            guard data.starts(with: [0x1f, 0x8b]) else {
                inputs.append((path, data))
                continue
            }
            let target = scratch + "/unpacked-\(number).mbox"
            let gunzip = try await runner.run(HostCommand("sh", ["-c", "exec gzip -dc -- \"$1\" >\"$2\"", "sh", path, target]))
            guard gunzip.succeeded else {
                throw NetrigError(blame: .series, subject: path, message: "a gzip file that does not unpack",
                                  details: gunzip.standardError.lastLines(3), code: .seriesUnreadable)
            }
            if let unpacked = fm.contents(atPath: target), !unpacked.isEmpty { inputs.append((target, unpacked)) }
        }
        guard !inputs.isEmpty else { return [] }
        let paths = inputs.map(\.path)
        var options = ["-b", "-o" + scratch + "/split"]
        // An mbox saved with CRLF line endings (its first line ends in one): the CRs belong to the transport
        // and go, as `git am` would take them. In an LF mbox a CR is patch content (a file with CRLF lines)
        // and stays: the patches are applied with `git am --keep-cr`.
        if !Self.hasTransportCRLF(inputs[0].data ?? Data()) { options.append("--keep-cr") }
        if inputs.contains(where: { $0.data.map(Self.isMboxrd) ?? false }) { options.append("--mboxrd") }
        let split = try await runner.run(HostCommand("git", ["mailsplit"] + options + ["--"] + paths))
        guard split.succeeded else {
            throw NetrigError(blame: .series, subject: paths.joined(separator: ", "),
                              message: "no mail messages found: git mailsplit cannot read it as mail", details: split.standardError.lastLines(4),
                              code: .seriesUnreadable)
        }
        let names = try fm.contentsOfDirectory(atPath: scratch + "/split").sorted()
        var messages: [MailMessage] = []
        for name in names {
            let file = scratch + "/split/" + name
            guard let raw = fm.contents(atPath: file), !raw.isEmpty else { continue }
            let info = try await runner.run(HostCommand("sh", ["-c", "exec git mailinfo -k \"$1\" \"$2\" <\"$3\"", "sh",
                                                               scratch + "/msg", scratch + "/patch", file]))
            guard info.succeeded else {
                throw NetrigError(blame: .series, subject: paths.joined(separator: ", ") + " (message \(Int(name) ?? 0))",
                                  message: "git mailinfo cannot read the message", details: info.standardError.lastLines(4),
                                  code: .seriesUnreadable)
            }
            let fields = Self.fields(info.standardOutput)
            let headers = Self.rawHeaders(raw)
            let author = [fields["Author"], fields["Email"].map { "<\($0)>" }].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            messages.append(MailMessage(
                raw: raw, subject: fields["Subject"] ?? "", author: author,
                messageID: headers["message-id"].flatMap { Self.messageIDs($0).first },
                inReplyTo: headers["in-reply-to"].flatMap { Self.messageIDs($0).first },
                references: headers["references"].map(Self.messageIDs) ?? [],
                body: String(decoding: fm.contents(atPath: scratch + "/msg") ?? Data(), as: UTF8.self),
                patch: String(decoding: fm.contents(atPath: scratch + "/patch") ?? Data(), as: UTF8.self)))
        }
        return messages
    }

    /// The first line ends in CR LF.
    static func hasTransportCRLF(_ data: Data) -> Bool {
        guard let newline = data.firstIndex(of: UInt8(ascii: "\n")), newline > data.startIndex else { return false }
        return data[data.index(before: newline)] == UInt8(ascii: "\r")
    }

    /// An mboxrd, as public-inbox (lore) serves it: its separators are `From mboxrd@z ...`, or a body line
    /// escaped twice (`>>From `) shows the reversible quoting only mboxrd does.
    static func isMboxrd(_ data: Data) -> Bool {
        let head = String(decoding: data.prefix(64), as: UTF8.self)
        if head.hasPrefix("From mboxrd@z ") { return true }
        return data.range(of: Data("\n>>From ".utf8)) != nil
    }

    /// `git mailinfo`'s `Key: value` lines.
    static func fields(_ output: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingWhitespace
        }
        return fields
    }

    /// The raw header block (lowercased names, folded lines joined): only for Message-ID, In-Reply-To and
    /// References, which are ASCII by definition and which `git mailinfo` does not report.
    static func rawHeaders(_ raw: Data) -> [String: String] {
        let text = String(decoding: raw.prefix(64 * 1024), as: UTF8.self)
        var headers: [String: String] = [:]
        var lastKey: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line.isEmpty { break }
            if line.first == " " || line.first == "\t", let key = lastKey {
                headers[key, default: ""] += " " + line.trimmingWhitespace
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].lowercased()
            headers[key] = line[line.index(after: colon)...].trimmingWhitespace
            lastKey = key
        }
        return headers
    }

    /// `<a@b> <c@d>` → `["a@b", "c@d"]`.
    static func messageIDs(_ value: String) -> [String] {
        var ids: [String] = []
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            ids.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return ids
    }
}
