/// Baseline against patched for one metric.
public struct MetricComparison: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable {
        case regression
        case improvement
        case noChange = "no significant change"
        case inconclusive
    }
    public var metric: String
    public var unit: String
    public var baseline: [Double]
    public var patched: [Double]
    public var baselineMedian: Double
    public var patchedMedian: Double
    /// (patched median / baseline median) - 1.
    public var delta: Double
    public var interval: ClosedRange<Double>?
    public var pValue: Double
    /// Pooled coefficient of variation of the two sides: the noise this comparison saw.
    public var noise: Double
    /// The smallest change that counts (the clock's `minimumEffect`, or more when the noise is larger).
    public var threshold: Double
    public var verdict: Verdict
    /// For an inconclusive verdict: repetitions per side that would detect `minimumEffect` with 90 % power.
    public var runsNeeded: Int?
    /// Median CPU use (%) of the guests while the samples were taken, per side (`Sample.cpuBusy`): context
    /// for the values, not part of the verdict. nil where the samples carry none.
    public var baselineCPU: Double?
    public var patchedCPU: Double?

    /// For an inconclusive verdict whose runs needed are far beyond what the run may add: what would help
    /// instead of more runs (another NIC, the virtual clock, a longer sample). nil otherwise.
    public var advice: String?

    /// The verdict in words, with what to do about an inconclusive one.
    public var verdictText: String {
        switch verdict {
        case .inconclusive:
            if let advice { return "inconclusive: \(advice)" }
            return runsNeeded.map { "inconclusive: \($0) runs per side needed" } ?? "inconclusive"
        default:
            return verdict.rawValue
        }
    }

    /// How a run measured, for advice on an inconclusive metric.
    public struct Setting: Sendable, Equatable {
        public var nic: NICModel
        public var clock: MeasurementClock
        public var workload: String
        /// The most runs per side the run may make (`--max-repetitions`).
        public var maxRepetitions: Int

        public init(nic: NICModel, clock: MeasurementClock, workload: String, maxRepetitions: Int) {
            self.nic = nic
            self.clock = clock
            self.workload = workload
            self.maxRepetitions = maxRepetitions
        }
    }

    /// Runs needed beyond this many times the limit are "far" beyond it: more runs are not the answer.
    public static let farBeyond = 2

    /// What would help an inconclusive metric that more runs cannot settle within `setting.maxRepetitions`.
    public static func advice(runsNeeded: Int?, noise: Double, baseline: [Double], patched: [Double],
                              setting: Setting) -> String? {
        guard let needed = runsNeeded, needed > farBeyond * setting.maxRepetitions else { return nil }
        var help: [String] = []
        if setting.clock == .real {
            help.append("the virtual clock (--clock virtual: TCG and the loop topology count instructions, not host time)")
        }
        switch setting.nic.throughputInVirtualTime {
        case .steady:
            help.append("another NIC (--nic)")
        case .outliers(let why), .unmeasured(let why):
            let steady = NICModel.allCases.filter { $0 != setting.nic && $0.throughputInVirtualTime.isSteady }.map(\.rawValue)
            help.append("a NIC whose throughput is steady in virtual time (--nic \(steady.joined(separator: " or "))): "
                        + "on \(setting.nic.rawValue), \(why)")
        }
        help.append("a longer sample (the duration in workloads/\(setting.workload).toml), which averages a stall away")
        // One side's samples spread far apart: a few outliers, not steady noise.
        let spread = [baseline, patched].filter { $0.count > 1 }.map { values -> Double in
            let median = Statistics.median(values)
            return median == 0 ? 0 : (values.max()! - values.min()!) / median
        }.max() ?? 0
        if spread > 0.1 { help.append("a quieter host (samples of one side lie \(Percent.format(spread, signed: false)) apart)") }
        return "the noise (\(Percent.format(noise, signed: false)) CV) would need \(needed) runs per side, far more than "
            + "--max-repetitions \(setting.maxRepetitions); what would help instead: " + help.joined(separator: "; ")
    }
}

