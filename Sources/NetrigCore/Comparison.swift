/// Baseline against patched for one metric.
public struct MetricComparison: Sendable, Equatable {
    public enum Verdict: String, Sendable {
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
    public var verdict: Verdict
}

/// What a series changed: per-metric comparisons and the leak and splat differences.
public struct Comparison: Sendable, Equatable {
    public var metrics: [MetricComparison]
    /// Leak fingerprints seen only on the patched side.
    public var newLeaks: [Leak]
    /// Leak fingerprints seen only on the baseline side.
    public var goneLeaks: [Leak]
    public var persistingLeaks: [Leak]
    /// Splats only on the patched side, and those on both.
    public var newSplats: [Splat]
    public var preexistingSplats: [Splat]

    /// Significance level for the per-metric tests.
    public static let alpha = 0.05
    /// A change smaller than this is not called a regression or improvement, however significant.
    public static let minimumEffect = 0.01

    public init(samples: [Sample], leaks: [Leak], splats: [Splat]) {
        let metricNames = samples.map(\.metric).uniqued()
        metrics = metricNames.map { name in
            let baseline = samples.filter { $0.metric == name && $0.side == .baseline }
            let patched = samples.filter { $0.metric == name && $0.side == .patched }
            return Comparison.compare(metric: name, unit: (baseline.first ?? patched.first)?.unit ?? "",
                                      higherIsBetter: (baseline.first ?? patched.first)?.higherIsBetter ?? true,
                                      baseline: baseline.map(\.value), patched: patched.map(\.value))
        }
        let baselinePrints = Set(leaks.filter { $0.side == .baseline }.map(\.fingerprint))
        let patchedPrints = Set(leaks.filter { $0.side == .patched }.map(\.fingerprint))
        newLeaks = leaks.filter { $0.side == .patched && !baselinePrints.contains($0.fingerprint) }.uniqued(by: \.fingerprint)
        goneLeaks = leaks.filter { $0.side == .baseline && !patchedPrints.contains($0.fingerprint) }.uniqued(by: \.fingerprint)
        persistingLeaks = leaks.filter { $0.side == .patched && baselinePrints.contains($0.fingerprint) }.uniqued(by: \.fingerprint)
        let baselineTitles = Set(splats.filter { $0.side == .baseline }.map(\.title))
        newSplats = splats.filter { $0.side == .patched && !baselineTitles.contains($0.title) }
        preexistingSplats = splats.filter { $0.side == .patched && baselineTitles.contains($0.title) }
    }

    public static func compare(metric: String, unit: String, higherIsBetter: Bool, baseline: [Double],
                               patched: [Double]) -> MetricComparison {
        let bm = Statistics.median(baseline), pm = Statistics.median(patched)
        let delta = bm == 0 ? .nan : pm / bm - 1
        let test = Statistics.mannWhitneyU(baseline, patched)
        let interval = Statistics.bootstrapMedianDelta(baseline, patched)
        let verdict: MetricComparison.Verdict
        if baseline.count < 2 || patched.count < 2 {
            verdict = .inconclusive
        } else if test.p < alpha, abs(delta) >= minimumEffect, let interval, !interval.contains(0) {
            let better = higherIsBetter ? delta > 0 : delta < 0
            verdict = better ? .improvement : .regression
        } else if let interval, interval.lowerBound > -minimumEffect * 5, interval.upperBound < minimumEffect * 5 {
            // The interval rules out any change of 5 % or more either way.
            verdict = .noChange
        } else {
            verdict = test.p < alpha ? .noChange : .inconclusive
        }
        return MetricComparison(metric: metric, unit: unit, baseline: baseline, patched: patched, baselineMedian: bm,
                                patchedMedian: pm, delta: delta, interval: interval, pValue: test.p, verdict: verdict)
    }

    /// The series broke something: a regression, a new leak or a new splat.
    public var seriesBrokeSomething: Bool {
        metrics.contains { $0.verdict == .regression } || !newLeaks.isEmpty || !newSplats.isEmpty
    }
}

extension Sequence {
    func uniqued<Key: Hashable>(by key: (Element) -> Key) -> [Element] {
        var seen = Set<Key>()
        return filter { seen.insert(key($0)).inserted }
    }
}

extension Sequence where Element: Hashable {
    func uniqued() -> [Element] { uniqued(by: { $0 }) }
}
