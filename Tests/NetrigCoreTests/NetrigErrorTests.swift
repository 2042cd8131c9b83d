import Foundation
import NetrigFakes
import Testing
@testable import NetrigCore

/// The one error type: its extensible code, its cause, and how it reads.
@Suite struct NetrigErrorTests {
    struct Underlying: Error, CustomStringConvertible {
        var description: String { "connect: No such file or directory" }
    }

    @Test func isCodeTellsTheKindAndCodesAreExtensible() throws {
        let silent = NetrigError(phase: .testBaseline, blame: .infrastructure, message: "silent", code: .consoleSilent)
        #expect(silent.isCode(.consoleSilent) && !silent.isCode(.kvmStartFailed))
        #expect(silent.code.isKVMFailure && NetrigError.Code.kvmStartFailed.isKVMFailure && !NetrigError.Code.buildFailed.isKVMFailure)
        #expect(NetrigError(phase: .store, blame: .infrastructure, message: "x").isCode(.other), "no code given: other")
        // The stored raw values of the two codes that existed before the struct are unchanged.
        #expect(NetrigError.Code.consoleSilent.rawValue == "console-silent" && NetrigError.Code.kvmStartFailed.rawValue == "kvm-start-failed")
        // A code another module defines is a code like the others, and encodes as its raw value.
        let custom = NetrigError.Code("image-corrupted")
        #expect(NetrigError(phase: .buildImage, blame: .infrastructure, message: "x", code: custom).isCode(NetrigError.Code(rawValue: "image-corrupted")))
        #expect(String(decoding: try JSONEncoder().encode(custom), as: UTF8.self) == #""image-corrupted""#)
        #expect(try JSONDecoder().decode(NetrigError.Code.self, from: Data(#""out-of-disk""#.utf8)) == .outOfDisk)
    }

    @Test func equalityIgnoresTheCauseButNotTheRest() {
        let error = NetrigError(phase: .configure, blame: .infrastructure, subject: "qemu:///system", message: "cannot connect to libvirt",
                                code: .hypervisorUnreachable, cause: Underlying())
        var other = error
        other.cause = CancellationError()
        #expect(error == other)
        other.cause = nil
        #expect(error == other)
        var coded = error
        coded.code = .other
        #expect(error != coded)
        var logged = error
        logged.log = "/logs/x.log"
        #expect(error != logged)
        var remembered = error
        remembered.cached = true
        #expect(error != remembered)
    }

    @Test func anErrorWithoutAPhaseReadsWithoutOne() {
        let adapter = NetrigError(blame: .series, subject: "t.mbox", message: "no patches found", code: .seriesUnreadable)
        #expect(adapter.phase == nil)
        #expect(adapter.description == "t.mbox: no patches found")
    }

    @Test func descriptionShowsDetailsLogAndCause() {
        let build = NetrigError(phase: .buildBaseline, blame: .baseline, subject: "baseline kernel at 0123456789ab", message: "the build failed",
                                details: ["net/core/sock.c:10:5: error: expected ';'"], code: .buildFailed, log: "/cache/logs/b.log", cached: true)
        #expect(build.description == """
            build-baseline: baseline kernel at 0123456789ab: the build failed
                net/core/sock.c:10:5: error: expected ';'
                log: /cache/logs/b.log
                not rebuilt: the same inputs failed to build before
            """)
        let wrapped = NetrigError(phase: .configure, blame: .infrastructure, message: "cannot reach the hypervisor", cause: Underlying())
        #expect(wrapped.description == "configure: cannot reach the hypervisor\n    cause: connect: No such file or directory")
        // A message that already quotes its cause does not say it twice.
        let quoted = NetrigError(phase: .configure, blame: .infrastructure, message: "cannot connect to libvirt: \(Underlying())", cause: Underlying())
        #expect(quoted.description == "configure: cannot connect to libvirt: connect: No such file or directory")
    }
}

extension RunEngineTests {
    struct BrokenDisk: Error, CustomStringConvertible {
        var description: String { "mke2fs: No space left on device" }
    }

    struct FailingImages: ImageProvider {
        func prepareImage(progress: any ProgressObserver) async throws -> String { throw BrokenDisk() }
    }

    /// An error that is not a NetrigError ends the run as `other`, in the phase it happened in, with the
    /// error itself as its cause: never flattened into a string only.
    @Test func aForeignErrorIsWrappedWithItsCause() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        engine.images = FailingImages()
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        let error = try #require(outcome.error)
        #expect(error.isCode(.other) && error.phase == .buildImage && error.blame == .infrastructure)
        #expect(error.cause is BrokenDisk)
        #expect(error.message == "mke2fs: No space left on device")
        #expect(outcome.verdict == .error)
        let last = store.read { $0.phases.last }
        #expect(last?.phase == .buildImage && last?.outcome == .failed && last?.note == "build-image: mke2fs: No space left on device")
    }

    /// Adapters throw without a phase; the engine stamps the phase it was in, also over a phase an error
    /// brought with it. A requested symbol that did not survive is found while the baseline is built: the
    /// run fails in build-baseline, and the code makes it a config finding.
    @Test func theEngineStampsItsPhaseAndTheCodeKeepsTheKind() async throws {
        let store = InMemoryRunStore()
        var engine = makeEngine(store: store)
        var kernel = FakeKernel(failSide: nil)
        kernel.buildErrors[.baseline] = NetrigError(blame: .usage, subject: "CONFIG_NET_DEVMEM",
                                                    message: "requested symbol(s) did not survive olddefconfig", code: .configRefused)
        engine.kernel = kernel
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.error?.phase == .buildBaseline && outcome.error?.isCode(.configRefused) == true)
        #expect(outcome.findings.map(\.kind) == [.config], "\(outcome.findings)")
        #expect(store.read { $0.phases.last.map { $0.phase == .buildBaseline && $0.outcome == .failed } } == true)

        // A phase an adapter still names (stale) is replaced by the engine's.
        var stale = FakeKernel(failSide: nil)
        stale.buildErrors[.patched] = NetrigError(phase: .configure, blame: .infrastructure, subject: "disk", message: "full", code: .outOfDisk)
        engine.kernel = stale
        let patched = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(patched.error?.phase == .buildPatched && patched.error?.isCode(.outOfDisk) == true)
    }

    /// Only the engine's own "the patched kernel does not build" stands for the last patch's build
    /// finding; any other error of the per-patch builds (now stamped build-patches too) is a finding itself.
    @Test func anErrorOfThePerPatchBuildsThatIsNoCompileErrorIsAFinding() async throws {
        var engine = makeEngine(store: InMemoryRunStore())
        var kernel = FakeKernel(failSide: nil)
        kernel.patchBuildError = NetrigError(blame: .series, subject: "CONFIG_PAGE_POOL", message: "requested symbol(s) did not survive olddefconfig",
                                             patch: 1, code: .configRefused)
        engine.kernel = kernel
        let outcome = try await engine.run(plan: plan, series: series, workload: workload)
        #expect(outcome.error?.phase == .buildPatches)
        #expect(outcome.findings.map(\.kind) == [.config] && outcome.findings.first?.patch == 1, "\(outcome.findings)")
        #expect(outcome.verdict == .fail)
    }
}
