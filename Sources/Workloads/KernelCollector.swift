import Foundation
import NetrigCore

/// Collects what a kernel leaves behind after a workload (which tore its links down): page pools that
/// still hold pages, kmemleak reports and splats in dmesg.
public struct KernelCollector: GuestCollector {
    public init() {}

    public func prepare(on guest: any GuestSession, kmemleak: Bool) async throws {
        _ = try await PagePoolProbe.install(on: guest)
        guard kmemleak else { return }
        let clear = try await guest.runScript("echo clear > /sys/kernel/debug/kmemleak", timeout: .seconds(120))
        guard clear.exitStatus == 0 else {
            throw CollectorError(guest: guest.name, reason: "kmemleak is not available (kernel built without DEBUG_KMEMLEAK, "
                                 + "or booted without kmemleak=on): " + clear.standardError.lastLines(2).joined(separator: " "))
        }
    }

    /// Waits for deferred frees (objects younger than 5 s are never reported), scans twice and reads the
    /// reports; then reads dmesg.
    public func collect(on guest: any GuestSession, side: Side, kmemleak: Bool) async throws -> Collected {
        var leaks: [Leak] = []
        var report: String?
        let (pools, _, failure) = try await PagePoolProbe.pools(on: guest)
        let leftovers = PagePoolProbe.leftovers(pools ?? [], side: side)
        // No pool list is not an empty one: the check did not run.
        let unchecked = failure.map { [UncheckedCheck(check: UncheckedCheck.pagePoolLeftovers, reason: $0)] } ?? []
        if kmemleak {
            let scan = """
            sleep 6
            echo scan > /sys/kernel/debug/kmemleak
            sleep 1
            echo scan > /sys/kernel/debug/kmemleak
            cat /sys/kernel/debug/kmemleak
            """
            let output = try await guest.runScript(scan, timeout: .seconds(600))
            report = output.standardOutput
            leaks = KmemleakParser.parse(output.standardOutput, side: side)
        }
        let dmesg = try await guest.run(["dmesg"], timeout: .seconds(60))
        var splats = SplatDetector.detect(dmesg.standardOutput, side: side) + leftovers
        // A kernel built with kmemleak off by default says at boot that the detector is disabled: only a
        // boot that asked for kmemleak has lost something when it says so.
        if !kmemleak { splats.removeAll { $0.kind == .kmemleakDisabled } }
        return Collected(leaks: leaks, splats: splats, dmesg: dmesg.standardOutput, kmemleakReport: report, unchecked: unchecked)
    }
}

extension KernelCollector {
    /// The console log (on the host, complete even when the guest died) and, when the guest still answers
    /// within 15 s, dmesg: every splat either shows, once.
    public func salvage(on guest: any GuestSession, side: Side) async -> Collected {
        let console = (try? String(contentsOfFile: guest.consoleLog, encoding: .utf8)) ?? ""
        let dmesg = (try? await guest.run(["dmesg"], timeout: .seconds(15)))?.standardOutput ?? ""
        let splats = (SplatDetector.detect(console, side: side) + SplatDetector.detect(dmesg, side: side))
            .filter { $0.kind != .kmemleakDisabled }.uniqued(by: \.title)
        return Collected(leaks: [], splats: splats, dmesg: dmesg.isEmpty ? console : dmesg)
    }
}

/// A collector could not do its work in a guest. Not a `NetrigError`: the run engine adds the phase.
public struct CollectorError: Error, CustomStringConvertible, Sendable {
    public var guest: String
    public var reason: String
    public var description: String { "guest \(guest): \(reason)" }
}
