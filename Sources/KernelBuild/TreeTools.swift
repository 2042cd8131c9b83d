import Foundation
import NetrigCore

/// What netrig takes from a kernel tree besides the kernel, found by probing the tree: the layout moves
/// between versions (ynl's CLI went from `tools/net/ynl/cli.py` in 6.12 to `tools/net/ynl/pyynl/cli.py`),
/// so nothing assumes one version's paths, and what is missing is named with every place looked at.
public enum TreeTools {
    /// The tree's ynl CLI and its Python library, relative to the tree's top.
    public struct Ynl: Sendable, Equatable {
        public var cli: String
        public var library: String
        /// The directory that holds both (its prefix is dropped in the guest's copy).
        public var directory: String
    }

    /// Where trees have kept ynl, newest layout first. 7.x also has `tools/net/ynl/lib`: the C library,
    /// which is why each candidate names the CLI and the library together.
    public static let ynlCandidates: [Ynl] = [
        Ynl(cli: "tools/net/ynl/pyynl/cli.py", library: "tools/net/ynl/pyynl/lib", directory: "tools/net/ynl/pyynl"),
        Ynl(cli: "tools/net/ynl/cli.py", library: "tools/net/ynl/lib", directory: "tools/net/ynl"),
    ]
    /// The netlink specs (netdev.yaml for page_pool state and dma-buf binding, rt-link.yaml for links).
    public static let specs = "Documentation/netlink/specs"
    public static let netdevSpec = specs + "/netdev.yaml"

    /// The ynl CLI the tree at `worktree` has, or why there is none (every path tried).
    public static func ynl(in worktree: String) -> Result<Ynl, Missing> {
        let fm = FileManager.default
        let exists = { (path: String) in fm.fileExists(atPath: worktree + "/" + path) }
        guard exists(netdevSpec) else { return .failure(Missing(what: "netlink spec", lookedAt: [netdevSpec])) }
        if let found = ynlCandidates.first(where: { exists($0.cli) && exists($0.library + "/ynl.py") }) { return .success(found) }
        return .failure(Missing(what: "ynl CLI", lookedAt: ynlCandidates.map(\.cli)))
    }

    /// The tar a guest unpacks into `/root/ynl`: `cli.py`, `lib/` and `specs/`, the same layout for
    /// every tree, so the guest's scripts name one path.
    public static func ynlPackArguments(_ ynl: Ynl, worktree: String, output: String) -> [String] {
        ["-C", worktree, "--exclude=*.c", "--exclude=*.h", "--exclude=Makefile", "--exclude=__pycache__",
         "--transform=s,^\(ynl.directory)/,,", "--transform=s,^\(specs),specs,",
         "-cf", output, ynl.cli, ynl.library, specs]
    }

    /// Something the tree does not have, with the paths looked at.
    public struct Missing: Error, Sendable, Equatable, CustomStringConvertible {
        public var what: String
        public var lookedAt: [String]
        public var description: String { "the tree has no \(what) at " + lookedAt.joined(separator: " or ") }
    }
}
