#if canImport(Glibc)
import Glibc
#endif

/// Free ports on 127.0.0.1, found by binding port 0 and reading what the kernel chose.
enum LocalPorts {
    /// A free TCP port.
    static func free() throws -> Int { try free(type: Int32(SOCK_STREAM.rawValue)) }

    /// A free UDP port (the socket backends of a `pair` link).
    static func freeUDP() throws -> Int { try free(type: Int32(SOCK_DGRAM.rawValue)) }

    static func free(type: Int32) throws -> Int {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw PortError() }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw PortError() }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw PortError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct PortError: Error, CustomStringConvertible {
        var description: String { "no free port on 127.0.0.1" }
    }
}
