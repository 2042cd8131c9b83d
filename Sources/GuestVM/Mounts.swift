import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File systems mounted below a directory netrig is about to delete. mmdebstrap (root mode) mounts /proc,
/// an rbind of /sys and bind mounts of /dev nodes into the root it builds; a build stopped before it
/// unmounted them leaves them there, and a recursive delete would walk into them. They are detached first.
enum Mounts {
    /// Mount points at or below `directory` in a /proc/self/mountinfo text, deepest first.
    static func points(under directory: String, mountinfo: String) -> [String] {
        let prefix = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let points = mountinfo.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4 else { return nil }
            let point = unescape(String(fields[4]))
            return point == prefix || point.hasPrefix(prefix + "/") ? point : nil
        }
        return points.sorted { $0.split(separator: "/").count > $1.split(separator: "/").count }
    }

    /// Lazily detaches every mount at or below `directory`; returns those still mounted afterwards.
    static func detachAll(under directory: String) -> [String] {
        for point in points(under: directory, mountinfo: current()) { _ = umount2(point, Int32(MNT_DETACH)) }
        return points(under: directory, mountinfo: current())
    }

    static func current() -> String {
        (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    }

    /// mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040 and so on).
    static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.first {
            if byte == UInt8(ascii: "\\"), utf8.count >= 4,
               let value = UInt8(String(decoding: utf8.dropFirst().prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(4)
            } else {
                bytes.append(byte)
                utf8 = utf8.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
