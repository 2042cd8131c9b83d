import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive flock(2) between netrig processes on one host, held for the duration of `body`: one
/// build at a time per worktree, one opener at a time migrating a store.
///
/// `path` may be a directory (locked as it is, never created) or a file (created when missing). Lock a
/// directory rather than an SQLite database file: closing any descriptor of that file would drop the POSIX
/// locks SQLite's own connections in this process hold on it.
public enum FileLock {
    /// Waits for the lock without blocking a thread (polls every 500 ms): for long holders such as builds.
    public static func withLock<T>(_ path: String, _ body: () async throws -> T) async throws -> T {
        let descriptor = try open(path)
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            try await Task.sleep(for: .milliseconds(500))
        }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }

    /// Blocks the calling thread until the lock is held: for short holders (opening a store).
    public static func withLockBlocking<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let descriptor = try open(path)
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    private static func open(_ path: String) throws -> Int32 {
        var isDirectory: ObjCBool = false
        let directory = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        let descriptor = directory ? Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                   : Glibc.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return descriptor
    }
}
