/// Where netrig keeps its state, following the XDG base directory conventions.
public struct NetrigDirectories: Sendable, Equatable {
    /// Trees, worktrees, build outputs, ccache, kernels, images: all rebuildable.
    public var cache: String
    /// The run store and SSH keys: not rebuildable.
    public var data: String

    public init(cache: String, data: String) {
        self.cache = cache
        self.data = data
    }

    /// `NETRIG_CACHE_DIR`/`NETRIG_DATA_DIR`, else `$XDG_CACHE_HOME/netrig` and `$XDG_DATA_HOME/netrig`,
    /// else under `$HOME`.
    public init(environment: [String: String]) {
        let home = environment["HOME"] ?? "/root"
        cache = environment["NETRIG_CACHE_DIR"]
            ?? (environment["XDG_CACHE_HOME"].map { $0 + "/netrig" } ?? home + "/.cache/netrig")
        data = environment["NETRIG_DATA_DIR"]
            ?? (environment["XDG_DATA_HOME"].map { $0 + "/netrig" } ?? home + "/.local/share/netrig")
    }

    public var trees: String { cache + "/trees" }
    public var work: String { cache + "/work" }
    public var ccache: String { cache + "/ccache" }
    public var kernels: String { cache + "/kernels" }
    public var images: String { cache + "/images" }
    /// The last KVM-or-TCG probe's answer, valid for the host boot it was made in.
    public var acceleratorProbe: String { cache + "/accelerator-probe.json" }
    public var sshKey: String { data + "/ssh/id_ed25519" }
    public var defaultStore: String { data + "/netrig.sqlite" }
    /// Guests left running by `--keep`, one JSON file each (for `netrig ssh`).
    public var keptGuests: String { data + "/guests" }
}
