import Foundation
import LibSSH
import NetrigCore

/// A guest reached over SSH (libssh) with netrig's per-installation key.
public final class SSHGuestSession: GuestSession {
    public let name: String
    public let consoleLog: String
    public let bootSeconds: Double
    public let initSeconds: Double?
    let session: SSHSession

    init(name: String, consoleLog: String, bootSeconds: Double, initSeconds: Double? = nil, session: SSHSession) {
        self.name = name
        self.consoleLog = consoleLog
        self.bootSeconds = bootSeconds
        self.initSeconds = initSeconds
        self.session = session
    }

    /// The same session with its boot times filled in.
    public func booted(seconds: Double, initSeconds: Double?) -> SSHGuestSession {
        SSHGuestSession(name: name, consoleLog: consoleLog, bootSeconds: seconds, initSeconds: initSeconds, session: session)
    }

    /// Whether `connect` failed because the server refused the key (not because it is not up yet).
    public static func isAuthenticationRefusal(_ error: any Error) -> Bool {
        (error as? SSHError)?.code == .authenticate
    }

    /// Tries once to open an authenticated session to `127.0.0.1:port`.
    public static func connect(name: String, port: Int, privateKey: String, consoleLog: String,
                               bootSeconds: Double, connectTimeout: Duration = .seconds(5)) async throws -> SSHGuestSession {
        let session = try SSHSession(host: "127.0.0.1", port: port, user: "root", connectTimeout: connectTimeout)
        try await session.connect(privateKey: privateKey)
        return SSHGuestSession(name: name, consoleLog: consoleLog, bootSeconds: bootSeconds, session: session)
    }

    public func run(_ argv: [String], timeout: Duration) async throws -> CommandOutput {
        try await execute(ShellQuote.join(argv), input: [], timeout: timeout)
    }

    public func runScript(_ script: String, timeout: Duration) async throws -> CommandOutput {
        try await execute("sh -s", input: Array(script.utf8), timeout: timeout)
    }

    public func upload(_ hostPath: String, to guestPath: String, mode: Int) async throws {
        guard let data = FileManager.default.contents(atPath: hostPath) else {
            throw GuestUploadError(guest: name, reason: "cannot read \(hostPath)")
        }
        try await write(Array(data), to: guestPath, mode: mode, what: hostPath)
    }

    public func write(_ contents: String, to guestPath: String, mode: Int) async throws {
        try await write(Array(contents.utf8), to: guestPath, mode: mode, what: "text")
    }

    private func write(_ bytes: [UInt8], to guestPath: String, mode: Int, what: String) async throws {
        let directory = (guestPath as NSString).deletingLastPathComponent
        let command = ShellQuote.join(["mkdir", "-p", directory]) + " && cat > " + ShellQuote.quote(guestPath)
            + " && chmod " + String(mode, radix: 8) + " " + ShellQuote.quote(guestPath)
        let output = try await execute(command, input: bytes, timeout: .seconds(120))
        guard output.exitStatus == 0 else {
            throw GuestUploadError(guest: name, reason: "upload of \(what) to \(guestPath) failed: "
                                   + output.standardError.lastLines(3).joined(separator: " "))
        }
    }

    public func disconnect() async {
        await session.disconnect()
    }

    private func execute(_ command: String, input: [UInt8], timeout: Duration) async throws -> CommandOutput {
        do {
            let result = try await session.exec(command, input: input, timeout: timeout)
            return CommandOutput(exitStatus: result.exitStatus,
                                 standardOutput: String(decoding: result.standardOutput, as: UTF8.self),
                                 standardError: String(decoding: result.standardError, as: UTF8.self),
                                 exitSignal: result.exitSignal)
        } catch let error as SSHError where error.code == .cancelled {
            throw CancellationError()
        } catch let error as SSHError {
            throw GuestCommandError(guest: name, command: command, error: error)
        }
    }
}

/// A file could not be copied into a guest. Not a `NetrigError`: the run engine adds the phase it happened in.
public struct GuestUploadError: Error, CustomStringConvertible, Sendable {
    public var guest: String
    public var reason: String
    public var description: String { "guest \(guest): \(reason)" }
}

/// A command could not be run in a guest: timeout, lost connection.
public struct GuestCommandError: Error, CustomStringConvertible, Sendable {
    public var guest: String
    public var command: String
    public var error: SSHError
    public var isTimeout: Bool { error.code == .timeout }
    public var description: String { "guest \(guest): \(error.message)" }
}
