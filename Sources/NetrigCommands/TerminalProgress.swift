import Foundation
import NetrigCore
import Synchronization

/// Renders progress on standard error: a line per phase with its duration, and status lines that
/// overwrite each other on a terminal. In a log, a status line is written when a new activity starts
/// (booted, a workload's next mode) and otherwise at most every 20 s (build counters, boot seconds).
final class TerminalProgress: ProgressObserver {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = Mutex((lastStatus: ContinuousClock.now - .seconds(60), lastActivity: "", pendingNewline: false))

    /// What a status line is about, without its counters: "baseline-throughput: booting (13 s)" and
    /// "… (14 s)" are one activity, "baseline: msg_zerocopy copy #1" and "… zerocopy #1" are two.
    static func activity(_ line: String) -> String {
        var text = String(line.filter { !$0.isNumber })
        for cut in [" (", ", "] { if let range = text.range(of: cut) { text = String(text[..<range.lowerBound]) } }
        return text
    }

    func phaseStarted(_ phase: Phase, detail: String) {
        emit("▶ \(phase.rawValue): \(detail)")
    }

    func phaseFinished(_ phase: Phase, seconds: Double, outcome: PhaseRecord.Outcome) {
        emit("\(outcome == .completed ? "✔" : "✘") \(phase.rawValue) \(outcome.rawValue) in \(Self.duration(seconds))")
    }

    func status(_ line: String) {
        let show = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            let activity = Self.activity(line)
            if isTerminal || activity != state.lastActivity || now - state.lastStatus > .seconds(20) {
                state.lastStatus = now
                state.lastActivity = activity
                state.pendingNewline = isTerminal
                return true
            }
            return false
        }
        guard show else { return }
        if isTerminal {
            let width = 118
            let text = line.count > width ? String(line.prefix(width)) : line
            write("\r\u{1B}[K  \(text)")
        } else {
            write("  \(line)\n")
        }
    }

    func note(_ line: String) {
        emit("  \(line)")
    }

    private func emit(_ line: String) {
        let prefix = state.withLock { state -> String in
            defer { state.pendingNewline = false }
            return state.pendingNewline ? "\r\u{1B}[K" : ""
        }
        write(prefix + line + "\n")
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 60 ? String(format: "%.1f s", seconds) : String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
    }
}
