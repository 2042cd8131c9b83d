import ArgumentParser
import Foundation
import HostCommands
import NetrigCore

/// Everything a command reaches outside itself, built once per process (`NetrigContext.live`, in
/// Wiring.swift) and passed into every command's `run(_:)`, as swiftly passes its `SwiftlyCoreContext`.
/// Commands parse options, ask the context for the store, the engine, the launcher or the probe, and
/// print through it; tests give them a context of fakes. Factories are closures: a verb that never
/// touches the store (`ssh`) never opens it.
struct NetrigContext: Sendable {
    var layout: ProjectLayout
    var directories: NetrigDirectories
    var storePath: String
    var libvirtURI: String
    /// Host cores: two sides' throughput boots run at once from 4.
    var processorCount: Int
    var progress: any ProgressObserver
    var standardOutput: @Sendable (String) -> Void
    var standardError: @Sendable (String) -> Void
    /// Every host command an adapter runs (git, make, mmdebstrap, qemu, dpkg-query) goes through it;
    /// `--verbose` logs each one.
    var commands: any CommandRunner

    var openStore: @Sendable () throws -> any RunStorage
    var kernel: @Sendable () throws -> any KernelPipeline
    var images: @Sendable () throws -> any ImageProvider
    var probe: @Sendable () throws -> any KeptAcceleratorProbe
    var launcher: @Sendable (_ keep: Bool) throws -> any GuestLauncher
    var hypervisor: @Sendable () throws -> any HypervisorQuery
    var workloads: @Sendable () throws -> any WorkloadExecutor
    var collector: @Sendable () throws -> any GuestCollector
    /// Reads a workload definition from `workloads/` by name.
    var workload: @Sendable (String) throws -> WorkloadDefinition
    /// Checks that a named config exists in `kconfigs/` (and parses).
    var config: @Sendable (String) throws -> KernelConfigSpec
    /// Reads a series: an mbox or patch directory, or a git range in a tree.
    var readSeries: @Sendable (SeriesRequest) async throws -> Series
    /// A monotonic clock in seconds, and the wall-clock timestamp stored with a run.
    var clock: @Sendable () -> Double
    var timestamp: @Sendable () -> String
    /// Whether a run's owning process is still alive.
    var isAlive: @Sendable (RunOwner?) -> Bool

    /// Console logs and domain XML of each boot live beside the store they belong to.
    var runsDirectory: String { (storePath as NSString).deletingLastPathComponent + "/runs" }
    /// The HTML pages beside the store.
    var pagesDirectory: String { (storePath as NSString).deletingLastPathComponent + "/html" }

    /// The one wiring of the run engine, for every verb that runs (run, resume, and later bisect, nightly).
    func engine(store: any RunRecorder, keep: Bool) throws -> RunEngine {
        let runs = runsDirectory
        return RunEngine(kernel: try kernel(), images: try images(), accelerators: try probe(), guests: try launcher(keep),
                         workloads: try workloads(), collector: try collector(), store: store, progress: progress, concurrentMeasurements: processorCount >= 4,
                         clock: clock, timestamp: timestamp, workDirectory: { run, side in runs + "/\(run)/\(side.rawValue)" })
    }

    /// Human-readable output: standard output, or standard error when standard output carries JSON.
    func say(json: String?) -> HumanOutput {
        HumanOutput(write: json == "-" ? standardError : standardOutput)
    }
}

/// What a series is read from.
struct SeriesRequest: Sendable {
    /// An mbox or directory of patches; nil with `range`.
    var path: String?
    /// A git range BASE..TIP in `tree`.
    var range: String?
    var tree: String?
    var revision: Int?
}

/// A netrig command: options parsed by ArgumentParser, everything else from the context.
protocol NetrigCommand: AsyncParsableCommand {
    var global: GlobalOptions { get }
    func run(_ context: NetrigContext) async throws
}

extension NetrigCommand {
    func run() async throws {
        try await run(NetrigContext.live(global, environment: ProcessInfo.processInfo.environment))
    }
}

/// Human-readable output, one line or block at a time.
struct HumanOutput: Sendable {
    var write: @Sendable (String) -> Void

    func callAsFunction(_ text: String, terminator: String = "\n") {
        write(text + terminator)
    }
}
