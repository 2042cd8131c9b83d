/// A kmemleak report: one unreferenced object.
public struct Leak: Sendable, Codable, Equatable {
    public var side: Side
    public var size: Int
    public var comm: String
    /// Backtrace frames as kmemleak printed them (`kmalloc_trace+0x26/0x90`).
    public var backtrace: [String]
    /// Stable identity across runs and kernels: the top non-allocator frames without offsets.
    public var fingerprint: String
    public var raw: String
    /// The leak-check boot of its side that found it: 1, or 2 when a new leak was being confirmed.
    public var round: Int
    /// The leak boot that found it; nil before it is stored.
    public var boot: BootID?

    public init(side: Side, size: Int, comm: String, backtrace: [String], fingerprint: String, raw: String, round: Int = 1,
                boot: BootID? = nil) {
        self.boot = boot
        self.side = side
        self.round = round
        self.size = size
        self.comm = comm
        self.backtrace = backtrace
        self.fingerprint = fingerprint
        self.raw = raw
    }
}

/// A kernel splat found in dmesg or on the console.
public struct Splat: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case warning, bug, oops, panic, kasan, kfence, stalledPool = "stalled-pool", genpool, oom
        case badPage = "bad-page", dmaAPI = "dma-api", dmar, netdevWait = "netdev-wait"
        case hungTask = "hung-task", rcuStall = "rcu-stall", kmemleakDisabled = "kmemleak-disabled"
        /// Not from dmesg: page pools that netlink still lists, with pages in flight, after the test NICs
        /// were torn down (`page-pool-get`).
        case pagePoolLeftover = "page-pool-leftover"

        /// The kinds that are page_pool's own trouble.
        public var isPagePool: Bool { [.stalledPool, .genpool, .badPage, .pagePoolLeftover].contains(self) }
    }
    public var side: Side
    public var kind: Kind
    /// The line that identifies it (first line of the splat).
    public var title: String
    /// The splat's text as printed, up to its end marker.
    public var text: String
    /// The boot whose kernel printed it; nil before it is stored.
    public var boot: BootID?

    public init(side: Side, kind: Kind, title: String, text: String, boot: BootID? = nil) {
        self.boot = boot
        self.side = side
        self.kind = kind
        self.title = title
        self.text = text
    }
}

/// A check a boot promised and could not make: never reported as a clean result. A run with one cannot
/// pass (it is inconclusive), and the text, JSON and pages say which check, where and why.
public struct UncheckedCheck: Sendable, Codable, Equatable, Hashable {
    /// What was not checked: "page_pool leftovers", "workload devmem_rx".
    public var check: String
    /// Why, in words that name what was missing and where netrig looked.
    public var reason: String

    public init(check: String, reason: String) {
        self.check = check
        self.reason = reason
    }

    /// The page_pool leftover check.
    public static let pagePoolLeftovers = "page_pool leftovers"

    /// One line per check and reason, naming the sides: "page_pool leftovers: not checked on baseline and
    /// patched (the tree has no ynl CLI at …)". The same boots give the same lines, in the same order.
    public static func summarize(_ entries: [(side: Side, check: UncheckedCheck)]) -> [String] {
        let keys = entries.map(\.check).uniqued()
        return keys.map { key in
            let sides = Side.allCases.filter { side in entries.contains { $0.side == side && $0.check == key } }
            return "\(key.check): not checked on \(sides.map(\.rawValue).joined(separator: " and ")) (\(key.reason))"
        }
    }
}

/// What the collectors found on one guest after its workloads.
public struct Collected: Sendable, Equatable {
    public var leaks: [Leak]
    public var splats: [Splat]
    public var dmesg: String
    /// What /sys/kernel/debug/kmemleak said, unparsed; nil when the boot did not scan.
    public var kmemleakReport: String?
    /// Checks the collector could not make in this guest.
    public var unchecked: [UncheckedCheck]

    public init(leaks: [Leak], splats: [Splat], dmesg: String, kmemleakReport: String? = nil, unchecked: [UncheckedCheck] = []) {
        self.leaks = leaks
        self.splats = splats
        self.dmesg = dmesg
        self.kmemleakReport = kmemleakReport
        self.unchecked = unchecked
    }
}

/// Collects leaks and splats from a guest: `prepare` before the workload, `collect` after it.
public protocol GuestCollector: Sendable {
    func prepare(on guest: any GuestSession, kmemleak: Bool) async throws
    func collect(on guest: any GuestSession, side: Side, kmemleak: Bool) async throws -> Collected
    /// After a workload failed: what the guest's kernel said (its console on the host, and dmesg when the
    /// guest still answers within seconds). Never throws: a guest that died says what its console says.
    func salvage(on guest: any GuestSession, side: Side) async -> Collected
}

