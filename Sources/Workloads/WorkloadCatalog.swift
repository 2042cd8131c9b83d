import Foundation
import NetrigCore
import TOMLKit

/// The workloads in `workloads/`: one TOML file each, read as data.
public struct WorkloadCatalog: Sendable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }.sorted()
    }

    public func load(_ name: String) throws -> WorkloadDefinition {
        let path = directory + "/\(name).toml"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NetrigError(blame: .usage, subject: "--workload \(name)",
                              message: "no such workload; known: \(names().joined(separator: ", "))")
        }
        return try Self.parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> WorkloadDefinition {
        func fail(_ message: String) -> NetrigError {
            NetrigError(blame: .usage, subject: path, message: message)
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch { throw fail("not valid TOML: \(error)") }
        func string(_ t: TOMLTable, _ key: String) throws -> String {
            guard let value = t[key]?.string else { throw fail("missing string '\(key)'") }
            return value
        }
        func strings(_ t: TOMLTable, _ key: String) -> [String] {
            t[key]?.array?.compactMap { $0.string } ?? []
        }
        func tables(_ key: String) -> [TOMLTable] {
            table[key]?.array?.compactMap { $0.table } ?? []
        }
        let topologyNames = table["topologies"] == nil ? [try string(table, "topology")] : strings(table, "topologies")
        let topologies = try topologyNames.map { name -> Topology in
            guard let topology = Topology(rawValue: name) else { throw fail("unknown topology '\(name)'") }
            return topology
        }
        guard !topologies.isEmpty else { throw fail("declares no topology") }
        let nics = try strings(table, "nics").map { name -> NICModel in
            guard let model = NICModel(rawValue: name) else { throw fail("unknown NIC '\(name)'") }
            return model
        }
        let directory = (path as NSString).deletingLastPathComponent
        /// A file the workload ships, under the workloads directory: its text.
        func shippedText(_ relative: String, what: String) throws -> String {
            guard !relative.hasPrefix("/"), !relative.contains("..") else { throw fail("\(what) must name a file under the workloads directory") }
            guard let text = try? String(contentsOfFile: directory + "/" + relative, encoding: .utf8) else {
                throw fail("\(what): cannot read \(relative)")
            }
            return text
        }
        let programs = try tables("programs").map { t in
            let name = try string(t, "name")
            var shipped: [String: String] = [:]
            for relative in strings(t, "shipped") {
                shipped[(relative as NSString).lastPathComponent] = try shippedText(relative, what: "program '\(name)' source")
            }
            let program = GuestProgram(name: name, sources: strings(t, "sources"), libraries: strings(t, "libraries"),
                                       shipped: shipped.isEmpty ? nil : shipped)
            guard !program.sources.isEmpty || !shipped.isEmpty else { throw fail("program '\(name)' has no sources") }
            return program
        }
        let modes = try tables("modes").map { t in
            WorkloadMode(name: try string(t, "name"), clientArguments: strings(t, "client_args"), serverArguments: strings(t, "server_args"))
        }
        let metrics = try tables("metrics").map { t -> MetricSpec in
            let streamName = t["stream"]?.string ?? "stdout"
            guard let stream = MetricSpec.Stream(rawValue: streamName) else { throw fail("unknown stream '\(streamName)'") }
            let pattern = try string(t, "pattern")
            do { _ = try Regex(pattern) } catch { throw fail("metric pattern '\(pattern)' is not a regular expression: \(error)") }
            var metric = MetricSpec(name: try string(t, "name"), unit: try string(t, "unit"), step: t["step"]?.string ?? "client",
                                    stream: stream, pattern: pattern, scale: t["scale"]?.double ?? Double(t["scale"]?.int ?? 1),
                                    perSecond: t["per_second"]?.bool ?? false, higherIsBetter: t["higher_is_better"]?.bool ?? true)
            metric.modes = t["modes"] == nil ? nil : strings(t, "modes")
            return metric
        }
        guard !metrics.isEmpty else { throw fail("declares no metrics") }
        let unsupported = try tables("unsupported").map { t in
            UnsupportedPattern(pattern: try string(t, "pattern"), reason: try string(t, "reason"))
        }
        let client = strings(table, "client")
        guard !client.isEmpty else { throw fail("declares no client step") }
        var definition = WorkloadDefinition(
            name: try string(table, "name"), summary: table["summary"]?.string ?? "", topologies: topologies, nics: nics,
            requiredSymbols: strings(table, "requires"), programs: programs, duration: table["duration"]?.int ?? 2,
            timeout: .seconds(table["timeout"]?.int ?? 120), server: strings(table, "server"), client: client,
            modes: modes.isEmpty ? [WorkloadMode(name: "default", clientArguments: [])] : modes,
            metrics: metrics, unsupported: unsupported)
        definition.clientSuccessStatuses = table["client_success_status"]?.array?.compactMap { $0.int.map(Int32.init) }
        definition.serverPersists = table["server_persists"]?.bool
        definition.xdpPass = table["xdp_pass"]?.bool
        if let scripts = table["scripts"]?.table {
            var texts: [String: String] = [:]
            for (name, value) in scripts {
                guard let relative = value.string else { throw fail("script '\(name)' must name a file under the workloads directory") }
                texts[name] = try shippedText(relative, what: "script '\(name)'")
            }
            definition.scripts = texts
        }
        return definition
    }
}
