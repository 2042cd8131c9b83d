import Crypto
import Digests
import NetrigCore

/// Orders and classifies the messages `MailIntake` read into a `Series`: patches, cover letters and
/// replies; the revision to test when the mbox holds several (v1, v2, ...); the trailers reviewers gave in
/// replies (as b4 collects them); the `base-commit:` and `prerequisite-patch-id:` trailers. A missing or
/// duplicated patch number is an error naming the revision and number.
public enum SeriesAssembler {
    /// `revision`: the one to test (nil: the newest). `numberByPosition`: messages without a number in
    /// their subject take their position (hand-made `.patch` files in a directory, in name order).
    public static func assemble(_ messages: [MailMessage], source: String, revision wanted: Int? = nil,
                                numberByPosition: Bool = false) throws -> Series {
        guard !messages.isEmpty else {
            throw error(source, "no mail messages found: an mbox starts each message with a 'From ' line, as git format-patch writes it")
        }
        var patches: [Candidate] = []
        var covers: [(revision: Int, prefix: SubjectPrefix, message: MailMessage)] = []
        var replies: [MailMessage] = []
        for (number, message) in messages.enumerated() {
            guard !message.subject.isEmpty || !message.patch.isEmpty else {
                throw error(source, "no mail messages found: message \(number + 1) has neither a Subject header nor a patch")
            }
            let prefix = SubjectPrefix(message.subject)
            if prefix.isReply {
                replies.append(message)
            } else if prefix.number == 0 || !Self.hasDiff(message.patch) {
                covers.append((prefix.revision, prefix, message))
            } else {
                patches.append(Candidate(prefix: prefix, message: message))
            }
        }
        guard !patches.isEmpty else {
            throw error(source, "no patches found: no message carries a diff (only a cover letter or replies, or not a patch mbox)")
        }
        let revisions = Set(patches.map(\.prefix.revision)).sorted()
        var notes: [String] = []
        let revision: Int
        if let wanted {
            guard revisions.contains(wanted) else {
                throw NetrigError(blame: .usage, subject: "--revision \(wanted)",
                                  message: "\(source) holds no v\(wanted) patches; it holds " + revisions.map { "v\($0)" }.joined(separator: ", "),
                                  code: .seriesUnreadable)
            }
            revision = wanted
        } else {
            revision = revisions.last!
        }
        if revisions.count > 1 {
            notes.append("the mbox holds revisions " + revisions.map { "v\($0)" }.joined(separator: ", ")
                         + "; testing v\(revision)" + (wanted == nil ? " (the newest; --revision N chooses)" : ""))
        }
        let label = revisions.count > 1 || revision > 1 ? "v\(revision) " : ""
        var chosen = patches.filter { $0.prefix.revision == revision }
        // The same patch sent twice (a RESEND, or two copies in a saved thread) counts once.
        var unique: [Candidate] = []
        for candidate in chosen where !unique.contains(where: { $0.prefix.number == candidate.prefix.number && $0.diffHash == candidate.diffHash }) {
            unique.append(candidate)
        }
        chosen = unique
        if numberByPosition, chosen.count > 1, chosen.allSatisfy({ $0.prefix.number == nil }) {
            for index in chosen.indices {
                chosen[index].prefix.number = index + 1
                chosen[index].prefix.total = chosen.count
            }
        }
        let total = chosen.compactMap(\.prefix.total).max() ?? chosen.count
        if chosen.count > 1 || total > 1 {
            var seen: [Int: String] = [:]
            for entry in chosen {
                guard let number = entry.prefix.number else {
                    throw error(source, "\(label)patch '\(entry.prefix.title)' has no number in its subject, but the series has \(chosen.count) patches")
                }
                if let other = seen[number] {
                    throw error(source, "\(label)patch \(number)/\(total) appears twice, with different diffs: '\(other)' and '\(entry.prefix.title)'")
                }
                seen[number] = entry.prefix.title
            }
            let missing = (1...total).filter { seen[$0] == nil }
            if !missing.isEmpty {
                let list = missing.map { "\(label)\($0)/\(total)" }.joined(separator: ", ")
                throw error(source, "the series is incomplete: patch\(missing.count == 1 ? "" : "es") \(list) \(missing.count == 1 ? "is" : "are") missing (found "
                            + seen.keys.sorted().map(String.init).joined(separator: ", ") + ")")
            }
            if let extra = seen.keys.first(where: { $0 > total }) {
                throw error(source, "\(label)patch \(extra) is numbered beyond the series length \(total)")
            }
        }
        chosen.sort { ($0.prefix.number ?? 1) < ($1.prefix.number ?? 1) }
        let cover = covers.first { $0.revision == revision } ?? (revisions.count == 1 ? covers.first : nil)

        // Trailers from replies: each reply belongs to the patch (or cover letter) its thread leads to.
        var patchOfID: [String: Int] = [:]
        for (index, entry) in chosen.enumerated() { if let id = entry.message.messageID { patchOfID[id] = index } }
        let coverID = cover?.message.messageID
        var parentOfReply: [String: String] = [:]
        for reply in replies { if let id = reply.messageID, let parent = reply.inReplyTo ?? reply.references.last { parentOfReply[id] = parent } }
        func target(of reply: MailMessage) -> [Int] {
            var chain = [reply.inReplyTo].compactMap { $0 } + reply.references.reversed()
            var visited: Set<String> = []
            while let id = chain.first {
                chain.removeFirst()
                guard visited.insert(id).inserted else { continue }
                if let index = patchOfID[id] { return [index] }
                if id == coverID { return Array(chosen.indices) }
                if let parent = parentOfReply[id] { chain.insert(parent, at: 0) }
            }
            // A reply whose client lost the thread: its subject still says which patch it answers.
            let prefix = SubjectPrefix(reply.subject)
            guard prefix.revision == revision, let number = prefix.number else { return [] }
            if number == 0 { return Array(chosen.indices) }
            return chosen.indices.filter { chosen[$0].prefix.number == number }
        }
        var trailers = Array(repeating: [Trailer](), count: chosen.count)
        var collected = 0
        for reply in replies {
            let given = Self.trailers(in: reply.body, from: reply.author)
            guard !given.isEmpty else { continue }
            for index in target(of: reply) {
                for trailer in given where !trailers[index].contains(trailer)
                    && !chosen[index].message.body.split(separator: "\n").contains(where: { $0.trimmingWhitespace == trailer.line }) {
                    trailers[index].append(trailer)
                    collected += 1
                }
            }
        }
        if !replies.isEmpty {
            notes.append("\(replies.count) repl\(replies.count == 1 ? "y" : "ies") read: \(collected) trailer(s) collected for \(label)patches")
        }

        let all = chosen.map(\.message) + [cover?.message].compactMap { $0 }
        let baseCommit = all.lazy.compactMap { Self.trailerValue("base-commit:", in: $0.body + "\n" + $0.patch) }.first
        var prerequisites: [String] = []
        for message in all {
            for line in (message.body + "\n" + message.patch).split(separator: "\n") where line.hasPrefix("prerequisite-patch-id:") {
                let id = line.dropFirst("prerequisite-patch-id:".count).trimmingWhitespace
                if !id.isEmpty, !prerequisites.contains(id) { prerequisites.append(id) }
            }
        }
        let built = chosen.enumerated().map { index, entry in
            Patch(index: entry.prefix.number ?? 1, total: total, subject: entry.prefix.title, author: entry.message.author,
                  mail: entry.message.raw, diff: entry.message.patch, diffHash: entry.diffHash,
                  messageID: entry.message.messageID, trailers: trailers[index])
        }
        return Series(title: cover?.prefix.title ?? built[0].subject, revision: revision, baseCommit: baseCommit, patches: built,
                      source: source, prerequisitePatchIDs: prerequisites, intakeNotes: notes, revisions: revisions)
    }

