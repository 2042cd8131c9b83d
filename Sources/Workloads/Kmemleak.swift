import NetrigCore

/// Parses `/sys/kernel/debug/kmemleak` and fingerprints each report by its top frames.
public enum KmemleakParser {
    /// Frames of the allocator itself: the same leak shows different ones on different kernels and configs.
    static let allocatorPrefixes = [
        "kmemleak_", "kmalloc", "__kmalloc", "kmem_cache_alloc", "__kmem_cache_alloc", "slab_post_alloc_hook",
        "slab_alloc", "__slab_alloc", "___slab_alloc", "kmalloc_trace", "kvmalloc", "__kvmalloc", "kzalloc", "kcalloc",
        "krealloc", "kmemdup", "kstrdup", "vmalloc", "__vmalloc", "vzalloc", "alloc_pages", "__alloc_pages", "alloc_slab",
        "pcpu_alloc", "__alloc_percpu", "kmalloc_node", "kmalloc_large", "__kmalloc_large", "mempool_alloc",
        "kmem_alloc", "__kmalloc_cache", "__kmalloc_node", "kvzalloc", "alloc_large",
    ]

    public static func parse(_ text: String, side: Side) -> [Leak] {
        var leaks: [Leak] = []
        var current: [String] = []
        func flush() {
            if let leak = makeLeak(current, side: side) { leaks.append(leak) }
            current = []
        }
        for line in text.lines {
            if line.hasPrefix("unreferenced object ") { flush() }
            if !current.isEmpty || line.hasPrefix("unreferenced object ") { current.append(line) }
        }
        flush()
        return leaks
    }

    static func makeLeak(_ lines: [String], side: Side) -> Leak? {
        guard let header = lines.first, header.hasPrefix("unreferenced object ") else { return nil }
        var size = 0
        if let open = header.range(of: "(size "), let close = header[open.upperBound...].firstIndex(of: ")") {
            size = Int(header[open.upperBound..<close]) ?? 0
        }
        var comm = ""
        var frames: [String] = []
        var inBacktrace = false
        for line in lines.dropFirst() {
            let trimmed = line.trimmingWhitespace
            if trimmed.hasPrefix("comm \""), let end = trimmed.dropFirst(6).firstIndex(of: "\"") {
                comm = String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 6)..<end])
            } else if trimmed.hasPrefix("backtrace") {
                inBacktrace = true
            } else if inBacktrace, !trimmed.isEmpty {
                frames.append(stripAddress(trimmed))
            }
        }
        return Leak(side: side, size: size, comm: comm, backtrace: frames, fingerprint: fingerprint(frames),
                    raw: lines.joined(separator: "\n").trimmingWhitespace)
    }

    /// `[<ffffffff81234567>] foo+0x12/0x40` → `foo+0x12/0x40` (older kernels print the address).
    static func stripAddress(_ frame: String) -> String {
        if frame.hasPrefix("[<"), let end = frame.range(of: ">] ") { return String(frame[end.upperBound...]) }
        return frame
    }

    /// Function name without offset, module and compiler suffixes: `foo.constprop.0+0x1/0x2 [mod]` → `foo`.
    public static func function(_ frame: String) -> String {
        var name = Substring(frame.split(separator: " ").first ?? "")
        if let plus = name.firstIndex(of: "+") { name = name[..<plus] }
        if let dot = name.firstIndex(of: ".") { name = name[..<dot] }
        var text = String(name)
        if text.hasSuffix("_noprof") { text = String(text.dropLast("_noprof".count)) }
        return text
    }

    /// The top four frames below the allocator, as function names: stable across kernels and runs.
    public static func fingerprint(_ frames: [String]) -> String {
        let functions = frames.map(function).filter { !$0.isEmpty }
        let callers = functions.drop { name in allocatorPrefixes.contains { name.hasPrefix($0) } }
        let top = (callers.isEmpty ? functions[...] : callers).prefix(4)
        return top.joined(separator: " < ")
    }
}

extension String {
    func range(of target: String) -> Range<String.Index>? {
        guard !target.isEmpty else { return nil }
        var start = startIndex
        while start < endIndex {
            if self[start...].hasPrefix(target) { return start..<index(start, offsetBy: target.count) }
            start = index(after: start)
        }
        return nil
    }
}

extension Substring {
    func firstIndex(of target: Character, after start: Substring.Index) -> Substring.Index? {
        self[start...].firstIndex(of: target)
    }
}