extension MeasurementClock {
    /// The change a run must be able to see: 2 % in virtual time, where noise is a fraction of a percent;
    /// 10 % in real time under emulation.
    public var minimumEffect: Double { self == .virtual ? 0.02 : 0.10 }
}

/// What a series changed: per-metric comparisons and the leak and splat differences.
public struct Comparison: Sendable, Equatable {
    public var metrics: [MetricComparison]
    /// Leak fingerprints seen only on the patched side, in every leak-check boot of it (confirmed).
    public var newLeaks: [Leak]
    /// Seen only on the patched side, but not again when its leak check was repeated: not the series'
    /// fault for certain, so shown and not counted.
    public var unconfirmedLeaks: [Leak]
    /// Leak fingerprints seen only on the baseline side.
    public var goneLeaks: [Leak]
    public var persistingLeaks: [Leak]
    /// Splats only on the patched side, and those on both.
    public var newSplats: [Splat]
    public var preexistingSplats: [Splat]
    /// Checks some boot promised and could not make (`UncheckedCheck.summarize`): the run cannot pass.
    public var unchecked: [String] = []
    /// The names of those checks ("page_pool leftovers", "workload iou_zcrx"), each once.
    public var uncheckedNames: [String] = []

    /// Significance level for the per-metric tests.
    public static let alpha = 0.05
    /// A change must stand this many noise levels (pooled CV) clear of zero to count, so that comparing a
    /// kernel with itself does not find changes by chance.
    public static let noiseMultiple = 3.0
    /// Samples per side from which the noise is estimated robustly (`pooledNoise`).
    public static let robustFrom = 5
    /// No change below this counts, however quiet the measurement.
    public static let floor = 0.005

    /// `patchedLeakRounds` is how many leak-check boots the patched kernel had: with two or more, a new
    /// leak counts only when every one of them found it.
    /// With `setting`, an inconclusive metric that more runs within its limit cannot settle carries advice.
    public init(samples: [Sample], leaks: [Leak], splats: [Splat], patchedLeakRounds: Int = 1,
                minimumEffect: Double = MeasurementClock.virtual.minimumEffect, setting: MetricComparison.Setting? = nil) {
        let metricNames = samples.map(\.metric).uniqued()
        metrics = metricNames.map { name in
            let baseline = samples.filter { $0.metric == name && $0.side == .baseline }
            let patched = samples.filter { $0.metric == name && $0.side == .patched }
            var comparison = Comparison.compare(metric: name, unit: (baseline.first ?? patched.first)?.unit ?? "",
                                                higherIsBetter: (baseline.first ?? patched.first)?.higherIsBetter ?? true,
                                                baseline: baseline.map(\.value), patched: patched.map(\.value),
                                                minimumEffect: minimumEffect)
            let cpu = { (samples: [Sample]) -> Double? in
                let values = samples.compactMap(\.cpuBusy)
                return values.isEmpty ? nil : Statistics.median(values)
            }
            comparison.baselineCPU = cpu(baseline)
            comparison.patchedCPU = cpu(patched)
            if let setting, comparison.verdict == .inconclusive {
                comparison.advice = MetricComparison.advice(runsNeeded: comparison.runsNeeded, noise: comparison.noise,
                                                            baseline: comparison.baseline, patched: comparison.patched, setting: setting)
            }
            return comparison
        }
        let baselinePrints = Set(leaks.filter { $0.side == .baseline }.map(\.fingerprint))
        let patchedPrints = Set(leaks.filter { $0.side == .patched }.map(\.fingerprint))
        let candidates = Comparison.newLeakCandidates(leaks)
        let roundsSeen = Dictionary(grouping: leaks.filter { $0.side == .patched }, by: \.fingerprint)
            .mapValues { Set($0.map(\.round)).count }
        let confirmed = { (leak: Leak) in (roundsSeen[leak.fingerprint] ?? 0) >= max(1, patchedLeakRounds) }
        newLeaks = candidates.filter(confirmed)
        unconfirmedLeaks = candidates.filter { !confirmed($0) }
        goneLeaks = leaks.filter { $0.side == .baseline && !patchedPrints.contains($0.fingerprint) }.uniqued(by: \.fingerprint)
        persistingLeaks = leaks.filter { $0.side == .patched && baselinePrints.contains($0.fingerprint) }.uniqued(by: \.fingerprint)
        let baselineTitles = Set(splats.filter { $0.side == .baseline }.map(\.title))
        // A splat seen in several boots of one side is one finding.
        newSplats = splats.filter { $0.side == .patched && !baselineTitles.contains($0.title) }.uniqued(by: \.title)
        preexistingSplats = splats.filter { $0.side == .patched && baselineTitles.contains($0.title) }.uniqued(by: \.title)
    }

