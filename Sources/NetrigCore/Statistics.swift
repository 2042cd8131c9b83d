/// Small, dependency-free statistics for comparing two sets of samples.
public enum Statistics {
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// Linear-interpolated quantile, q in 0...1 (type 7, as R and numpy default).
    public static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    public static func median(_ values: [Double]) -> Double { quantile(values, 0.5) }

    /// Sample standard deviation (n - 1).
    public static func standardDeviation(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let m = mean(values)
        let squares = values.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    /// Coefficient of variation: standard deviation over mean.
    public static func coefficientOfVariation(_ values: [Double]) -> Double {
        let m = mean(values)
        return m == 0 ? .nan : standardDeviation(values) / abs(m)
    }

    /// Robust coefficient of variation: the median absolute deviation, scaled to estimate the standard
    /// deviation of normal data (× 1.4826), over the median. One sample far off (a 200 ms TCP retransmission
    /// timeout in a 2 s sample) moves it little, where it multiplies the standard deviation.
    public static func robustCoefficientOfVariation(_ values: [Double]) -> Double {
        let m = median(values)
        return m == 0 ? .nan : 1.4826 * median(values.map { abs($0 - m) }) / abs(m)
    }

    /// Two-sided Mann-Whitney U test. Exact (by enumerating rank sums) when both samples are small and
    /// have no ties; otherwise the normal approximation with tie correction and continuity correction.
    public static func mannWhitneyU(_ a: [Double], _ b: [Double]) -> (u: Double, p: Double) {
        let n1 = a.count, n2 = b.count
        guard n1 > 0, n2 > 0 else { return (.nan, 1) }
        let pooled = (a.map { ($0, 0) } + b.map { ($0, 1) }).sorted { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var tieGroups: [Int] = []
        var i = 0
        while i < pooled.count {
            var j = i
            while j + 1 < pooled.count, pooled[j + 1].0 == pooled[i].0 { j += 1 }
            let rank = Double(i + j + 2) / 2
            for k in i...j { ranks[k] = rank }
            tieGroups.append(j - i + 1)
            i = j + 1
        }
        let rankSumA = zip(pooled, ranks).filter { $0.0.1 == 0 }.reduce(0) { $0 + $1.1 }
        let u1 = rankSumA - Double(n1 * (n1 + 1)) / 2
        let u2 = Double(n1 * n2) - u1
        let u = min(u1, u2)
        let hasTies = tieGroups.contains { $0 > 1 }
        if !hasTies, n1 + n2 <= 24 {
            return (u, exactTwoSidedP(u: u, n1: n1, n2: n2))
        }
        let n = Double(n1 + n2)
        let tieTerm = tieGroups.reduce(0.0) { $0 + Double($1 * $1 * $1 - $1) }
        let variance = Double(n1 * n2) / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return (u, 1) }
        let z = (abs(u1 - Double(n1 * n2) / 2) - 0.5) / variance.squareRoot()
        return (u, min(1, 2 * normalUpperTail(max(z, 0))))
    }

    /// P(U <= u) * 2 under H0, counting the ways to choose n1 ranks out of n1+n2 by their U value.
    static func exactTwoSidedP(u: Double, n1: Int, n2: Int) -> Double {
        // counts[k][s]: number of subsets of size k of {1..m} with U-statistic s, built up over m.
        let maxU = n1 * n2
        var table = [[Double]](repeating: [Double](repeating: 0, count: maxU + 1), count: n1 + 1)
        table[0][0] = 1
        // Dynamic programming over the sorted pooled positions: choosing position p (0-based) for an
        // element of sample 1 when k elements of sample 1 are already chosen adds (p - k) to U.
        for p in 0..<(n1 + n2) {
            for k in stride(from: min(n1, p + 1), through: 1, by: -1) {
                let add = p - (k - 1)
                guard add >= 0, add <= n2 else { continue }
                for s in stride(from: maxU, through: add, by: -1) where table[k - 1][s - add] > 0 {
                    table[k][s] += table[k - 1][s - add]
                }
            }
        }
        let total = table[n1].reduce(0, +)
        let cutoff = Int(u.rounded(.down))
        let lowerTail = table[n1][0...min(cutoff, maxU)].reduce(0, +) / total
        return min(1, 2 * lowerTail)
    }

    /// Upper tail of the standard normal distribution, via the complementary error function.
    public static func normalUpperTail(_ z: Double) -> Double {
        0.5 * erfc(z / 2.0.squareRoot())
    }

    /// erfc with a maximum relative error of about 1.2e-7 (Numerical Recipes' Chebyshev fit).
    static func erfc(_ x: Double) -> Double {
        let z = abs(x)
        let t = 1 / (1 + 0.5 * z)
        let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277))))))))
        let r = t * exp(poly)
        return x >= 0 ? r : 2 - r
    }

    /// Percentile bootstrap interval for the relative difference of medians (b over a, minus 1), with a
    /// fixed-seed generator so a stored run always shows the same interval.
    public static func bootstrapMedianDelta(_ a: [Double], _ b: [Double], level: Double = 0.95,
                                            resamples: Int = 2000, seed: UInt64 = 0x6e6574726967) -> ClosedRange<Double>? {
        guard !a.isEmpty, !b.isEmpty else { return nil }
        var rng = SplitMix64(seed: seed)
        var deltas: [Double] = []
        deltas.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let ra = (0..<a.count).map { _ in a[Int(rng.next() % UInt64(a.count))] }
            let rb = (0..<b.count).map { _ in b[Int(rng.next() % UInt64(b.count))] }
            let ma = median(ra)
            guard ma != 0 else { continue }
            deltas.append(median(rb) / ma - 1)
        }
        guard !deltas.isEmpty else { return nil }
        let alpha = (1 - level) / 2
        return quantile(deltas, alpha)...quantile(deltas, 1 - alpha)
    }
}

/// A tiny deterministic generator (SplitMix64), so statistics are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@inline(__always) private func exp(_ x: Double) -> Double {
    // e^x by range reduction and a Taylor series: enough precision for p-values, no libm import.
    if x == 0 { return 1 }
    let ln2 = 0.693_147_180_559_945_3
    let k = (x / ln2).rounded()
    let r = x - k * ln2
    var term = 1.0, sum = 1.0
    for n in 1...20 {
        term *= r / Double(n)
        sum += term
    }
    return sum * pow2(Int(k))
}

@inline(__always) private func pow2(_ k: Int) -> Double {
    if k > 1023 { return .infinity }
    if k < -1074 { return 0 }
    return Double(sign: .plus, exponent: k, significand: 1)
}
