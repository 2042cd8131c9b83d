import CLibvirt
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A libvirt error as `virCopyLastError` reports it, read in the same closure as the failing call
/// (libvirt keeps the last error per thread).
public struct LibvirtError: Error, Sendable, CustomStringConvertible {
    /// `virErrorNumber`, e.g. VIR_ERR_NO_CONNECT.
    public var code: Int32
    /// `virErrorDomain`: which part of libvirt raised it.
    public var domain: Int32
    public var message: String
    /// The call that failed.
    public var function: String

    public var description: String { "\(function): \(message) (libvirt error \(code))" }

    static func last(_ function: String) -> LibvirtError {
        var error = virError()
        let copied = virCopyLastError(&error)
        defer { virResetError(&error) }
        guard copied >= 0, error.code != 0 else {
            return LibvirtError(code: -1, domain: -1, message: "unknown error", function: function)
        }
        let message = error.message.map { String(cString: $0) } ?? "unknown error"
        return LibvirtError(code: error.code, domain: error.domain, message: message, function: function)
    }
}

private let silenceDefaultErrorPrinter: Void = {
    // libvirt prints every error to stderr unless a handler is set; netrig reports errors itself.
    virSetErrorFunc(nil) { _, _ in }
}()

/// A connection to libvirt (`virConnectPtr`). Blocking calls run on one serial queue per connection,
/// never on Swift's shared task threads. Closed in `deinit` (or by `close()`); domains started with
/// `autodestroy` die with it.
public final class LibvirtConnection: Sendable {
    private let handle: Mutex<OpaquePointer?>
    private let queue: DispatchQueue
    public let uri: String

    /// Opens a connection (`virConnectOpen`): `qemu:///system` here, `qemu+ssh://host/system` for a remote host.
    public init(uri: String) async throws {
        _ = silenceDefaultErrorPrinter
        self.uri = uri
        let queue = DispatchQueue(label: "netrig.libvirt.\(uri)")
        self.queue = queue
        let pointer = try await Self.perform(on: queue) { () throws -> SendablePointer in
            guard let conn = virConnectOpen(uri) else { throw LibvirtError.last("virConnectOpen(\(uri))") }
            return SendablePointer(conn)
        }
        handle = Mutex(pointer.value)
    }

    deinit {
        if let conn = handle.withLock({ $0 }) { virConnectClose(conn) }
    }

