import Foundation
import NetrigCore
import Synchronization

/// Renders progress on standard error: a line per phase with its duration, and status lines that
/// overwrite each other on a terminal (and are throttled to one per 20 s in a log).
final class TerminalProgress: ProgressObserver {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = Mutex((lastStatus: ContinuousClock.now - .seconds(60), pendingNewline: false))

    func phaseStarted(_ phase: Phase, detail: String) {
        emit("▶ \(phase.rawValue): \(detail)")
    }

    func phaseFinished(_ phase: Phase, seconds: Double, outcome: PhaseRecord.Outcome) {
        emit("\(outcome == .completed ? "✔" : "✘") \(phase.rawValue) \(outcome.rawValue) in \(Self.duration(seconds))")
    }

    func status(_ line: String) {
        let show = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            if isTerminal || now - state.lastStatus > .seconds(20) {
                state.lastStatus = now
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