/// One thing a run found, as the JSON document and the pages report it.
public struct Finding: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case apply, config, build, boot, splat, leak, pagePool = "page_pool", throughput, infrastructure
    }
    public var kind: Kind
    /// Whose fault: the series, or the infrastructure (libvirt, disk, SSH, an image) or the user's input.
    public var blame: NetrigError.Blame
    public var config: String
    public var nic: String
    public var workload: String
    /// 1-based index of the patch at fault, or nil when the finding is not attributed to one patch.
    public var patch: Int?
    public var summary: String
    public var evidence: Evidence

    public struct Evidence: Sendable, Codable, Equatable {
        public var metric: String?
        public var unit: String?
        public var baselineMedian: Double?
        public var patchedMedian: Double?
        public var delta: Double?
        public var interval: [Double]?
        public var pValue: Double?
        public var fingerprint: String?
        public var backtrace: [String]?
        public var text: String?
        public var details: [String]?

        public init(metric: String? = nil, unit: String? = nil, baselineMedian: Double? = nil, patchedMedian: Double? = nil,
                    delta: Double? = nil, interval: [Double]? = nil, pValue: Double? = nil, fingerprint: String? = nil,
                    backtrace: [String]? = nil, text: String? = nil, details: [String]? = nil) {
            self.metric = metric
            self.unit = unit
            self.baselineMedian = baselineMedian
            self.patchedMedian = patchedMedian
            self.delta = delta
            self.interval = interval
            self.pValue = pValue
            self.fingerprint = fingerprint
            self.backtrace = backtrace
            self.text = text
            self.details = details
        }
    }

    enum CodingKeys: String, CodingKey {
        case kind, blame, config, nic, workload, patch, summary, evidence
    }

    /// `patch` is written as null when the finding is not attributed to one patch (never left out).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(blame, forKey: .blame)
        try container.encode(config, forKey: .config)
        try container.encode(nic, forKey: .nic)
        try container.encode(workload, forKey: .workload)
        try container.encode(patch, forKey: .patch)
        try container.encode(summary, forKey: .summary)
        try container.encode(evidence, forKey: .evidence)
    }

    public init(kind: Kind, blame: NetrigError.Blame, config: String, nic: String, workload: String, patch: Int?,
                summary: String, evidence: Evidence) {
        self.kind = kind
        self.blame = blame
        self.config = config
        self.nic = nic
        self.workload = workload
        self.patch = patch
        self.summary = summary
        self.evidence = evidence
    }
}

extension Finding {
    /// The findings of a comparison: regressions, new leaks, new splats (all the series' doing).
    public static func from(_ comparison: Comparison, plan: RunPlan) -> [Finding] {
        func finding(_ kind: Kind, _ summary: String, _ evidence: Evidence) -> Finding {
            Finding(kind: kind, blame: .series, config: plan.configName, nic: plan.nic.rawValue, workload: plan.workload,
                    patch: nil, summary: summary, evidence: evidence)
        }
        var findings: [Finding] = []
        // Each says why it is the series': what the baseline, run the same way, did instead.
        for metric in comparison.metrics where metric.verdict == .regression {
            let p = (metric.pValue * 1000).rounded() / 1000
            let why = "blame: the series, because the patched kernel's \(metric.patched.count) samples differ from the baseline's "
                + "\(metric.baseline.count) beyond the noise (p = \(p), a change beyond \(Percent.format(metric.threshold, signed: false)))"
            findings.append(finding(.throughput, "\(metric.metric) \(Percent.format(metric.delta)) (regression)", Evidence(
                metric: metric.metric, unit: metric.unit, baselineMedian: metric.baselineMedian, patchedMedian: metric.patchedMedian,
                delta: metric.delta, interval: metric.interval.map { [$0.lowerBound, $0.upperBound] }, pValue: metric.pValue, details: [why])))
        }
        for leak in comparison.newLeaks {
            findings.append(finding(.leak, "new leak: \(leak.fingerprint) (\(leak.size) bytes)",
                                    Evidence(fingerprint: leak.fingerprint, backtrace: leak.backtrace, text: leak.raw,
                                             details: ["blame: the series, because every leak check of the patched kernel found it and none of the baseline's did"])))
        }
        for splat in comparison.newSplats {
            let kind: Kind = splat.kind.isPagePool ? .pagePool : .splat
            findings.append(finding(kind, "new \(splat.kind.rawValue): \(splat.title)",
                                    Evidence(text: splat.text, details: ["blame: the series, because no boot of the baseline, run the same way, showed it"])))
        }
        return findings
    }

    /// The findings of the per-patch builds: a patch that does not build, a patch that adds warnings.
    public static func from(_ builds: [PatchBuild], plan: RunPlan) -> [Finding] {
        let total = builds.count
        return builds.filter(\.isFinding).map { build in
            let summary = build.succeeded
                ? "patch \(build.patch)/\(total) '\(build.subject)' adds \(build.newWarnings.count) compiler warning(s)"
                : "patch \(build.patch)/\(total) '\(build.subject)' does not build"
            let details = (build.succeeded ? build.newWarnings : [build.firstError].compactMap { $0 })
                + [build.log.map { "log: \($0)" }].compactMap { $0 }
            return Finding(kind: .build, blame: .series, config: plan.configName, nic: plan.nic.rawValue, workload: plan.workload,
                           patch: build.patch, summary: summary, evidence: Evidence(details: details))
        }
    }

