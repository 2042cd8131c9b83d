import Foundation
import Testing
@testable import KernelBuild
@testable import NetrigCore

/// Builds a patch mail as git format-patch writes it.
func mail(_ subject: String, file: String = "a.c", diff: String? = nil, from: String = "Ada <ada@example.org>",
          trailer: String = "") -> String {
    let body = diff ?? """
    diff --git a/\(file) b/\(file)
    index 1111111..2222222 100644
    --- a/\(file)
    +++ b/\(file)
    @@ -1,1 +1,1 @@
    -old
    +new
    """
    return """
    From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001
    From: \(from)
    Date: Mon, 23 Nov 2026 00:00:00 +0000
    Subject: \(subject)

    Commit message.

    Signed-off-by: Ada <ada@example.org>
    ---
    \(body)
    --\u{20}
    2.39.5
    \(trailer)

    """
}

@Suite struct MboxParserTests {
    @Test func exampleSeriesParses() async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/page-pool-comments.mbox").path
        let series = try await MboxParser.parse(try String(contentsOfFile: path, encoding: .utf8), source: path)
        #expect(series.patches.count == 2)
        #expect(series.title == "page_pool: small no-op cleanups (netrig example series)")
        #expect(series.patches[0].subject.hasPrefix("page_pool: explain what the producer lock"))
        #expect(series.patches.map(\.index) == [1, 2])
        #expect(series.patches[0].author.contains("Ada Netmem"))
    }

    @Test func prefixesVersionsAndFoldedSubjects() async throws {
        let text = mail("[RFC PATCH net-next v3 2/2] page_pool: two", file: "b.c")
            + mail("[RFC PATCH net-next v3 0/2] the cover", diff: "Just a cover letter.\n")
            + mail("[RFC PATCH net-next v3 1/2] page_pool: one\n that is folded", file: "a.c")
        let series = try await MboxParser.parse(text, source: "t.mbox")
        #expect(series.revision == 3)
        #expect(series.title == "the cover")
        #expect(series.patches.map(\.subject) == ["page_pool: one that is folded", "page_pool: two"])
        #expect(series.patches.allSatisfy { $0.total == 2 })
        #expect(series.patches[0].label == "patch 1/2 'page_pool: one that is folded'")
    }

    @Test func baseCommitTrailer() async throws {
        let text = mail("[PATCH 1/1] x", trailer: "base-commit: 0123456789abcdef0123456789abcdef01234567")
        #expect(try await MboxParser.parse(text, source: "t").baseCommit == "0123456789abcdef0123456789abcdef01234567")
    }

    /// A series saved with CRLF line endings (as some mail clients do) parses like the LF original; a CR
    /// inside an LF mbox is patch content and stays.
    @Test func crlfMboxParsesLikeItsLFOriginal() async throws {
        let lf = mail("[PATCH 1/2] page_pool: one", file: "a.c") + mail("[PATCH 2/2] page_pool: two", file: "b.c")
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        let fromLF = try await MboxParser.parse(lf, source: "lf.mbox")
        let fromCRLF = try await MboxParser.parse(crlf, source: "crlf.mbox")
        #expect(fromCRLF.patches.map(\.subject) == ["page_pool: one", "page_pool: two"])
        #expect(fromCRLF.patches.map(\.mail) == fromLF.patches.map(\.mail))
        #expect(fromCRLF.patches.map(\.diffHash) == fromLF.patches.map(\.diffHash))
        let content = mail("[PATCH] dos file", diff: "diff --git a/x.bat b/x.bat\n--- a/x.bat\n+++ b/x.bat\n@@ -1 +1 @@\n-old\r\n+new\r\n")
        #expect(try await MboxParser.parse(content, source: "t").patches[0].mailText.contains("+new\r\n"))
    }

    @Test func lonePatchWithoutNumber() async throws {
        let series = try await MboxParser.parse(mail("[PATCH] fix"), source: "t")
        #expect(series.patches.count == 1)
        #expect(series.patches[0].index == 1)
    }

    @Test func missingPatchIsNamed() async {
        let text = mail("[PATCH 1/3] a", file: "a.c") + mail("[PATCH 3/3] c", file: "c.c")
        await #expect {
            try await MboxParser.parse(text, source: "t.mbox")
        } throws: { error in
            let e = error as! NetrigError
            return e.isCode(.seriesUnreadable) && e.message.contains("the series is incomplete: patch 2/3 is missing") && e.subject == "t.mbox"
        }
    }

    @Test func duplicatedPatchIsNamed() async {
        let text = mail("[PATCH 1/2] a") + mail("[PATCH 1/2] again", file: "x.c") + mail("[PATCH 2/2] b", file: "b.c")
        await #expect {
            try await MboxParser.parse(text, source: "t")
        } throws: { ($0 as! NetrigError).message.contains("patch 1/2 appears twice, with different diffs") }
    }

    @Test(arguments: ["", "\u{0}\u{1}\u{2} binary junk \u{FF}", "just some text\nwith lines\n"])
    func notAnMbox(_ text: String) async {
        await #expect {
            try await MboxParser.parse(text, source: "junk")
        } throws: { error in
            let e = error as! NetrigError
            return e.blame == .series && e.message.contains("no mail messages found")
        }
    }

    @Test func coverLetterOnlyHasNoPatches() async {
        await #expect {
            try await MboxParser.parse(mail("[PATCH 0/1] cover", diff: "words only\n"), source: "c")
        } throws: { ($0 as! NetrigError).message.contains("no patches found") }
    }

    @Test func diffHashIgnoresHeaders() async throws {
        let one = try await MboxParser.parse(mail("[PATCH] a", from: "A <a@x>"), source: "1").patches[0]
        let two = try await MboxParser.parse(mail("[PATCH] renamed", from: "B <b@x>"), source: "2").patches[0]
        #expect(one.diffHash == two.diffHash)
    }
}
