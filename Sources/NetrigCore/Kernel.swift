/// A kernel tree netrig builds from: a git repository and the base commit of the series.
public struct KernelTree: Sendable, Codable, Equatable {
    /// Path of the git repository (the user's tree, or netrig's import of Debian's source).
    public var repository: String
    /// Human name: "debian linux-source-6.12 (6.12.117)" or the path.
    public var name: String
    public var baseCommit: String
    /// `make kernelversion` at the base.
    public var version: String

    public init(repository: String, name: String, baseCommit: String, version: String) {
        self.repository = repository
        self.name = name
        self.baseCommit = baseCommit
        self.version = version
    }
}

/// Which side of the comparison a kernel, a boot or a sample belongs to.
public enum Side: String, Sendable, Codable, CaseIterable {
    case baseline
    case patched
}

/// One kconfig fragment: a file under `kconfigs/fragments/`.
public struct ConfigFragment: Sendable, Codable, Equatable {
    public var name: String
    public var text: String

    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }

    /// The symbol assignments the fragment makes, in order (`# CONFIG_X is not set` counts as `n`).
    public var assignments: [ConfigAssignment] {
        text.split(separator: "\n", omittingEmptySubsequences: true).compactMap {
            ConfigAssignment(line: String($0))
        }
    }
}

/// `CONFIG_NAME=value`, with `n` for "is not set".
public struct ConfigAssignment: Sendable, Codable, Equatable, Hashable {
    public var symbol: String
    public var value: String

    public init(symbol: String, value: String) {
        self.symbol = symbol
        self.value = value
    }

    /// Parses one `.config` line; nil for comments and blank lines.
    public init?(line: String) {
        let trimmed = line.trimmingWhitespace
        if trimmed.hasPrefix("# CONFIG_"), trimmed.hasSuffix(" is not set") {
            let name = trimmed.dropFirst(2).dropLast(" is not set".count)
            self.init(symbol: String(name), value: "n")
            return
        }
        guard trimmed.hasPrefix("CONFIG_"), let eq = trimmed.firstIndex(of: "=") else { return nil }
        self.init(symbol: String(trimmed[..<eq]), value: String(trimmed[trimmed.index(after: eq)...]))
    }
}

/// A named config: a base (`tinyconfig`) and the fragments merged onto it, as listed in `kconfigs/NAME.toml`.
public struct KernelConfigSpec: Sendable, Codable, Equatable {
    public var name: String
    public var base: String
    public var fragments: [ConfigFragment]

    public init(name: String, base: String, fragments: [ConfigFragment]) {
        self.name = name
        self.base = base
        self.fragments = fragments
    }

    /// Every assignment the fragments request; a later fragment overrides an earlier one.
    public var requested: [ConfigAssignment] {
        var order: [String] = []
        var values: [String: String] = [:]
        for assignment in fragments.flatMap(\.assignments) {
            if values[assignment.symbol] == nil { order.append(assignment.symbol) }
            values[assignment.symbol] = assignment.value
        }
        return order.map { ConfigAssignment(symbol: $0, value: values[$0]!) }
    }
}

/// A requested symbol that olddefconfig changed.
public struct DroppedSymbol: Sendable, Codable, Equatable {
    public var symbol: String
    public var requested: String
    /// The value it ended with ("n" when absent).
    public var actual: String
    /// Why, from the kernel's own Kconfig: the unmet `depends on`, or that the symbol does not exist.
    public var reason: String

    public init(symbol: String, requested: String, actual: String, reason: String) {
        self.symbol = symbol
        self.requested = requested
        self.actual = actual
        self.reason = reason
    }
}

/// A user-space program built from the tree under test (so that its UAPI matches the kernel).
public struct GuestProgram: Sendable, Codable, Equatable, Hashable {
    public var name: String
    /// Source files relative to the tree root.
    public var sources: [String]
    /// Extra libraries to link (`-lpthread`).
    public var libraries: [String]
    /// Sources netrig ships with the workload (`workloads/programs/`), by file name: compiled against the
    /// tree's UAPI headers like the tree's own. nil when there are none.
    public var shipped: [String: String]?

    public init(name: String, sources: [String], libraries: [String] = [], shipped: [String: String]? = nil) {
        self.name = name
        self.sources = sources
        self.libraries = libraries
        self.shipped = shipped
    }
}

