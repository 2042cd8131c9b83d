/// A kernel tree netrig knows by name: Debian's kernel source package of one version, made a git tree in
/// netrig's cache once. `--tree NAME` takes one of these; anything else given to `--tree` is a path.
public struct NamedTree: Sendable, Equatable {
    /// `debian-6.12`, `debian-7.2`.
    public var name: String
    /// The Debian binary package that holds the source tarball.
    public var package: String
    /// The tarball inside the package (and, for an installed package, on this machine).
    public var tarball: String
    /// Where the package comes from: the system's own apt (an installed package), or a Debian suite fetched
    /// into netrig's cache with a private apt state (never the system's sources).
    public var origin: Origin
    /// The directory under the cache's `trees/` that holds the import.
    public var directoryName: String

    public enum Origin: Sendable, Equatable {
        /// Installed with the system's apt (Debian 12 ships it): `apt-get install PACKAGE`.
        case installed
        /// Downloaded from this suite of Debian's archive into netrig's cache.
        case suite(String)
    }

    public init(name: String, package: String, origin: Origin) {
        self.name = name
        self.package = package
        self.tarball = "/usr/src/\(package).tar.xz"
        self.origin = origin
        self.directoryName = "debian-\(package)"
    }

    /// The commit message of the import: part of the canonical commit, so it never changes for a tree
    /// (6.12.117 imports as d3a2b670c92e on every machine).
    public func importMessage(version: String) -> String { "Debian \(package) \(version)" }

    /// Human name before the version is known: "Debian linux-source-7.2".
    public var title: String { "Debian \(package)" }

    public static let debian612 = NamedTree(name: "debian-6.12", package: "linux-source-6.12", origin: .installed)
    public static let debian72 = NamedTree(name: "debian-7.2", package: "linux-source-7.2", origin: .suite("unstable"))

    public static let all: [NamedTree] = [.debian612, .debian72]
    /// The tree of a run that names none.
    public static let `default` = NamedTree.debian612

    /// The named tree a `--tree` value means, or nil for a path. A directory that happens to have a
    /// tree's name is given as a path (`./debian-7.2`).
    public static func named(_ request: String) -> NamedTree? {
        all.first { $0.name == request }
    }

    /// The oldest tree netrig supports: netmem, page_pool's netlink API and devmem TCP are all there.
    public static let oldestSupportedVersion = KernelVersion(6, 12)
}

/// `VERSION.PATCHLEVEL[.SUBLEVEL]` of a kernel Makefile, comparable.
public struct KernelVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var sublevel: Int

    public init(_ major: Int, _ minor: Int, _ sublevel: Int = 0) {
        self.major = major
        self.minor = minor
        self.sublevel = sublevel
    }

    /// Parses "6.12.117" or "7.2"; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".").map { Int($0) }
        guard parts.count >= 2, parts.allSatisfy({ $0 != nil }) else { return nil }
        self.init(parts[0]!, parts[1]!, parts.count > 2 ? parts[2]! : 0)
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.major, a.minor, a.sublevel) < (b.major, b.minor, b.sublevel)
    }

    public var description: String { "\(major).\(minor).\(sublevel)" }
}
