extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and newlines.
    public var trimmingWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }

    /// Every line, empty ones included, split at any line ending: a serial console writes "\r\n", which
    /// Swift treats as one Character that is not "\n". Kernel text read from a console or dmesg goes
    /// through this.
    public var lines: [String] {
        String(self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
    }

    /// `[   12.345678] text` → `text`: the line without its dmesg timestamp. One space separates the
    /// timestamp from the text; more spaces are the text's own indentation. Other brackets are kept.
    public var withoutDmesgTimestamp: String {
        guard hasPrefix("["), let close = firstIndex(of: "]") else { return String(self) }
        let inside = self[index(after: startIndex)..<close]
        guard inside.allSatisfy({ $0.isNumber || $0 == "." || $0 == " " }) else { return String(self) }
        let rest = self[index(after: close)...]
        return String(rest.first == " " ? rest.dropFirst() : rest)
    }

    /// The last `count` lines, for console tails and log excerpts (any line ending counts, see `lines`).
    public func lastLines(_ count: Int) -> [String] {
        let lines = self.lines
        let trimmed = lines.last == "" ? Array(lines.dropLast()) : lines
        return Array(trimmed.suffix(count))
    }
}

/// Quoting for a POSIX shell, used only to hand an argv to a guest's `sh -c` over SSH.
public enum ShellQuote {
    public static func quote(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        if safe, !word.isEmpty { return word }
        return "'" + word.replacingAll("'", with: "'\\''") + "'"
    }

    public static func join(_ argv: [String]) -> String {
        argv.map(quote).joined(separator: " ")
    }
}

extension String {
    /// Replaces every occurrence of `target` (Foundation-free).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        guard !target.isEmpty, target.count <= count else { return nil }
        var start = startIndex
        while start < endIndex {
            if self[start...].hasPrefix(target) {
                return start..<index(start, offsetBy: target.count)
            }
            start = index(after: start)
        }
        return nil
    }
}

/// Percentages as every report prints them: two decimals, a sign for changes ("+1.25%", "-0.40%").
public enum Percent {
    public static func format(_ fraction: Double, signed: Bool = true) -> String {
        guard fraction.isFinite else { return "-" }
        let hundredths = Int((abs(fraction) * 10000).rounded())
        let digits = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)%"
        if fraction < 0, hundredths > 0 { return "-" + digits }
        return signed ? "+" + digits : digits
    }
}
