import NetrigCore

/// Parses an mbox as `git format-patch --stdout` and b4 write it into a `Series`.
///
/// Handles a cover letter (`0/N`, or a message without a diff), `[PATCH vN m/n]` and
/// `[RFC PATCH net-next vN m/n]` prefixes, folded subjects, patches out of order, and the
/// `base-commit:` trailer. A missing or duplicated patch number is an error naming the number.
public enum MboxParser {
    public static func parse(_ text: String, source: String) throws -> Series {
        let messages = splitMessages(transportLineEndingsRemoved(text))
        guard !messages.isEmpty else {
            throw error(source, "no mail messages found: an mbox starts each message with a 'From ' line, as git format-patch writes it")
        }
        var patches: [(number: Int?, total: Int?, revision: Int, patch: Patch)] = []
        var coverTitle: String?
        var baseCommit: String?
        for message in messages {
            let (headers, body) = splitHeaders(message)
            guard let rawSubject = headers["subject"] else {
                throw error(source, "a message has no Subject header")
            }
            let prefix = SubjectPrefix(rawSubject)
            if let base = baseCommitTrailer(body) { baseCommit = base }
            let hasDiff = body.contains("\ndiff --git ") || body.hasPrefix("diff --git ")
            if prefix.number == 0 || !hasDiff {
                coverTitle = coverTitle ?? prefix.title
                continue
            }
            let patch = Patch(index: prefix.number ?? 1, total: prefix.total ?? 1, subject: prefix.title,
                              author: headers["from"] ?? "", mail: message, diffHash: SHA256.hex(diffPart(body)))
            patches.append((prefix.number, prefix.total, prefix.revision, patch))
        }
        guard !patches.isEmpty else {
            throw error(source, "no patches found: no message carries a diff (only a cover letter, or not a patch mbox)")
        }
        let total = patches.compactMap(\.total).max() ?? patches.count
        if patches.count > 1 || total > 1 {
            var seen: [Int: String] = [:]
            for entry in patches {
                guard let number = entry.number else {
                    throw error(source, "patch '\(entry.patch.subject)' has no number in its subject, but the series has \(patches.count) patches")
                }
                if let other = seen[number] {
                    throw error(source, "patch \(number)/\(total) appears twice: '\(other)' and '\(entry.patch.subject)'")
                }
                seen[number] = entry.patch.subject
            }
            let missing = (1...total).filter { seen[$0] == nil }
            if !missing.isEmpty {
                let list = missing.map { "\($0)/\(total)" }.joined(separator: ", ")
                throw error(source, "the series is incomplete: patch \(list) missing (found \(seen.keys.sorted().map(String.init).joined(separator: ", ")))")
            }
            if let extra = seen.keys.first(where: { $0 > total }) {
                throw error(source, "patch \(extra) is numbered beyond the series length \(total)")
            }
        }
        let ordered = patches.sorted { ($0.number ?? 1) < ($1.number ?? 1) }.map { entry -> Patch in
            var patch = entry.patch
            patch.total = total
            return patch
        }
        return Series(title: coverTitle ?? ordered[0].subject, revision: patches.map(\.revision).max() ?? 1,
                      baseCommit: baseCommit, patches: ordered, source: source)
    }

    /// An mbox saved with CRLF line endings (its first line ends in one, so its headers do too): the CRs
    /// belong to the transport, not to the patches, and go. A CR inside an LF mbox is content (a patch to a
    /// file with CRLF lines) and stays: the patches are applied with `git am --keep-cr`.
    static func transportLineEndingsRemoved(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")), newline > 0, bytes[newline - 1] == UInt8(ascii: "\r") else {
            return text
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() where !(byte == UInt8(ascii: "\r") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n")) {
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func error(_ source: String, _ message: String) -> NetrigError {
        NetrigError(phase: .applySeries, blame: .series, subject: source, message: message)
    }

    /// Splits on mbox separator lines (`From <anything>` at the start of a line, after a blank line or
    /// at the top).
    static func splitMessages(_ text: String) -> [String] {
        var messages: [String] = []
        var current: [Substring] = []
        var previousBlank = true
        var started = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("From "), previousBlank, looksLikeSeparator(line) {
                if started { messages.append(current.joined(separator: "\n")) }
                current = []
                started = true
            } else if started {
                current.append(line)
            }
            previousBlank = line.trimmingWhitespace.isEmpty
        }
        if started { messages.append(current.joined(separator: "\n")) }
        return messages.filter { !$0.trimmingWhitespace.isEmpty }
    }

    /// `From 1a2b... Mon Sep 17 00:00:00 2001` or `From user@host Tue ...`: two words at least.
    private static func looksLikeSeparator(_ line: Substring) -> Bool {
        line.split(separator: " ").count >= 3
    }

    /// Header names lowercased; folded header lines joined.
    static func splitHeaders(_ message: String) -> (headers: [String: String], body: String) {
        var headers: [String: String] = [:]
        var lastKey: String?
        let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            if line.trimmingWhitespace.isEmpty { break }
            if line.first == " " || line.first == "\t", let key = lastKey {
                headers[key, default: ""] += " " + line.trimmingWhitespace
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].lowercased()
            headers[key] = String(line[line.index(after: colon)...]).trimmingWhitespace
            lastKey = key
        }
        return (headers, lines[index...].joined(separator: "\n"))
    }

    static func baseCommitTrailer(_ body: String) -> String? {
        for line in body.split(separator: "\n") where line.hasPrefix("base-commit:") {
            let value = line.dropFirst("base-commit:".count).trimmingWhitespace
            if value.count >= 7, value.allSatisfy(\.isHexDigit) { return value }
        }
        return nil
    }

    /// From the first `diff --git` to the signature separator: what the patch changes.
    static func diffPart(_ body: String) -> String {
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("diff --git ") }) else { return body }
        let end = lines[start...].firstIndex(where: { $0 == "-- " }) ?? lines.endIndex
        return lines[start..<end].joined(separator: "\n")
    }
}

/// The bracketed prefixes of a patch subject: `[RFC PATCH net-next v3 2/5] page_pool: ...`.
struct SubjectPrefix {
    var title: String
    var number: Int?
    var total: Int?
    var revision: Int = 1

    init(_ subject: String) {
        var rest = Substring(subject.trimmingWhitespace)
        var tags: [Substring] = []
        while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            tags.append(contentsOf: rest[rest.index(after: rest.startIndex)..<close].split(separator: " "))
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        }
        if rest.lowercased().hasPrefix("re:") { rest = rest.dropFirst(3).drop { $0 == " " } }
        title = String(rest)
        for tag in tags {
            let parts = tag.split(separator: "/")
            if parts.count == 2, let m = Int(parts[0]), let n = Int(parts[1]) {
                number = m
                total = n
            } else if tag.count > 1, tag.first == "v" || tag.first == "V", let v = Int(tag.dropFirst()) {
                revision = v
            }
        }
    }
}
