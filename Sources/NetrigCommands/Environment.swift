import ArgumentParser
import Foundation
import NetrigCore

/// Where netrig's data files live (kconfigs/, workloads/, images/, examples/): `NETRIG_HOME`, else the
/// first folder holding `kconfigs/` above the executable (a checkout's `.build/debug/netrig`), else the
/// current directory.
public struct ProjectLayout: Sendable {
    public var root: String

    public init(root: String) {
        self.root = root
    }

    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> ProjectLayout {
        if let home = environment["NETRIG_HOME"] { return ProjectLayout(root: home) }
        let fm = FileManager.default
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            if fm.fileExists(atPath: url.appendingPathComponent("kconfigs").path) { return ProjectLayout(root: url.path) }
            url.deleteLastPathComponent()
        }
        return ProjectLayout(root: fm.currentDirectoryPath)
    }

    public var kconfigs: String { root + "/kconfigs" }
    public var workloads: String { root + "/workloads" }
    public var images: String { root + "/images" }
    public var defaultImage: String { images + "/debian-bookworm" }
    public var defaultSeries: String { root + "/examples/page-pool-comments.mbox" }
}

/// Options every command that touches the store or libvirt shares; `NetrigContext.live` resolves them
/// with the environment (NETRIG_STORE, NETRIG_LIBVIRT_URI).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "SQLite store file (default: $NETRIG_STORE, else $XDG_DATA_HOME/netrig/netrig.sqlite).")
    var store: String?

    @Option(name: .long, help: "libvirt connection URI; qemu+ssh://host/system runs guests on another host (default: $NETRIG_LIBVIRT_URI, else qemu:///system).")
    var libvirtURI: String?

    static let defaultLibvirtURI = "qemu:///system"

    @Flag(help: "Log every host command (its argv, exit status and duration) and each guest's libvirt domain to standard error.")
    var verbose = false

    /// Called as the command line is parsed, before the command runs: --verbose sets the level of every
    /// logger made from then on.
    func validate() throws {
        if verbose { NetrigLogLevel.current = .debug }
    }
}

/// `--json FILE`, shared by the commands that end in a verdict.
struct JSONOption: ParsableArguments {
    @Option(help: "Write the verdict and findings as JSON to this file (- for standard output); see docs/JSON.md.")
    var json: String?
}

/// Writes a run report as JSON to `path` ("-" for standard output).
enum ReportWriter {
    static func write(_ report: RunReport, to path: String, context: NetrigContext) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try encoder.encode(report) + Data("\n".utf8)
        if path == "-" {
            context.standardOutput(String(decoding: data, as: UTF8.self))
        } else {
            try data.write(to: URL(fileURLWithPath: path))
        }
    }
}

/// Errors shown to the user end the process with the verdict's exit code.
struct ExitWithVerdict: Error {
    var code: Int32
}
