import CLibssh
import Dispatch
import Synchronization

/// An error from libssh (`ssh_get_error`), or a timeout.
public struct SSHError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case connect, authenticate, channel, timeout, closed
        /// The calling task was cancelled while the command ran; the channel was closed.
        case cancelled
    }
    public var code: Code
    public var message: String
    public var description: String { message }
}

/// What a remote command produced.
public struct SSHExecResult: Sendable, Equatable {
    /// -1 when the command ended without one (see `exitSignal`).
    public var exitStatus: Int32
    public var standardOutput: [UInt8]
    public var standardError: [UInt8]
    /// The signal that ended the command ("KILL", "SEGV"), when the server says so.
    public var exitSignal: String?
}

/// One SSH session (`ssh_session`) with public-key authentication. libssh blocks, so every call runs on a
/// serial queue owned by the session, bridged with a continuation. Freed in `deinit`.
public final class SSHSession: Sendable {
    private let handle: Mutex<OpaquePointer?>
    private let queue: DispatchQueue
    public let host: String
    public let port: Int
    /// Limit for one blocking libssh call after the connection is up.
    public static let operationTimeout: Duration = .seconds(90)

    /// Creates a session (`ssh_new`, `ssh_options_set`) for `user@host:port`. Host keys are not checked:
    /// guests are netrig's own, reached over loopback, and get new keys with every image.
    public init(host: String, port: Int, user: String, connectTimeout: Duration = .seconds(10)) throws {
        guard let session = ssh_new() else { throw SSHError(code: .connect, message: "ssh_new failed") }
        var portValue = Int32(port)
        var timeout = Int(connectTimeout.components.seconds)
        var verbosity = Int32(SSH_LOG_NOLOG)
        var strict = Int32(0)
        ssh_options_set(session, SSH_OPTIONS_HOST, host)
        ssh_options_set(session, SSH_OPTIONS_PORT, &portValue)
        ssh_options_set(session, SSH_OPTIONS_USER, user)
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout)
        ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity)
        ssh_options_set(session, SSH_OPTIONS_STRICTHOSTKEYCHECK, &strict)
        ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, "/dev/null")
        handle = Mutex(session)
        queue = DispatchQueue(label: "netrig.ssh.\(host):\(port)")
        self.host = host
        self.port = port
    }

    deinit {
        handle.withLock { session in
            if let s = session {
                ssh_disconnect(s)
                ssh_free(s)
            }
            session = nil
        }
    }

    /// Connects (`ssh_connect`) and authenticates with a private key file (`ssh_pki_import_privkey_file`,
    /// `ssh_userauth_publickey`).
    public func connect(privateKey: String) async throws {
        try await perform { session in
            guard ssh_connect(session) == SSH_OK else {
                throw SSHError(code: .connect, message: "connect to \(self.host):\(self.port): \(Self.lastError(session))")
            }
            var key: ssh_key?
            guard ssh_pki_import_privkey_file(privateKey, nil, nil, nil, &key) == SSH_OK, let key else {
                throw SSHError(code: .authenticate, message: "cannot read private key \(privateKey)")
            }
            defer { ssh_key_free(key) }
            let auth = ssh_userauth_publickey(session, nil, key)
            guard auth == SSH_AUTH_SUCCESS.rawValue else {
                throw SSHError(code: .authenticate, message: "public key authentication refused by \(self.host):\(self.port): \(Self.lastError(session))")
            }
            // The connect timeout also bounds every later blocking call (opening a channel, for one): give
            // a slow emulated guest more room once it has answered.
            var operationTimeout = Int(Self.operationTimeout.components.seconds)
            ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &operationTimeout)
        }
    }

    /// Runs `command` in a new channel (`ssh_channel_request_exec`), sends `input` to its standard input,
    /// and collects its output until it exits or `timeout` passes (then the channel is closed).
    public func exec(_ command: String, input: [UInt8] = [], timeout: Duration) async throws -> SSHExecResult {
        // libssh blocks on the session's queue; a cancelled task (Ctrl-C) must not wait for the command.
        let cancelled = CancelFlag()
        return try await withTaskCancellationHandler {
            try await exec(command, input: input, timeout: timeout, cancelled: cancelled)
        } onCancel: {
            cancelled.set()
        }
    }

    private func exec(_ command: String, input: [UInt8], timeout: Duration, cancelled: CancelFlag) async throws -> SSHExecResult {
        try await perform { session in
            if cancelled.isSet { throw SSHError(code: .cancelled, message: "cancelled before '\(command.prefix(120))' started") }
            guard let channel = ssh_channel_new(session) else {
                throw SSHError(code: .channel, message: "ssh_channel_new: \(Self.lastError(session))")
            }
            let exitSignal = UnsafeMutablePointer<netrig_exit_signal>.allocate(capacity: 1)
            defer {
                ssh_channel_close(channel)
                ssh_channel_free(channel)
                exitSignal.deallocate()
            }
            _ = netrig_watch_exit_signal(channel, exitSignal)
            guard ssh_channel_open_session(channel) == SSH_OK else {
                let reason = Self.lastError(session)
                throw SSHError(code: .channel, message: "ssh_channel_open_session: \(reason.isEmpty ? "no answer within \(Self.operationTimeout)" : reason)")
            }
            guard ssh_channel_request_exec(channel, command) == SSH_OK else {
                throw SSHError(code: .channel, message: "ssh_channel_request_exec: \(Self.lastError(session))")
            }
            var offset = 0
            while offset < input.count {
                let written = input[offset...].withUnsafeBytes { buffer in
                    ssh_channel_write(channel, buffer.baseAddress, UInt32(min(buffer.count, 32_768)))
                }
                guard written > 0 else { throw SSHError(code: .channel, message: "ssh_channel_write: \(Self.lastError(session))") }
                offset += Int(written)
            }
            ssh_channel_send_eof(channel)
            let deadline = ContinuousClock.now + timeout
            var out: [UInt8] = [], err: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                var progressed = false
                for isStderr in [Int32(0), Int32(1)] {
                    let count = buffer.withUnsafeMutableBytes {
                        ssh_channel_read_nonblocking(channel, $0.baseAddress, UInt32($0.count), isStderr)
                    }
                    if count == SSH_ERROR {
                        throw SSHError(code: .closed, message: "connection lost: \(Self.lastError(session))")
                    }
                    if count > 0 {
                        progressed = true
                        if isStderr == 1 { err += buffer[0..<Int(count)] } else { out += buffer[0..<Int(count)] }
                    }
                }
                if cancelled.isSet { throw SSHError(code: .cancelled, message: "cancelled while '\(command.prefix(120))' ran") }
                if !progressed {
                    if ssh_channel_is_eof(channel) != 0 { break }
                    if ContinuousClock.now > deadline {
                        throw SSHError(code: .timeout, message: "'\(command.prefix(120))' did not finish within \(timeout)")
                    }
                    // Wait for data on either stream for at most 50 ms.
                    _ = ssh_channel_poll_timeout(channel, 50, 0)
                }
            }
            var status: Int32 = -1
            for _ in 0..<100 {
                status = ssh_channel_get_exit_status(channel)
                if status != -1 || exitSignal.pointee.name.0 != 0 { break }
                _ = ssh_channel_poll_timeout(channel, 10, 0)
            }
            let signal = withUnsafeBytes(of: exitSignal.pointee.name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            return SSHExecResult(exitStatus: status, standardOutput: out, standardError: err, exitSignal: signal.isEmpty ? nil : signal)
        }
    }

    /// Disconnects (`ssh_disconnect`).
    public func disconnect() async {
        _ = try? await perform { session in ssh_disconnect(session) }
    }

    private func perform<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result {
                    try self.handle.withLock { session in
                        guard let session else { throw SSHError(code: .closed, message: "session is closed") }
                        return try body(session)
                    }
                })
            }
        }
    }

    private static func lastError(_ session: OpaquePointer) -> String {
        String(cString: ssh_get_error(UnsafeMutableRawPointer(session)))
    }
}

/// Set when the task that waits for a blocking libssh call is cancelled; the call's loop checks it.
final class CancelFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