/// What the builder needs for one side.
public struct BuildRequest: Sendable, Equatable {
    public var side: Side
    public var tree: KernelTree
    public var commit: String
    public var config: KernelConfigSpec
    public var programs: [GuestProgram]

    public init(side: Side, tree: KernelTree, commit: String, config: KernelConfigSpec, programs: [GuestProgram]) {
        self.side = side
        self.tree = tree
        self.commit = commit
        self.config = config
        self.programs = programs
    }
}

/// A built kernel and the programs built with it, kept in netrig's content-addressed cache.
public struct KernelArtifact: Sendable, Codable, Equatable {
    public var side: Side
    public var commit: String
    /// Cache key: tree contents, config request, programs and compiler.
    public var key: String
    public var configName: String
    /// SHA-256 of the effective `.config`.
    public var configHash: String
    /// Path of the bootable image (bzImage).
    public var kernelImage: String
    /// Path of the effective `.config`.
    public var configPath: String
    /// Program name → host path.
    public var programs: [String: String]
    public var buildLog: String
    /// true when the artifact came from the cache and nothing was built.
    public var cached: Bool
    public var buildSeconds: Double
    /// ccache hits / (hits + misses) during this build; nil when unknown or cached.
    public var ccacheHitRatio: Double?
    /// The commands that reproduce the build.
    public var reproducer: [[String]]
    /// Checks a boot of this kernel cannot make because the tree lacks what they need (no ynl CLI: no
    /// page_pool state). nil in entries made before netrig recorded it.
    public var unchecked: [UncheckedCheck]?

    public init(side: Side, commit: String, key: String, configName: String, configHash: String, kernelImage: String,
                configPath: String, programs: [String: String], buildLog: String, cached: Bool,
                buildSeconds: Double, ccacheHitRatio: Double?, reproducer: [[String]]) {
        self.side = side
        self.commit = commit
        self.key = key
        self.configName = configName
        self.configHash = configHash
        self.kernelImage = kernelImage
        self.configPath = configPath
        self.programs = programs
        self.buildLog = buildLog
        self.cached = cached
        self.buildSeconds = buildSeconds
        self.ccacheHitRatio = ccacheHitRatio
        self.reproducer = reproducer
    }
}

/// The build of one patch of a series, incremental on the build of the patch before it.
public struct PatchBuild: Sendable, Codable, Equatable {
    /// 1-based index in the series.
    public var patch: Int
    public var subject: String
    public var commit: String
    public var succeeded: Bool
    /// The first compiler error (`file:line:col: error: ...`), or the build's last words when it has none.
    public var firstError: String?
    /// Compiler warnings this patch introduced (`file:line:col: warning: ...`).
    public var newWarnings: [String]
    /// true when this commit's kernel was already in the cache.
    public var cached: Bool
    public var seconds: Double
    public var log: String?

    public init(patch: Int, subject: String, commit: String, succeeded: Bool, firstError: String? = nil, newWarnings: [String] = [],
                cached: Bool, seconds: Double, log: String? = nil) {
        self.patch = patch
        self.subject = subject
        self.commit = commit
        self.succeeded = succeeded
        self.firstError = firstError
        self.newWarnings = newWarnings
        self.cached = cached
        self.seconds = seconds
        self.log = log
    }

    /// The series broke something in this patch: it does not build, or it adds warnings.
    public var isFinding: Bool { !succeeded || !newWarnings.isEmpty }
}

/// A config symbol whose effective value the series changed (through Kconfig).
public struct ConfigChange: Sendable, Codable, Equatable {
    public var symbol: String
    /// "n" when the symbol is unset or absent.
    public var baseline: String
    public var patched: String

    public init(symbol: String, baseline: String, patched: String) {
        self.symbol = symbol
        self.baseline = baseline
        self.patched = patched
    }

    /// The symbols whose values differ between two effective configs (symbol → value).
    public static func between(_ baseline: [String: String], _ patched: [String: String]) -> [ConfigChange] {
        Set(baseline.keys).union(patched.keys).sorted().compactMap { symbol in
            let before = baseline[symbol] ?? "n", after = patched[symbol] ?? "n"
            return before == after ? nil : ConfigChange(symbol: symbol, baseline: before, patched: after)
        }
    }
}
