import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into task cancellation, so every phase tears down what it started (guests,
/// child processes, temporary files) and the run is stored as interrupted.
enum SignalCancellation {
    /// The signal that stopped the command, if one did: it exits with 128 + that number, as a shell does.
    static let received = Mutex<Int32?>(nil)

    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nnetrig: signal \(number), stopping: tearing down guests and processes\n".utf8))
                received.withLock { $0 = $0 ?? number }
                task.cancel()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        return try await task.value
    }
}
