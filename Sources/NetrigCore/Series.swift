import Foundation

/// A trailer a reviewer gave a patch in a reply on the list (`Reviewed-by: Name <addr>`), as b4 collects it.
public struct Trailer: Sendable, Codable, Equatable, Hashable {
    /// `Reviewed-by`, `Acked-by`, `Tested-by`, ...
    public var name: String
    /// What follows the colon: usually `Name <address>`.
    public var value: String
    /// The `From:` of the reply that carried it.
    public var givenBy: String

    public init(name: String, value: String, givenBy: String) {
        self.name = name
        self.value = value
        self.givenBy = givenBy
    }

    public var line: String { "\(name): \(value)" }
}

/// One patch of a series, as read from its mail.
public struct Patch: Sendable, Codable, Equatable {
    /// 1-based position in the series.
    public var index: Int
    /// The series length the patch claims (`[PATCH 2/3]` gives 3); 1 for a lone patch.
    public var total: Int
    /// Subject with the `[PATCH ...]` prefix removed, decoded (RFC 2047) as `git mailinfo` decodes it.
    public var subject: String
    public var author: String
    /// The message exactly as it arrived (one message of the mbox, as `git mailsplit` cut it): these bytes
    /// are what `git am` is given.
    public var mail: Data
    /// The patch as `git mailinfo` decoded it (quoted-printable, base64 undone): what git applies. For
    /// reports and for finding a hunk; nil for patches stored by an older netrig.
    public var diff: String?
    /// SHA-256 of the diff part: the same change hashes the same whatever its mail headers and encoding.
    public var diffHash: String
    /// Its `Message-ID`, without the angle brackets; nil when the mail has none.
    public var messageID: String?
    /// Trailers given in replies to it (or to the cover letter), in the order they came.
    public var trailers: [Trailer]

    public init(index: Int, total: Int, subject: String, author: String, mail: Data, diff: String? = nil, diffHash: String,
                messageID: String? = nil, trailers: [Trailer] = []) {
        self.index = index
        self.total = total
        self.subject = subject
        self.author = author
        self.mail = mail
        self.diff = diff
        self.diffHash = diffHash
        self.messageID = messageID
        self.trailers = trailers
    }

    public init(index: Int, total: Int, subject: String, author: String, mail: String, diffHash: String) {
        self.init(index: index, total: total, subject: subject, author: author, mail: Data(mail.utf8), diffHash: diffHash)
    }

    /// The message as text (bytes that are not UTF-8 shown as U+FFFD): for reports, never for `git am`.
    public var mailText: String { String(decoding: mail, as: UTF8.self) }

    /// What `git apply` reads and a hunk is found in: the decoded diff (the whole message for a patch
    /// stored before netrig kept it).
    public var decodedDiff: String { diff ?? mailText }

    /// "patch 2/3 'page_pool: ...'": how errors name a patch.
    public var label: String { "patch \(index)/\(total) '\(subject)'" }

    enum CodingKeys: String, CodingKey { case index, total, subject, author, mail, mailBytes, diff, diffHash, messageID, trailers }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        index = try c.decode(Int.self, forKey: .index)
        total = try c.decode(Int.self, forKey: .total)
        subject = try c.decode(String.self, forKey: .subject)
        author = try c.decode(String.self, forKey: .author)
        // Stored as text while it is UTF-8 (readable in the store), as base64 bytes otherwise.
        if let bytes = try c.decodeIfPresent(Data.self, forKey: .mailBytes) {
            mail = bytes
        } else {
            mail = Data(try c.decode(String.self, forKey: .mail).utf8)
        }
        diff = try c.decodeIfPresent(String.self, forKey: .diff)
        diffHash = try c.decode(String.self, forKey: .diffHash)
        messageID = try c.decodeIfPresent(String.self, forKey: .messageID)
        trailers = try c.decodeIfPresent([Trailer].self, forKey: .trailers) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(total, forKey: .total)
        try c.encode(subject, forKey: .subject)
        try c.encode(author, forKey: .author)
        if let text = String(data: mail, encoding: .utf8) {
            try c.encode(text, forKey: .mail)
        } else {
            try c.encode(mail, forKey: .mailBytes)
        }
        try c.encodeIfPresent(diff, forKey: .diff)
        try c.encode(diffHash, forKey: .diffHash)
        try c.encodeIfPresent(messageID, forKey: .messageID)
        if !trailers.isEmpty { try c.encode(trailers, forKey: .trailers) }
    }
}

/// A patch series: the patches in order, plus what the cover letter and trailers say.
public struct Series: Sendable, Codable, Equatable {
    /// The cover letter's subject, or the first patch's when there is none.
    public var title: String
    /// Revision from `[PATCH v3 ...]`, 1 when absent.
    public var revision: Int
    /// Every revision the mbox held (a saved thread can hold v1, v2 and v3); `revision` is the one tested.
    public var revisions: [Int]
    /// `base-commit:` trailer as b4 and `git format-patch --base` write it.
    public var baseCommit: String?
    /// `prerequisite-patch-id:` trailers: patches the series needs that are not in it (format-patch --base).
    public var prerequisitePatchIDs: [String]
    public var patches: [Patch]
    /// Where the series came from (a path), for reproducers.
    public var source: String
    /// What reading the mail decided, in words: which revision of several, replies read, trailers found.
    public var intakeNotes: [String]

    public init(title: String, revision: Int, baseCommit: String?, patches: [Patch], source: String,
                prerequisitePatchIDs: [String] = [], intakeNotes: [String] = [], revisions: [Int]? = nil) {
        self.title = title
        self.revision = revision
        self.revisions = revisions ?? [revision]
        self.baseCommit = baseCommit
        self.patches = patches
        self.source = source
        self.prerequisitePatchIDs = prerequisitePatchIDs
        self.intakeNotes = intakeNotes
    }

    enum CodingKeys: String, CodingKey { case title, revision, revisions, baseCommit, prerequisitePatchIDs, patches, source, intakeNotes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decode(String.self, forKey: .title)
        revision = try c.decode(Int.self, forKey: .revision)
        revisions = try c.decodeIfPresent([Int].self, forKey: .revisions) ?? [revision]
        baseCommit = try c.decodeIfPresent(String.self, forKey: .baseCommit)
        prerequisitePatchIDs = try c.decodeIfPresent([String].self, forKey: .prerequisitePatchIDs) ?? []
        patches = try c.decode([Patch].self, forKey: .patches)
        source = try c.decode(String.self, forKey: .source)
        intakeNotes = try c.decodeIfPresent([String].self, forKey: .intakeNotes) ?? []
    }
}

/// The result of applying a series on its base: one commit per patch, in a worktree netrig owns.
public struct AppliedSeries: Sendable, Codable, Equatable {
    public var baseCommit: String
    /// Commit ids after each patch, same order as the series.
    public var commits: [String]
    public var tipCommit: String { commits.last ?? baseCommit }

    public init(baseCommit: String, commits: [String]) {
        self.baseCommit = baseCommit
        self.commits = commits
    }
}
