import NetrigCore

/// Finds kernel splats in dmesg or console text: warnings, BUGs, oopses, panics, KASAN and KFENCE
/// reports, page_pool and devmem teardown complaints, DMA-API debugging, IOMMU faults, hung tasks.
public enum SplatDetector {
    static let signatures: [(kind: Splat.Kind, pattern: String)] = [
        (Splat.Kind.panic, #"Kernel panic - not syncing"#),
        (.kasan, #"BUG: KASAN: "#),
        (.kfence, #"BUG: KFENCE: "#),
        (.badPage, #"BUG: Bad page state"#),
        (.hungTask, #"INFO: task .* blocked for more than \d+ seconds"#),
        (.rcuStall, #"rcu: INFO: rcu_\w+ (self-)?detected stall"#),
        (.bug, #"BUG: |kernel BUG at "#),
        (.oops, #"Oops: |general protection fault"#),
        (.warning, #"WARNING: CPU: \d+ PID: \d+ at "#),
        (.stalledPool, #"page_pool_release_retry\(\) stalled pool shutdown|page_pool_empty_ring\(\) page_pool refcnt|Negative\(-?\d+\) inflight packet-pages"#),
        (.genpool, #"can't destroy genpool"#),
        (.dmaAPI, #"DMA-API: "#),
        (.dmar, #"DMAR: \[DMA (Read|Write)|DMAR: DRHD: handling fault|AMD-Vi: Event logged \[IO_PAGE_FAULT"#),
        (.netdevWait, #"unregister_netdevice: waiting for \S+ to become free"#),
        (.oom, #"Out of memory: Killed process \d+|Memory cgroup out of memory: Killed process \d+"#),
        (.kmemleakDisabled, #"kmemleak: Memory pool empty|Kernel memory leak detector disabled|Kmemleak disabled without freeing"#),
    ]

    /// One splat per matching line, with the lines that follow it up to the end of its report.
    public static func detect(_ text: String, side: Side) -> [Splat] {
        let compiled = signatures.map { (kind: $0.kind, regex: try! Regex($0.pattern)) }
        let lines = text.lines.map(stripTimestamp)
        var splats: [Splat] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            guard let signature = compiled.first(where: { line.contains($0.regex) }) else {
                index += 1
                continue
            }
            var end = index + 1
            while end < lines.count, end - index < 60 {
                let next = lines[end]
                if next.contains("---[ end trace") || next.contains("---[ end Kernel panic") { end += 1; break }
                if !isContinuation(next) { break }
                end += 1
            }
            splats.append(Splat(side: side, kind: signature.kind, title: normalizedTitle(line),
                                text: lines[index..<end].joined(separator: "\n")))
            index = end
        }
        return splats
    }

    /// Lines that belong to a report: indented frames, register dumps, "Call Trace:", "Modules linked in".
    static func isContinuation(_ line: String) -> Bool {
        if line.hasPrefix(" ") || line.hasPrefix("\t") { return true }
        let markers = ["Call Trace", "<TASK>", "</TASK>", "<IRQ>", "</IRQ>", "RIP:", "RSP:", "RAX:", "RDX:", "RBP:", "R10:", "R13:",
                       "FS:", "CS:", "CR2:", "Modules linked in", "CPU:", "Hardware name:", "Workqueue:", "Code:", "page:",
                       "flags:", "raw:", "page dumped because", "Tainted:", "Read of size", "Write of size", "Allocated by",
                       "Freed by", "The buggy address", "Memory state", "==="]
        return markers.contains { line.hasPrefix($0) }
    }

    /// `[   12.345678] text` → `text` (`String.withoutDmesgTimestamp`).
    static func stripTimestamp(_ line: String) -> String { line.withoutDmesgTimestamp }

    /// The title without what changes between boots (CPU, PID, addresses), so the same splat on both sides
    /// compares equal.
    public static func normalizedTitle(_ line: String) -> String {
        var text = line.replacing(try! Regex(#"CPU: \d+ PID: \d+ "#), with: "")
        text = text.replacing(try! Regex(#"0x[0-9a-fA-F]+"#), with: "0x…")
        text = text.replacing(try! Regex(#"\bpid \d+|PID: \d+"#), with: "pid …")
        // "Out of memory: Killed process 312 (python3) total-vm:..." → "Out of memory: Killed process … (python3)".
        text = text.replacing(try! Regex(#"Killed process \d+ (\([^)]*\)).*"#)) { match in "Killed process … " + (match.output[1].substring ?? "") }
        return text
    }
}