    /// Patched-side leaks whose fingerprint the baseline never showed, one per fingerprint: what the
    /// engine confirms by repeating the leak check.
    public static func newLeakCandidates(_ leaks: [Leak]) -> [Leak] {
        let baselinePrints = Set(leaks.filter { $0.side == .baseline }.map(\.fingerprint))
        return leaks.filter { $0.side == .patched && !baselinePrints.contains($0.fingerprint) }.uniqued(by: \.fingerprint)
    }

    /// A regression or improvement needs all of: a two-sided Mann-Whitney p below `alpha`, a bootstrap
    /// interval that excludes zero, and a change larger than both `floor` and `noiseMultiple` times the
    /// measured noise. "No significant change" needs the interval to rule out `minimumEffect` either way,
    /// and no change that stands clear of the noise (beyond the threshold, the interval excluding zero)
    /// which only the ranks' significance is missing: with too few runs for the exact test, such a change
    /// is undecided, not "no change" (else the same kernels' verdict would depend on the repetitions, a
    /// regression at four runs and a pass at three). Anything else is inconclusive, with the repetitions
    /// that would settle it.
    public static func compare(metric: String, unit: String, higherIsBetter: Bool, baseline: [Double], patched: [Double],
                               minimumEffect: Double = MeasurementClock.virtual.minimumEffect) -> MetricComparison {
        let bm = Statistics.median(baseline), pm = Statistics.median(patched)
        // Both sides the same constant (a share that is 0 % on this NIC, a count that never moves): nothing
        // changed, and no number of repetitions would show more.
        if baseline.count >= 2, patched.count >= 2, Set(baseline + patched).count == 1 {
            return MetricComparison(metric: metric, unit: unit, baseline: baseline, patched: patched, baselineMedian: bm,
                                    patchedMedian: pm, delta: 0, interval: 0...0, pValue: 1, noise: 0, threshold: floor,
                                    verdict: .noChange, runsNeeded: nil)
        }
        let delta = bm == 0 ? .nan : pm / bm - 1
        let test = Statistics.mannWhitneyU(baseline, patched)
        let interval = Statistics.bootstrapMedianDelta(baseline, patched)
        let noise = pooledNoise(baseline, patched)
        let threshold = max(floor, noiseMultiple * noise)
        let verdict: MetricComparison.Verdict
        var runsNeeded: Int?
        if baseline.count >= 2, patched.count >= 2, test.p < alpha, abs(delta) >= threshold,
           let interval, !interval.contains(0) {
            let better = higherIsBetter ? delta > 0 : delta < 0
            verdict = better ? .improvement : .regression
        } else if baseline.count >= 2, patched.count >= 2, let interval,
                  interval.lowerBound > -minimumEffect, interval.upperBound < minimumEffect, abs(delta) < max(threshold, minimumEffect),
                  !(abs(delta) >= threshold && !interval.contains(0)) {
            verdict = .noChange
        } else {
            verdict = .inconclusive
            runsNeeded = runsToDecide(n: min(baseline.count, patched.count), delta: delta, interval: interval, noise: noise,
                                      threshold: threshold, minimumEffect: minimumEffect)
        }
        return MetricComparison(metric: metric, unit: unit, baseline: baseline, patched: patched, baselineMedian: bm,
                                patchedMedian: pm, delta: delta, interval: interval, pValue: test.p, noise: noise,
                                threshold: threshold, verdict: verdict, runsNeeded: runsNeeded)
    }

