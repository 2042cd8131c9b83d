import Foundation
import HostCommands
import NetrigTestSupport
import Testing
@testable import KernelBuild
@testable import NetrigCore

/// Series as the list delivers them, made by git (format-patch and its options) and Python's email
/// package, read by netrig with git mailsplit/mailinfo and applied with git am: each test asserts what
/// netrig found and that git am made exactly the commits of the original branch.
@Suite struct MailIntakeTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-mail-tests-\(UUID().uuidString.prefix(8))").path

    static let twoPatches: [MailFixtures.Commit] = [
        ("""
        page_pool: say what the ring holds

        The comment was wrong about the ring's size.

        From the datasheet of no NIC at all: the ring holds 256 entries.

        Signed-off-by: Toke Høiland-Jørgensen <toke@example.org>
        """, MailFixtures.edit("a.c", "line 3\n", "line three, with a long line that quoted-printable has to break somewhere past column 76\n")),
        ("""
        page_pool: name the fifth line

        Signed-off-by: Toke Høiland-Jørgensen <toke@example.org>
        """, MailFixtures.edit("b.c", "line 5\n", "line five\n")),
    ]

    func fixture(_ name: String, commits: [MailFixtures.Commit] = twoPatches) async throws -> MailFixtures {
        try await MailFixtures.make(in: scratch + "/" + name, commits: commits)
    }

    func read(_ mbox: Data, _ name: String = "series.mbox", revision: Int? = nil) async throws -> Series {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = scratch + "/" + name
        try mbox.write(to: URL(fileURLWithPath: path))
        return try await SeriesSource.load(path: path, range: nil, tree: nil, revision: revision)
    }

    /// Applies the series with git am on the fixture's base; true when the commits made have the original
    /// branch's tree, messages and authors.
    func appliesAsTheOriginal(_ series: Series, _ fixture: MailFixtures) async throws -> Bool {
        let applied = try await SeriesApplier(worktree: fixture.repository).apply(series, base: fixture.base)
        let git = Git(directory: fixture.repository)
        let made = try await git.run(["log", "--format=%an <%ae>%n%B", "\(fixture.base)..\(applied.tipCommit)"])
        let original = try await git.run(["log", "--format=%an <%ae>%n%B", "\(fixture.base)..\(fixture.tip)"])
        let trees = try await [applied.tipCommit, fixture.tip].asyncMap { try await git.run(["rev-parse", "\($0)^{tree}"]) }
        #expect(made == original, "commit messages and authors after git am")
        #expect(trees[0] == trees[1], "the tree after git am")
        return made == original && trees[0] == trees[1]
    }

    @Test func aFromParagraphInACommitMessageIsNotANewMessage() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("from")
        let mbox = try await fixture.formatPatch(["--cover-letter", "--thread"])
        #expect(String(decoding: mbox, as: UTF8.self).contains("\n\nFrom the datasheet of no NIC at all"), "the fixture has the paragraph")
        let series = try await read(mbox)
        #expect(series.patches.map(\.subject) == ["page_pool: say what the ring holds", "page_pool: name the fifth line"])
        #expect(series.title == "*** SUBJECT HERE ***", "format-patch's cover letter is the title")
        #expect(series.patches.allSatisfy { $0.messageID != nil })
        #expect(try await appliesAsTheOriginal(series, fixture))
    }

    @Test(arguments: ["quoted-printable", "base64"])
    func transferEncodedBodiesAreDecodedAsGitDecodesThem(_ encoding: String) async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("encoded")
        let plain = try await fixture.formatPatch([])
        let mbox = try await fixture.transferEncoded(plain, encoding, dropContentType: encoding == "quoted-printable")
        let text = String(decoding: mbox, as: UTF8.self)
        if encoding == "quoted-printable" {
            #expect(text.contains("=\n") && !text.contains("Content-Type"), "soft line breaks, no Content-Type header")
        } else {
            #expect(!text.contains("diff --git"), "the diff is base64 in the mail")
        }
        #expect(text.contains("=?UTF-8?q?Toke=20H=C3=B8iland-J=C3=B8rgensen?="), "format-patch encoded the author (RFC 2047)")
        let series = try await read(mbox)
        #expect(series.patches.count == 2)
        #expect(series.patches.allSatisfy { $0.author == "Toke Høiland-Jørgensen <toke@example.org>" }, "\(series.patches.map(\.author))")
        #expect(series.patches[0].diff?.contains("+line three, with a long line that quoted-printable has to break somewhere past column 76") == true)
        // Decoded, the change hashes as the plain mail's does.
        let plainSeries = try await read(plain, "plain.mbox")
        #expect(series.patches.map(\.diffHash) == plainSeries.patches.map(\.diffHash))
        #expect(try await appliesAsTheOriginal(series, fixture))
    }

    @Test func anMboxrdIsUnquotedOnce() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("mboxrd", commits: [("""
        page_pool: quote the datasheet

        The ring, as described
        From the datasheet, on a line of its own in a paragraph:
        >From a quoted line too.

        Signed-off-by: Ada <ada@example.org>
        """, MailFixtures.edit("a.c", "line 3\n", "line three\n"))])
        let mbox = try await fixture.formatPatch(["--pretty=mboxrd"])
        let text = String(decoding: mbox, as: UTF8.self)
        #expect(text.contains("\n>From the datasheet") && text.contains("\n>>From a quoted"), "mboxrd quoting")
        let series = try await read(mbox)
        #expect(series.patches.count == 1)
        #expect(try await appliesAsTheOriginal(series, fixture))
    }

    @Test func repliesAreNotPatchesButTheirTrailersAreCollected() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("thread")
        let sent = try await fixture.formatPatch(["--cover-letter", "--thread", "--subject-prefix=PATCH net-next"])
        let thread = try await fixture.withReplies(sent, [
            ("1/2]", "Jesper Dangaard Brouer <hawk@example.org>", "Looks right.\n\nReviewed-by: Jesper Dangaard Brouer <hawk@example.org>"),
            ("0/2]", "Ilias Apalodimas <ilias@example.org>", "For the series:\nAcked-by: Ilias Apalodimas <ilias@example.org>\n-- \nTested-by: a signature, not a trailer <x@example.org>"),
            ("2/2]", "Someone <someone@example.org>", "> Reviewed-by: Quoted Only <quoted@example.org>\nA question, no tag."),
        ])
        let series = try await read(thread)
        // The same thread as lore offers it for download, gzipped (t.mbox.gz).
        try thread.write(to: URL(fileURLWithPath: scratch + "/t.mbox"))
        #expect(try await HostCommandRunner().run(HostCommand("gzip", ["-f", scratch + "/t.mbox"])).succeeded)
        let fromGzip = try await SeriesSource.load(path: scratch + "/t.mbox.gz", range: nil, tree: nil)
        #expect(fromGzip.patches.map(\.trailers) == series.patches.map(\.trailers))
        #expect(series.patches.map(\.index) == [1, 2])
        let jesper = Trailer(name: "Reviewed-by", value: "Jesper Dangaard Brouer <hawk@example.org>", givenBy: "Jesper Dangaard Brouer <hawk@example.org>")
        let ilias = Trailer(name: "Acked-by", value: "Ilias Apalodimas <ilias@example.org>", givenBy: "Ilias Apalodimas <ilias@example.org>")
        #expect(series.patches[0].trailers == [jesper, ilias], "\(series.patches[0].trailers)")
        #expect(series.patches[1].trailers == [ilias], "the cover letter's ack covers every patch; a quoted tag is not one")
        #expect(series.intakeNotes.contains { $0.contains("3 replies read: 3 trailer(s) collected") }, "\(series.intakeNotes)")
        // git am gets the patches as they were sent: no trailer is added to a commit.
        #expect(try await appliesAsTheOriginal(series, fixture))
    }

    @Test func theNewestRevisionIsTestedUnlessAnotherIsAskedFor() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let v1 = try await fixture("v1")
        let v2 = try await fixture("v2", commits: [Self.twoPatches[0], ("page_pool: name the fifth line better\n\nSigned-off-by: Ada <ada@example.org>",
                                                                         MailFixtures.edit("b.c", "line 5\n", "line number five\n"))])
        let both = try await v1.formatPatch(["-v1", "--cover-letter"]) + v2.formatPatch(["-v2", "--cover-letter"])
        let newest = try await read(both)
        #expect(newest.revision == 2 && newest.revisions == [1, 2])
        #expect(newest.patches[1].subject == "page_pool: name the fifth line better")
        #expect(newest.intakeNotes.first == "the mbox holds revisions v1, v2; testing v2 (the newest; --revision N chooses)")
        #expect(try await appliesAsTheOriginal(newest, v2))
        let first = try await read(both, revision: 1)
        #expect(first.revision == 1 && first.patches[1].subject == "page_pool: name the fifth line")
        await #expect { _ = try await read(both, revision: 3) } throws: { error in
            let e = error as! NetrigError
            return e.blame == .usage && e.subject == "--revision 3" && e.message.contains("it holds v1, v2")
        }
        // v2 with its second patch missing (git format-patch -o wrote one file per patch; one is left out).
        try FileManager.default.createDirectory(atPath: scratch + "/v2-files", withIntermediateDirectories: true)
        try await v2.git(["format-patch", "-v2", "--quiet", "-o", scratch + "/v2-files", "\(v2.base)..\(v2.tip)"])
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch + "/v2-files").sorted()
        let partial = try await v1.formatPatch(["-v1"]) + Data(contentsOf: URL(fileURLWithPath: scratch + "/v2-files/" + files[0]))
        await #expect { _ = try await read(partial, "partial.mbox") } throws: { error in
            (error as! NetrigError).message.contains("the series is incomplete: patch v2 2/2 is missing (found 1)")
        }
    }

    @Test func baseAndPrerequisiteTrailersAreRead() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("base", commits: Self.twoPatches + [("page_pool: a third\n\nSigned-off-by: Ada <ada@example.org>",
                                                                              MailFixtures.edit("b.c", "line 9\n", "line nine\n"))])
        // Only the last patch is sent; the two before it are prerequisites, named by patch id.
        let mbox = try await fixture.formatPatch(["--base=\(fixture.base)"], range: "\(fixture.tip)~1..\(fixture.tip)")
        let series = try await read(mbox)
        #expect(series.baseCommit == fixture.base)
        #expect(series.prerequisitePatchIDs.count == 2, "\(series.prerequisitePatchIDs)")
        // A base the tree does not have is an error naming the commit, the tree and what to do: never HEAD.
        let other = try await MailFixtures.make(in: scratch + "/other", baseMessage: "another tree", commits: [])
        let workspace = TreeWorkspace(directories: NetrigDirectories(environment: ["HOME": scratch]))
        await #expect { _ = try await workspace.prepare(request: other.repository, base: nil, series: series, progress: SilentProgress()) } throws: { error in
            let e = error as! NetrigError
            return e.isCode(.treeRefused) && e.subject == "base-commit \(fixture.base)" && e.message.contains(other.repository)
                && e.details.contains { $0.contains("--base REF") } && Verdict(ending: e).exitCode == 1
        }
        // --base says where, knowingly.
        let tree = try await workspace.prepare(request: other.repository, base: "HEAD", series: series, progress: SilentProgress())
        #expect(tree.baseCommit == other.base)
    }

    /// A tree older than 6.12 lacks what netrig tests (netmem, page_pool's netlink API, devmem TCP): refused
    /// before anything is built, naming its version; a 6.12 or newer one is taken.
    @Test func aTreeOlderThan612IsRefusedWithItsVersion() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let makefile = { (version: String, patchlevel: String) -> MailFixtures.Commit in
            ("Linux \(version).\(patchlevel)", { directory in
                try "VERSION = \(version)\nPATCHLEVEL = \(patchlevel)\nSUBLEVEL = 0\nEXTRAVERSION =\n".write(toFile: directory + "/Makefile", atomically: true, encoding: .utf8)
            })
        }
        let old = try await MailFixtures.make(in: scratch + "/old", commits: [makefile("6", "1")])
        let workspace = TreeWorkspace(directories: NetrigDirectories(environment: ["HOME": scratch]))
        await #expect { _ = try await workspace.prepare(request: old.repository, base: nil, series: nil, progress: SilentProgress()) } throws: { error in
            let e = error as! NetrigError
            return e.isCode(.treeRefused) && e.blame == .usage && e.message.hasPrefix("Linux 6.1.0 is older than netrig supports (6.12 or newer")
        }
        let new = try await MailFixtures.make(in: scratch + "/new", commits: [makefile("7", "2")])
        let tree = try await workspace.prepare(request: new.repository, base: nil, series: nil, progress: SilentProgress())
        #expect(tree.version == "7.2.0")
    }

    @Test func aSeriesAlreadyInItsBaseIsSaidToBe() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("applied")
        let series = try await read(try await fixture.formatPatch([]))
        await #expect { _ = try await SeriesApplier(worktree: fixture.repository).apply(series, base: fixture.tip) } throws: { error in
            let e = error as! NetrigError
            return e.blame == .usage && e.message.contains("patches 1–2 of 2 are already applied on the base") && e.patch == 1
        }
    }

    @Test func binaryHunksCoverLettersQuotingDiffsAndCRLFMail() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("binary", commits: Self.twoPatches + [("firmware: add a blob\n\nSigned-off-by: Ada <ada@example.org>", { @Sendable directory in
            try Data((0...255).map { UInt8($0) } + [0, 0, 1]).write(to: URL(fileURLWithPath: directory + "/blob.bin"))
        })])
        try await fixture.git(["branch", "-f", "series", fixture.tip])
        try await fixture.git(["checkout", "--quiet", "series"])
        try await fixture.git(["config", "branch.series.description", """
        page_pool: three patches, one binary

        The cover letter explains with a diff of its own, which is not a patch:

        diff --git a/a.c b/a.c
        --- a/a.c
        +++ b/a.c
        @@ -1 +1 @@
        -old
        +new
        """])
        let mbox = try await fixture.formatPatch(["--cover-letter", "--cover-from-description=subject", "--binary"], range: "\(fixture.base)..series")
        #expect(String(decoding: mbox, as: UTF8.self).contains("GIT binary patch"))
        let series = try await read(mbox)
        #expect(series.title == "page_pool: three patches, one binary")
        #expect(series.patches.map(\.index) == [1, 2, 3])
        #expect(try await appliesAsTheOriginal(series, fixture))
        // The same mail saved with CRLF line endings, as some clients do (Python's email, SMTP line ends).
        let crlf = try await fixture.python("""
        for message in messages:
            write(message, '\\r\\n')
        """, input: mbox)
        #expect(String(decoding: crlf.prefix(200), as: UTF8.self).contains("\r\n"))
        let fromCRLF = try await read(crlf, "crlf.mbox")
        #expect(fromCRLF.patches.map(\.diffHash) == series.patches.map(\.diffHash))
        #expect(try await appliesAsTheOriginal(fromCRLF, fixture))
    }

    @Test func aPatchFileThatIsNotUTF8ReachesGitAmByteForByte() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fixture = try await fixture("latin1", commits: [("drivers: a Latin-1 file\n\nSigned-off-by: Ada <ada@example.org>", { @Sendable directory in
            try Data("caf\u{E9} au lait\n".unicodeScalars.map { UInt8($0.value) }).write(to: URL(fileURLWithPath: directory + "/latin1.txt"))
        })])
        let directory = scratch + "/patches"
        try await fixture.git(["format-patch", "--quiet", "-o", directory, "\(fixture.base)..\(fixture.tip)"])
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
        #expect(String(data: bytes, encoding: .utf8) == nil, "the fixture is not UTF-8")
        let series = try await SeriesSource.load(path: directory, range: nil, tree: nil)
        #expect(series.patches.count == 1)
        #expect(series.patches[0].mail == bytes, "\(String(decoding: series.patches[0].mail, as: UTF8.self))")
        #expect(try await appliesAsTheOriginal(series, fixture))
        // Stored and read back, the bytes survive.
        let decoded = try JSONDecoder().decode(Series.self, from: JSONEncoder().encode(series))
        #expect(decoded.patches[0].mail == series.patches[0].mail)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
