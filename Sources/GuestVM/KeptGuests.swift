import Foundation
import Libvirt
import NetrigCore

/// A guest left running by `netrig run --keep`: how to reach it and how to get rid of it.
public struct KeptGuest: Codable, Sendable, Equatable {
    /// The boot's name ("baseline-throughput", "patched-leaks-peer").
    public var name: String
    public var domain: String
    public var uri: String
    public var sshPort: Int
    public var privateKey: String
    public var consoleLog: String
    public var diskOverlay: String

    public init(name: String, domain: String, uri: String, sshPort: Int, privateKey: String, consoleLog: String, diskOverlay: String) {
        self.name = name
        self.domain = domain
        self.uri = uri
        self.sshPort = sshPort
        self.privateKey = privateKey
        self.consoleLog = consoleLog
        self.diskOverlay = diskOverlay
    }

    /// The OpenSSH command line that opens a shell in the guest (or runs `command` there, an argv: each
    /// argument arrives as one, quoted for the guest's shell; use `sh -c '...'` for shell syntax). SSH
    /// listens on 127.0.0.1 only; the guest's host key changes with every boot, so it is neither checked
    /// nor stored.
    public func sshArguments(command: [String] = []) -> [String] {
        ["ssh", "-i", privateKey, "-p", String(sshPort), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes"] + (command.isEmpty ? ["-t"] : [])
            + ["root@127.0.0.1"] + (command.isEmpty ? [] : [ShellQuote.join(command)])
    }
}

/// The kept guests, one JSON file each under `directory` (the data directory's `guests/`).
public struct KeptGuestRegistry: Sendable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    func path(_ name: String) -> String { directory + "/\(name).json" }

    public func record(_ guest: KeptGuest) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(guest).write(to: URL(fileURLWithPath: path(guest.name)), options: .atomic)
    }

    public func list() -> [KeptGuest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { file in
            FileManager.default.contents(atPath: directory + "/" + file).flatMap { try? JSONDecoder().decode(KeptGuest.self, from: $0) }
        }
    }

    public func find(_ name: String) -> KeptGuest? { list().first { $0.name == name } }

    /// Destroys the kept guest `name` (when its domain still runs), removes its disk overlay and forgets it.
    /// Returns whether there was one.
    @discardableResult
    public func destroy(name: String) async -> Bool {
        guard let guest = find(name) else { return false }
        if let connection = try? await LibvirtConnection(uri: guest.uri) {
            if let domain = try? await connection.domain(named: guest.domain) { try? await domain.destroy() }
            await connection.close()
        }
        try? FileManager.default.removeItem(atPath: guest.diskOverlay)
        try? FileManager.default.removeItem(atPath: path(name))
        return true
    }

    /// The kept guests whose domains still run.
    public func running() async throws -> [KeptGuest] {
        var alive: [KeptGuest] = []
        for (uri, guests) in Dictionary(grouping: list(), by: \.uri) {
            let connection = try await LibvirtConnection(uri: uri)
            let active = Set((try? await connection.activeDomainNames()) ?? [])
            await connection.close()
            alive += guests.filter { active.contains($0.domain) }
        }
        return alive.sorted { $0.name < $1.name }
    }
}
