import NetrigCore
import Testing
@testable import KernelBuild

/// Reading build logs and diffs, and deciding which warnings a patch introduced.
@Suite struct PatchBuildTests {
    let reader = BuildLogReader(worktree: "/cache/work/t/src", buildDirectory: "/cache/work/t/build/default")

    @Test func diagnosticsGetTreeRelativePaths() {
        let log = """
          CC      net/core/page_pool.o
        ../../src/net/core/page_pool.c:798:13: warning: unused variable ‘ring_size’ [-Wunused-variable]
        /cache/work/t/src/include/net/page_pool/types.h:12:1: error: expected ‘;’ before ‘}’ token
        /cache/work/t/build/default/netrig.allconfig:67:warning: override: reassigning to symbol SLUB_TINY
        gcc: fatal error: Killed signal terminated program cc1
        """
        let found = reader.diagnostics(log)
        #expect(found.map(\.text) == ["net/core/page_pool.c:798:13: warning: unused variable ‘ring_size’ [-Wunused-variable]",
                                      "include/net/page_pool/types.h:12:1: error: expected ‘;’ before ‘}’ token"])
        #expect(reader.compiledSources(log) == ["net/core/page_pool.c"])
    }

    @Test func addedLinesFromAZeroContextDiff() {
        let diff = """
        diff --git a/net/core/page_pool.c b/net/core/page_pool.c
        --- a/net/core/page_pool.c
        +++ b/net/core/page_pool.c
        @@ -797,0 +798 @@ static bool page_pool_recycle_in_ring(struct page_pool *pool, netmem_ref netmem)
        +\tint ring_size;
        @@ -900,2 +901,3 @@
        -a
        -b
        +c
        +d
        +e
        @@ -950 +952,0 @@
        -gone
        diff --git a/old.c b/old.c
        --- a/old.c
        +++ /dev/null
        @@ -1,2 +0,0 @@
        """
        #expect(AddedLines.parse(diff) == ["net/core/page_pool.c": [798, 901, 902, 903]])
    }

    @Test func aWarningIsThePatchesWhenOnItsLinesOrNewInAFileBuiltBefore() {
        var ledger = WarningLedger()
        ledger.learn("""
          CC      net/core/page_pool.o
          CC      net/core/dev.o
        ../../src/net/core/dev.c:10:5: warning: old one [-Wfoo]
        """, reader: reader)
        let patched = """
          CC      net/core/page_pool.o
          CC      net/core/dev.o
          CC      net/core/sock.o
        ../../src/net/core/page_pool.c:798:13: warning: unused variable ‘ring_size’ [-Wunused-variable]
        ../../src/net/core/dev.c:12:5: warning: old one [-Wfoo]
        ../../src/net/core/dev.c:40:9: warning: unused variable ‘x’ [-Wunused-variable]
        ../../src/net/core/sock.c:7:1: warning: never compiled before [-Wbar]
        ../../src/include/linux/skbuff.h:99:1: warning: on a line the patch wrote [-Wbaz]
        """
        let new = ledger.newWarnings(in: patched, addedLines: ["include/linux/skbuff.h": [99]], reader: reader).map(\.text)
        #expect(new == [
            "net/core/page_pool.c:798:13: warning: unused variable ‘ring_size’ [-Wunused-variable]",
            "net/core/dev.c:40:9: warning: unused variable ‘x’ [-Wunused-variable]",
            "include/linux/skbuff.h:99:1: warning: on a line the patch wrote [-Wbaz]",
        ], "the moved old warning in dev.c is not new; sock.c was never built before, so its warning is not blamed")
    }

    /// A builder's `.buildFailed` becomes the patch's record from its fields (log, cached), never from the
    /// words of its message or details.
    @Test func aBuildFailureIsReadFromTheErrorsFields() {
        let error = NetrigError(phase: .buildPatched, blame: .series, subject: "patched kernel at c2", message: "the build failed",
                                details: ["make: *** [Makefile:1] Error 2"], code: .buildFailed, log: "/cache/kernels/k.failed.log", cached: true)
        let log = """
          CC      net/core/dev.o
        ../../src/net/core/dev.c:3:1: error: expected ‘;’ before ‘}’ token
        """
        let build = LocalKernelPipeline.failedBuild(error, patch: 2, subject: "two", commit: "c2", logText: log, reader: reader, seconds: 1.5)
        #expect(build == PatchBuild(patch: 2, subject: "two", commit: "c2", succeeded: false,
                                    firstError: "net/core/dev.c:3:1: error: expected ‘;’ before ‘}’ token",
                                    cached: true, seconds: 1.5, log: "/cache/kernels/k.failed.log"))
        // A log that names no compiler error (a killed compiler): the error's first detail, and not cached.
        var killed = error
        killed.cached = false
        killed.log = nil
        let fallback = LocalKernelPipeline.failedBuild(killed, patch: 2, subject: "two", commit: "c2", logText: "Killed", reader: reader, seconds: 2)
        #expect(fallback.firstError == "make: *** [Makefile:1] Error 2" && !fallback.cached && fallback.log == nil)
    }
}