    /// The finding for an error that ended a run.
    public static func from(_ error: NetrigError, plan: RunPlan) -> Finding {
        let kind: Kind
        if error.blame == .infrastructure {
            kind = .infrastructure
        } else if error.isCode(.configRefused) {
            // A config that cannot hold on the tree is found while a kernel is built: the code says so, not the phase.
            kind = .config
        } else {
            switch error.phase {
            case .applySeries: kind = .apply
            case .configure: kind = .config
            case .buildBaseline, .buildPatches, .buildPatched: kind = .build
            case .testBaseline, .testPatched, .checkLeaks, .probeAccel: kind = .boot
            default: kind = .infrastructure
            }
        }
        return Finding(kind: kind, blame: error.blame, config: plan.configName, nic: plan.nic.rawValue, workload: plan.workload,
                       patch: error.patch, summary: error.subject.map { "\($0): \(error.message)" } ?? error.message,
                       evidence: Evidence(details: error.supportingLines))
    }

}

/// The machine-readable result of a run or a comparison (`--json`), documented in docs/JSON.md.
public struct RunReport: Sendable, Codable, Equatable {
    public var run: RunID?
    /// Every run of a config matrix (`--configs`); absent for a single run.
    public var runs: [RunID]?
    /// The store's group of those runs; absent for a single run.
    public var group: RunGroupID?
    /// Effective config symbols the series changed (of the first run); absent when not known.
    public var configChanges: [ConfigChange]?
    public var verdict: Verdict
    public var findings: [Finding]
    /// Every compared metric with its samples, noise, threshold and verdict.
    public var metrics: [MetricComparison]
    public var clock: String?
    /// The accelerator every boot used and why; nil when nothing was booted.
    public var accelerator: String?
    /// Why the run fell back from KVM to TCG, when it did.
    public var acceleratorFallback: String?
    public var phases: [PhaseRecord]
    /// Leak fingerprints by class; nil when the run stopped before comparing.
    public var leaks: LeakClasses?
    /// The series as netrig read it: revision, base, prerequisites, and each patch with the trailers
    /// reviewers gave it on the list. nil when the run stopped before reading it.
    public var series: SeriesSummary?
    /// Checks a boot promised and could not make, one line per check and reason (a run with any is not a
    /// pass); absent when every check ran.
    public var notChecked: [String]?
    /// The tree the run built, with its kernel version ("Debian linux-source-7.2 (7.2.13)"); nil when the
    /// run stopped before preparing it.
    public var tree: String?

    /// What the report says of a series (the mail itself stays in the store).
    public struct SeriesSummary: Sendable, Codable, Equatable {
        public var title: String
        public var revision: Int
        public var revisions: [Int]
        public var baseCommit: String?
        public var prerequisitePatchIDs: [String]
        public var notes: [String]
        public var patches: [PatchSummary]

        public struct PatchSummary: Sendable, Codable, Equatable {
            public var index: Int
            public var total: Int
            public var subject: String
            public var author: String
            public var messageID: String?
            public var trailers: [Trailer]
        }

        public init(_ series: Series) {
            title = series.title
            revision = series.revision
            revisions = series.revisions
            baseCommit = series.baseCommit
            prerequisitePatchIDs = series.prerequisitePatchIDs
            notes = series.intakeNotes
            patches = series.patches.map {
                PatchSummary(index: $0.index, total: $0.total, subject: $0.subject, author: $0.author, messageID: $0.messageID, trailers: $0.trailers)
            }
        }
    }

    /// Fingerprints of the leaks of a comparison; only `new` ones are findings.
    public struct LeakClasses: Sendable, Codable, Equatable {
        public var new: [String]
        public var persisting: [String]
        public var gone: [String]
        /// Seen once on the patched side and not again when the leak check was repeated.
        public var unconfirmed: [String]
    }

    public init(run: RunID?, verdict: Verdict, findings: [Finding], comparison: Comparison?, clock: MeasurementClock?,
                phases: [PhaseRecord]) {
        self.run = run
        leaks = comparison.map {
            LeakClasses(new: $0.newLeaks.map(\.fingerprint), persisting: $0.persistingLeaks.map(\.fingerprint),
                        gone: $0.goneLeaks.map(\.fingerprint), unconfirmed: $0.unconfirmedLeaks.map(\.fingerprint))
        }
        self.verdict = verdict
        self.findings = findings
        self.clock = clock?.rawValue
        self.phases = phases
        metrics = comparison?.metrics ?? []
        notChecked = comparison.flatMap { $0.unchecked.isEmpty ? nil : $0.unchecked }
    }
}
