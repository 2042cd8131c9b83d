import Foundation
import Testing
@testable import NetrigCore

/// The verdict's statistics at the noise levels each clock shows (issue: noise-free throughput).
@Suite struct VirtualClockStatisticsTests {
    /// Samples around `center` with coefficient of variation `cv`.
    func samples(_ n: Int, center: Double, cv: Double, _ rng: inout SplitMix64) -> [Double] {
        (0..<n).map { _ in center * (1 + cv * gaussian(&rng)) }
    }

    @Test func selfComparisonsInVirtualTimeFindNothing() {
        var rng = SplitMix64(seed: 7)
        for cv in [0.001, 0.003, 0.01] {
            var findings = 0
            for _ in 0..<20 {
                let a = samples(5, center: 600, cv: cv, &rng), b = samples(5, center: 600, cv: cv, &rng)
                let verdict = Comparison.compare(metric: "m", unit: "MiB/s", higherIsBetter: true, baseline: a, patched: b,
                                                 minimumEffect: MeasurementClock.virtual.minimumEffect).verdict
                if verdict == .regression || verdict == .improvement { findings += 1 }
            }
            #expect(findings == 0, "cv \(cv): \(findings) of 20 self-comparisons called a change")
        }
    }

    @Test func twoPercentIsDetectedWithNinetyPercentPowerAtFiveRuns() {
        var rng = SplitMix64(seed: 11)
        for cv in [0.001, 0.003] {
            var detected = 0
            let trials = 200
            for _ in 0..<trials {
                let a = samples(5, center: 600, cv: cv, &rng), b = samples(5, center: 600 * 0.98, cv: cv, &rng)
                let comparison = Comparison.compare(metric: "m", unit: "MiB/s", higherIsBetter: true, baseline: a, patched: b,
                                                    minimumEffect: MeasurementClock.virtual.minimumEffect)
                if comparison.verdict == .regression { detected += 1 }
            }
            #expect(Double(detected) / Double(trials) >= 0.9, "cv \(cv): detected \(detected) of \(trials)")
        }
    }

    @Test func realClockNoiseIsInconclusiveWithTheRunsNeeded() {
        var rng = SplitMix64(seed: 3)
        let a = samples(3, center: 150, cv: 0.12, &rng), b = samples(3, center: 150, cv: 0.12, &rng)
        let comparison = Comparison.compare(metric: "m", unit: "MiB/s", higherIsBetter: true, baseline: a, patched: b,
                                            minimumEffect: MeasurementClock.real.minimumEffect)
        #expect(comparison.verdict == .inconclusive)
        #expect((comparison.runsNeeded ?? 0) > 10, "10 % at ~12 % noise needs many runs")
        #expect(comparison.verdictText.hasPrefix("inconclusive: "))
    }

    @Test func runsNeededFormula() {
        #expect(Statistics.runsNeeded(noise: 0.003, effect: 0.02) == 4, "never fewer than the exact test needs")
        // 2 * ((1.96 + 1.28) * 0.10 / 0.10)^2 * pi/3 = 22.007 -> 23, + 1
        #expect(Statistics.runsNeeded(noise: 0.10, effect: 0.10) == 24)
    }

    /// What the README's demo measured (zerocopy, 5 per side): a +1.65 % delta whose interval reaches
    /// +2.12 %. The power formula alone said "4 runs per side" after 5; the interval (centre +1.04 %,
    /// half-width 1.09 %) must narrow to fit inside ±2 %: 5 × (1.085 / 0.965)² → 7.
    @Test func runsNeededAreMoreThanTheRunsMadeAndNarrowTheInterval() {
        let needed = Comparison.runsToDecide(n: 5, delta: 0.0165, interval: -0.0005...0.0212, noise: 0.0064,
                                             threshold: 0.0193, minimumEffect: 0.02)
        #expect(needed == 7, "\(needed)")
        #expect(Comparison.runsToDecide(n: 5, delta: 0, interval: -0.001...0.001, noise: 0.001, threshold: 0.005, minimumEffect: 0.02) == 6,
                "never fewer than one more than made")
        // A delta beyond the threshold: the runs that make the interval (centre -2 %, half-width 3 %) exclude zero: 4 × 1.5².
        let change = Comparison.runsToDecide(n: 4, delta: -0.03, interval: -0.05...0.01, noise: 0.008, threshold: 0.024, minimumEffect: 0.02)
        #expect(change == 9, "\(change)")
    }

    @Test func thresholdFollowsTheMeasuredNoise() {
        let quiet = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: [100, 100.1, 99.9, 100, 100.05],
                                       patched: [99.4, 99.5, 99.3, 99.45, 99.35])
        #expect(quiet.threshold == Comparison.floor, "below the floor the floor applies")
        #expect(quiet.verdict == .regression, "a 0.6 % drop at 0.06 % noise is real")
        let noisy = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: [100, 104, 96, 102, 98],
                                       patched: [99.4, 103.4, 95.4, 101.4, 97.4])
        #expect(noisy.threshold > 0.08, "three times the noise (robust CV 2.97 %)")
        #expect(noisy.verdict != .regression)
    }

    /// Measured on e1000e under a loaded host core (bench: the per-byte example, copy mode): one patched
    /// sample of five fell 10 % (a stall in the sample), the other four agree to 0.03 %. The ranks and the
    /// interval show the -1.8 % cost; the robust noise keeps the outlier from hiding it. The same outlier
    /// in a comparison of a kernel with itself is no finding.
    @Test func oneOutlierNeitherHidesAChangeNorMakesOne() {
        let baseline = [168.91, 168.73, 168.63, 168.70, 168.80]
        let costly = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: baseline,
                                        patched: [165.63, 148.78, 165.66, 165.60, 165.70])
        #expect(costly.verdict == .regression, "\(costly.verdictText) noise \(costly.noise) threshold \(costly.threshold)")
        let same = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: baseline,
                                      patched: [168.85, 151.60, 168.66, 168.75, 168.69])
        #expect(same.verdict != .regression && same.verdict != .improvement, "\(same.verdictText)")
    }
}