    struct Candidate {
        var prefix: SubjectPrefix
        var message: MailMessage
        /// Hashed once: the duplicate check compares every pair.
        let diffHash: String

        init(prefix: SubjectPrefix, message: MailMessage) {
            self.prefix = prefix
            self.message = message
            diffHash = SHA256.hex(SeriesAssembler.diffPart(message.patch))
        }
    }

    static func error(_ source: String, _ message: String) -> NetrigError {
        NetrigError(blame: .series, subject: source, message: message, code: .seriesUnreadable)
    }

    /// A patch part that changes files: a git diff, a traditional diff, or a binary patch.
    static func hasDiff(_ patch: String) -> Bool {
        for line in patch.split(separator: "\n") {
            if line.hasPrefix("diff --git ") || line.hasPrefix("+++ ") || line.hasPrefix("GIT binary patch") { return true }
        }
        return false
    }

    /// Review trailers in a reply: unquoted `Something-by: Name <addr>` lines (and `Fixes:`), before the
    /// signature, as b4 collects them.
    static func trailers(in body: String, from author: String) -> [Trailer] {
        var found: [Trailer] = []
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line == "-- " { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon]
            let value = line[line.index(after: colon)...].trimmingWhitespace
            guard !value.isEmpty, name.first?.isUppercase == true, name.allSatisfy({ $0.isLetter || $0 == "-" }),
                  name.hasSuffix("-by") || name == "Fixes" else { continue }
            let trailer = Trailer(name: String(name), value: value, givenBy: author)
            if !found.contains(trailer) { found.append(trailer) }
        }
        return found
    }

    static func trailerValue(_ key: String, in text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let value = line.dropFirst(key.count).trimmingWhitespace
            if value.count >= 7, value.allSatisfy(\.isHexDigit) { return value }
        }
        return nil
    }

    /// From the first `diff --git` to the signature separator: what the patch changes.
    static func diffPart(_ patch: String) -> String {
        let lines = patch.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("diff --git ") }) else { return patch }
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
    /// `Re: [PATCH ...]` (or a translated `Aw:`/`Sv:`): a reply, not a patch.
    var isReply = false

    init(_ subject: String) {
        var rest = Substring(subject.trimmingWhitespace)
        let replyPrefixes = ["re:", "aw:", "sv:", "antw:"]
        while let reply = replyPrefixes.first(where: { rest.lowercased().hasPrefix($0) }) {
            isReply = true
            rest = rest.dropFirst(reply.count).drop { $0 == " " }
        }
        var tags: [Substring] = []
        while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            tags.append(contentsOf: rest[rest.index(after: rest.startIndex)..<close].split(separator: " "))
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        }
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
