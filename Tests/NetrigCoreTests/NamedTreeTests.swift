import Testing
@testable import NetrigCore

@Suite struct NamedTreeTests {
    @Test func namesAreTreesAndEverythingElseIsAPath() {
        #expect(NamedTree.named("debian-7.2") == .debian72)
        #expect(NamedTree.named("debian-6.12") == .debian612)
        #expect(NamedTree.named("./debian-7.2") == nil, "a directory with a tree's name is given as a path")
        #expect(NamedTree.named("/src/linux") == nil)
        #expect(NamedTree.default == .debian612)
        #expect(NamedTree.debian72.tarball == "/usr/src/linux-source-7.2.tar.xz")
        #expect(NamedTree.debian72.origin == .suite("unstable"))
    }

    /// The 6.12 import's message is part of its canonical commit (d3a2b670c92e): it must never change.
    @Test func theImportMessageIsStable() {
        #expect(NamedTree.debian612.importMessage(version: "6.12.117") == "Debian linux-source-6.12 6.12.117")
        #expect(NamedTree.debian72.importMessage(version: "7.2.13") == "Debian linux-source-7.2 7.2.13")
    }

    @Test func kernelVersionsCompareNumerically() {
        #expect(KernelVersion("6.12.117")! < KernelVersion("7.2.13")!)
        #expect(KernelVersion("6.9")! < KernelVersion("6.12")!, "6.9 is older than 6.12, not newer as text says")
        #expect(KernelVersion("6.12") == KernelVersion(6, 12, 0))
        #expect(KernelVersion("unknown") == nil)
        #expect(KernelVersion("6") == nil)
        #expect(KernelVersion("6.1.0")! < NamedTree.oldestSupportedVersion)
        #expect(!(KernelVersion("6.12.1")! < NamedTree.oldestSupportedVersion))
    }

    @Test func uncheckedLinesNameEachCheckOnceWithItsSides() {
        let ynl = UncheckedCheck(check: "page_pool leftovers", reason: "the tree has no ynl CLI at a or b")
        let other = UncheckedCheck(check: "page_pool leftovers", reason: "ynl page-pool-get failed")
        let lines = UncheckedCheck.summarize([(.patched, ynl), (.baseline, ynl), (.patched, ynl), (.patched, other)])
        #expect(lines == ["page_pool leftovers: not checked on baseline and patched (the tree has no ynl CLI at a or b)",
                          "page_pool leftovers: not checked on patched (ynl page-pool-get failed)"])
        #expect(UncheckedCheck.summarize([]).isEmpty)
    }

    @Test func aVerdictWithAnUncheckedCheckIsNotAPass() {
        var comparison = Comparison(samples: [], leaks: [], splats: [])
        #expect(Verdict.of(findings: [], comparison: comparison) == .pass)
        comparison.unchecked = ["page_pool leftovers: not checked on patched (x)"]
        #expect(Verdict.of(findings: [], comparison: comparison) == .inconclusive)
        #expect(Verdict.of(findings: [], comparison: nil) == .pass, "a build-only run: the builds are the verdict")
    }
}