    /// Repetitions per side that would decide an inconclusive metric, never fewer than one more than it
    /// has: enough power to see `minimumEffect` at this noise, and an interval narrow enough (it shrinks
    /// with the square root of the runs) to either fit inside ±`minimumEffect`, or exclude zero when the
    /// delta is beyond the threshold. The power formula alone once said "4 runs needed" after 5.
    static func runsToDecide(n: Int, delta: Double, interval: ClosedRange<Double>?, noise: Double, threshold: Double,
                             minimumEffect: Double) -> Int {
        let power = Statistics.runsNeeded(noise: noise, effect: minimumEffect)
        guard n >= 2, delta.isFinite, let interval else { return max(power, n + 1) }
        // The bootstrap interval need not be centred on the delta: its own centre is what moves in or out.
        let half = (interval.upperBound - interval.lowerBound) / 2
        let centre = abs(interval.upperBound + interval.lowerBound) / 2
        var targets: [Double] = []
        if minimumEffect - centre > 0 { targets.append(minimumEffect - centre) }
        if abs(delta) >= threshold, centre > 0 { targets.append(centre) }
        // Neither can come with more runs of this noise (a delta between the smallest effect and the noise
        // threshold): as many as the power asks, and the advice says what else would help.
        guard let target = targets.max(), half > 0 else { return max(power, n + 1) }
        let narrowing = Double(n) * (half / target) * (half / target)
        let needed = narrowing.isFinite && narrowing < 1e6 ? Int(narrowing.rounded(.up)) : 1_000_000
        return max(power, needed, n + 1)
    }

    /// Root mean square of the two sides' coefficients of variation: robust ones (`robustCoefficientOfVariation`)
    /// from `robustFrom` samples on, so that one outlier in a side does not hide a change the ranks and the
    /// interval show; below that the median absolute deviation is too unsteady, and the standard one is used.
    static func pooledNoise(_ a: [Double], _ b: [Double]) -> Double {
        let cvs = [a, b].filter { $0.count > 1 }
            .map { $0.count >= robustFrom ? Statistics.robustCoefficientOfVariation($0) : Statistics.coefficientOfVariation($0) }
            .filter { $0.isFinite }
        guard !cvs.isEmpty else { return 0 }
        return (cvs.map { $0 * $0 }.reduce(0, +) / Double(cvs.count)).squareRoot()
    }

    /// The series broke something: a regression, a new leak or a new splat.
    public var seriesBrokeSomething: Bool {
        metrics.contains { $0.verdict == .regression } || !newLeaks.isEmpty || !newSplats.isEmpty
    }

    /// Metrics that could not be decided: a run with any is inconclusive, not a pass.
    public var undecided: [MetricComparison] { metrics.filter { $0.verdict == .inconclusive } }
    /// Everything measured was decided and every promised check ran.
    public var decidedEverything: Bool { undecided.isEmpty && unchecked.isEmpty }
}

extension Statistics {
    /// Repetitions per side for a two-sided test at `alpha` 0.05 with 90 % power to detect a relative
    /// change `effect` when the coefficient of variation is `noise` (normal approximation, inflated by the
    /// Mann-Whitney test's asymptotic relative efficiency, 3/π), and never fewer than the 4 per side the
    /// exact test needs to reach p < 0.05 at all.
    public static func runsNeeded(noise: Double, effect: Double) -> Int {
        guard effect > 0, noise.isFinite else { return 4 }
        let z = 1.959964 + 1.281552
        let n = 2 * (z * noise / effect) * (z * noise / effect) * (Double.pi / 3)
        return max(4, Int(n.rounded(.up)) + 1)
    }
}

extension Sequence {
    /// The elements in order, each key kept once (the first).
    public func uniqued<Key: Hashable>(by key: (Element) -> Key) -> [Element] {
        var seen = Set<Key>()
        return filter { seen.insert(key($0)).inserted }
    }
}

extension Sequence where Element: Hashable {
    /// The elements in order, each kept once (the first).
    public func uniqued() -> [Element] { uniqued(by: { $0 }) }
}