    /// Closes the connection now (`virConnectClose`). Autodestroy domains are destroyed by libvirt.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.handle.withLock { conn in
                    if let c = conn { virConnectClose(c) }
                    conn = nil
                }
                continuation.resume()
            }
        }
    }

    /// libvirt's version as major.minor.release (`virConnectGetLibVersion`).
    public func libraryVersion() async throws -> String {
        try await withConnection("virConnectGetLibVersion") { conn in
            var version: UInt = 0
            guard virConnectGetLibVersion(conn, &version) == 0 else { throw LibvirtError.last("virConnectGetLibVersion") }
            return "\(version / 1_000_000).\(version / 1000 % 1000).\(version % 1000)"
        }
    }

    /// The hypervisor's version, e.g. QEMU 7.2.22 (`virConnectGetVersion`).
    public func hypervisorVersion() async throws -> String {
        try await withConnection("virConnectGetVersion") { conn in
            var version: UInt = 0
            guard virConnectGetVersion(conn, &version) == 0 else { throw LibvirtError.last("virConnectGetVersion") }
            return "\(version / 1_000_000).\(version / 1000 % 1000).\(version % 1000)"
        }
    }

    /// Whether the daemon still answers on this connection (`virConnectIsAlive`): false once libvirtd has
    /// stopped or restarted, or the connection was closed.
    public func isAlive() async -> Bool {
        (try? await withConnection("virConnectIsAlive") { conn in virConnectIsAlive(conn) == 1 }) ?? false
    }

    /// Starts a transient domain (`virDomainCreateXML`). With `autodestroy`, libvirt destroys it when this
    /// connection closes, also when the process dies.
    public func createTransientDomain(xml: String, autodestroy: Bool) async throws -> LibvirtDomain {
        let flags = autodestroy ? UInt32(VIR_DOMAIN_START_AUTODESTROY.rawValue) : 0
        let pointer = try await withConnection("virDomainCreateXML") { conn -> SendablePointer in
            guard let domain = virDomainCreateXML(conn, xml, flags) else { throw LibvirtError.last("virDomainCreateXML") }
            return SendablePointer(domain)
        }
        return LibvirtDomain(pointer: pointer, queue: queue)
    }

    /// The running domain called `name` (`virDomainLookupByName`), or nil.
    public func domain(named name: String) async throws -> LibvirtDomain? {
        let pointer = try await withConnection("virDomainLookupByName") { conn -> SendablePointer? in
            virDomainLookupByName(conn, name).map(SendablePointer.init)
        }
        return pointer.map { LibvirtDomain(pointer: $0, queue: queue) }
    }

    /// Names of running domains (`virConnectListAllDomains` with VIR_CONNECT_LIST_DOMAINS_ACTIVE).
    public func activeDomainNames() async throws -> [String] {
        try await withConnection("virConnectListAllDomains") { conn in
            var list: UnsafeMutablePointer<virDomainPtr?>?
            let count = virConnectListAllDomains(conn, &list, UInt32(VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue))
            guard count >= 0 else { throw LibvirtError.last("virConnectListAllDomains") }
            defer { free(list) }
            return (0..<Int(count)).compactMap { index in
                guard let domain = list?[index] else { return nil }
                defer { virDomainFree(domain) }
                return virDomainGetName(domain).map { String(cString: $0) }
            }
        }
    }

    private func withConnection<T: Sendable>(_ function: String, _ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await Self.perform(on: queue) {
            try self.handle.withLock { conn in
                guard let conn else {
                    throw LibvirtError(code: -1, domain: -1, message: "connection is closed", function: function)
                }
                return try body(conn)
            }
        }
    }

    static func perform<T: Sendable>(on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// A running domain (`virDomainPtr`), freed in `deinit`.
public final class LibvirtDomain: Sendable {
    private let handle: Mutex<OpaquePointer?>
    private let queue: DispatchQueue
    public let name: String

    init(pointer: SendablePointer, queue: DispatchQueue) {
        name = virDomainGetName(pointer.value).map { String(cString: $0) } ?? "?"
        handle = Mutex(pointer.value)
        self.queue = queue
    }

    deinit {
        if let domain = handle.withLock({ $0 }) { virDomainFree(domain) }
    }

    /// Stops the domain at once (`virDomainDestroy`); a transient domain disappears.
    public func destroy() async throws {
        try await LibvirtConnection.perform(on: queue) {
            try self.handle.withLock { domain in
                guard let domain else { return }
                if virDomainDestroy(domain) != 0 {
                    let error = LibvirtError.last("virDomainDestroy(\(self.name))")
                    // Already gone (VIR_ERR_NO_DOMAIN or VIR_ERR_OPERATION_INVALID) is what we wanted.
                    if error.code != VIR_ERR_NO_DOMAIN.rawValue, error.code != VIR_ERR_OPERATION_INVALID.rawValue { throw error }
                }
            }
        }
    }

    /// Whether the domain still runs (`virDomainIsActive`); false once it has crashed or shut down.
    public func isActive() async throws -> Bool {
        try await LibvirtConnection.perform(on: queue) {
            try self.handle.withLock { domain in
                guard let domain else { return false }
                let active = virDomainIsActive(domain)
                if active < 0 {
                    let error = LibvirtError.last("virDomainIsActive(\(self.name))")
                    if error.code == VIR_ERR_NO_DOMAIN.rawValue { return false }
                    throw error
                }
                return active == 1
            }
        }
    }
}

/// Carries a C pointer out of the connection queue's closure; used only to hand it to a Mutex.
struct SendablePointer: @unchecked Sendable {
    let value: OpaquePointer
    init(_ value: OpaquePointer) { self.value = value }
}
