import Foundation
import Testing
@testable import NetrigCore

@Suite struct StatisticsTests {
    @Test func medianAndQuantiles() {
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        #expect(Statistics.quantile([1, 2, 3, 4, 5], 0.25) == 2)
        #expect(Statistics.median([]).isNaN)
    }

    @Test func aConstantOnBothSidesIsNoChangeNotInconclusive() {
        let zero = Comparison.compare(metric: "mmap/mapped", unit: "%", higherIsBetter: true, baseline: [0, 0, 0], patched: [0, 0])
        #expect(zero.verdict == .noChange)
        #expect(zero.runsNeeded == nil && zero.delta == 0)
        let moved = Comparison.compare(metric: "mmap/mapped", unit: "%", higherIsBetter: true, baseline: [0, 0, 0], patched: [0, 0, 5])
        #expect(moved.verdict != .noChange, "one value that moved is not a constant")
        let single = Comparison.compare(metric: "m", unit: "%", higherIsBetter: true, baseline: [0], patched: [0])
        #expect(single.verdict == .inconclusive, "one run per side measures nothing")
    }

    @Test func cpuUseComesFromProcStatDeltasAndIsShownPerSide() throws {
        // Two real readings of /proc/stat's first line from a 2-vCPU guest, 2 s apart under iperf3.
        let before = try #require(CPUTimes(procStat: "cpu  120 0 340 5000 12 0 30 0 0 0\ncpu0 60 0 170 2500 6 0 15 0 0 0\n"))
        let after = try #require(CPUTimes(procStat: "cpu  170 0 650 5088 12 0 92 0 0 0\n"))
        #expect(before.total == 5502 && before.busy == 490)
        #expect(CPUTimes.busyPercent(from: before, to: after) == 422.0 / 510.0 * 100)
        #expect(CPUTimes.busyPercent(from: after, to: after) == nil, "no tick passed")
        #expect(CPUTimes(procStat: "intr 1 2 3") == nil)
        let samples = [(Side.baseline, 90.0), (.baseline, 94), (.baseline, 92), (.patched, 97), (.patched, 99)].enumerated().map { index, pair in
            Sample(side: pair.0, workload: "iperf3", nic: .vmxnet3, metric: "copy/throughput", unit: "MiB/s", repetition: index,
                   value: 100, higherIsBetter: true, cpuBusy: pair.1)
        }
        let metric = try #require(Comparison(samples: samples, leaks: [], splats: []).metrics.first)
        #expect(metric.baselineCPU == 92 && metric.patchedCPU == 98)
        #expect(metric.verdict == .noChange, "the same throughput; CPU use is context, not part of the verdict")
    }

    @Test func coefficientOfVariation() {
        #expect(Statistics.coefficientOfVariation([10, 10, 10]) == 0)
        let cv = Statistics.coefficientOfVariation([9, 10, 11])
        #expect(abs(cv - 0.1) < 1e-12)
    }

    /// Exact two-sided p-values, checked against R's wilcox.test(exact = TRUE).
    @Test func mannWhitneyExact() {
        // wilcox.test(c(1,2,3), c(4,5,6)): W = 0, p-value = 0.1
        let separated = Statistics.mannWhitneyU([1, 2, 3], [4, 5, 6])
        #expect(separated.u == 0)
        #expect(abs(separated.p - 0.1) < 1e-12)
        // wilcox.test(c(1,2,3,4,5), c(6,7,8,9,10)): p-value = 0.007937
        let five = Statistics.mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        #expect(abs(five.p - 0.0079365) < 1e-6)
        // wilcox.test(c(1,3,5), c(2,4,6)): W = 3, p-value = 0.7
        let interleaved = Statistics.mannWhitneyU([1, 3, 5], [2, 4, 6])
        #expect(interleaved.u == 3)
        #expect(abs(interleaved.p - 0.7) < 1e-12)
    }

    @Test func mannWhitneyWithTiesUsesNormalApproximation() {
        let result = Statistics.mannWhitneyU([1, 1, 1, 1], [1, 1, 1, 1])
        #expect(result.p == 1)
        let shifted = Statistics.mannWhitneyU(Array(repeating: 1.0, count: 20) + [2], Array(repeating: 5.0, count: 20) + [2])
        #expect(shifted.p < 0.001)
    }

    @Test func normalTail() {
        #expect(abs(Statistics.normalUpperTail(0) - 0.5) < 1e-7)
        #expect(abs(Statistics.normalUpperTail(1.959964) - 0.025) < 1e-6)
    }

    @Test func bootstrapIntervalCoversTheShift() throws {
        let a = [100.0, 101, 99, 100.5, 99.5, 100.2]
        let b = a.map { $0 * 1.10 }
        let interval = try #require(Statistics.bootstrapMedianDelta(a, b))
        #expect(interval.contains(0.10))
        #expect(!interval.contains(0))
        // Same seed, same interval: stored runs always show the same numbers.
        #expect(Statistics.bootstrapMedianDelta(a, b) == interval)
    }

    /// Comparing samples drawn from one distribution must rarely call a change: the false-positive rate
    /// over many trials stays near the significance level.
    @Test func falsePositiveRateOnIdenticalInputs() {
        var rng = SplitMix64(seed: 42)
        var calls = 0
        let trials = 300
        for _ in 0..<trials {
            let a = (0..<5).map { _ in 100 + gaussian(&rng) }
            let b = (0..<5).map { _ in 100 + gaussian(&rng) }
            let verdict = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: a, patched: b).verdict
            if verdict == .regression || verdict == .improvement { calls += 1 }
        }
        #expect(Double(calls) / Double(trials) <= 0.06)
    }

    @Test func detectsAClearRegression() {
        let baseline = [100.0, 100.1, 99.9, 100.05, 99.95]
        let patched = baseline.map { $0 * 0.95 }
        let comparison = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: baseline, patched: patched)
        #expect(comparison.verdict == .regression)
        #expect(abs(comparison.delta + 0.05) < 1e-9)
        let costs = Comparison.compare(metric: "m", unit: "u", higherIsBetter: false, baseline: baseline, patched: patched)
        #expect(costs.verdict == .improvement)
    }

    /// A change below the smallest effect that counts (2 %) but far beyond this measurement's noise (0.01 %):
    /// four runs per side find it; three cannot reach p < 0.05 with the exact test, so they leave it
    /// undecided and ask for a fourth, never "no significant change" (the verdict of the same kernels must not
    /// depend on how many runs were made).
    @Test func aChangeClearOfTheNoiseIsNeverNoChangeForWantOfRuns() {
        let baseline = [100.0, 100.01, 99.99, 100.005]
        let patched = baseline.map { $0 * 0.987 }
        let four = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: baseline, patched: patched)
        #expect(four.verdict == .regression)
        let three = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: Array(baseline.prefix(3)),
                                       patched: Array(patched.prefix(3)))
        #expect(three.verdict == .inconclusive, "\(three.verdict) p=\(three.pValue)")
        #expect(three.runsNeeded.map { $0 >= 4 } == true)
        // A no-op at this noise is still "no significant change" at three runs.
        let same = Comparison.compare(metric: "m", unit: "u", higherIsBetter: true, baseline: Array(baseline.prefix(3)),
                                      patched: [100.002, 99.998, 100.0])
        #expect(same.verdict == .noChange)
    }
}

/// Box-Muller standard normal from a deterministic generator.
func gaussian(_ rng: inout SplitMix64) -> Double {
    let u1 = max(Double(rng.next() % 1_000_000_000) / 1e9, 1e-12)
    let u2 = Double(rng.next() % 1_000_000_000) / 1e9
    return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
}
