/// One patch of a series, as parsed from an mbox.
public struct Patch: Sendable, Codable, Equatable {
    /// 1-based position in the series.
    public var index: Int
    /// The series length the patch claims (`[PATCH 2/3]` gives 3); 1 for a lone patch.
    public var total: Int
    /// Subject with the `[PATCH ...]` prefix removed.
    public var subject: String
    public var author: String
    /// The whole message as `git am` takes it.
    public var mail: String
    /// SHA-256 of the diff part: the same change hashes the same whatever its mail headers.
    public var diffHash: String

    public init(index: Int, total: Int, subject: String, author: String, mail: String, diffHash: String) {
        self.index = index
        self.total = total
        self.subject = subject
        self.author = author
        self.mail = mail
        self.diffHash = diffHash
    }

    /// "patch 2/3 'page_pool: ...'": how errors name a patch.
    public var label: String { "patch \(index)/\(total) '\(subject)'" }
}

/// A patch series: the patches in order, plus what the cover letter and trailers say.
public struct Series: Sendable, Codable, Equatable {
    /// The cover letter's subject, or the first patch's when there is none.
    public var title: String
    /// Revision from `[PATCH v3 ...]`, 1 when absent.
    public var revision: Int
    /// `base-commit:` trailer as b4 and `git format-patch --base` write it.
    public var baseCommit: String?
    public var patches: [Patch]
    /// Where the series came from (a path), for reproducers.
    public var source: String

    public init(title: String, revision: Int, baseCommit: String?, patches: [Patch], source: String) {
        self.title = title
        self.revision = revision
        self.baseCommit = baseCommit
        self.patches = patches
        self.source = source
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
