import Foundation
import HostCommands
import NetrigCore

/// Explains why olddefconfig changed a requested symbol, from the kernel's own Kconfig files.
struct KconfigExplainer: Sendable {
    var worktree: String
    /// Effective values after olddefconfig.
    var effective: [String: String]
    var runner: any CommandRunner = HostCommandRunner()

    /// One Kconfig entry: where it is and what it says about prompts and dependencies.
    struct Entry {
        var location: String
        var hasPrompt: Bool
        var dependsOn: [String]
        var defBool: Bool
    }

    func explain(_ symbol: String, requested: String) async throws -> String {
        let name = symbol.hasPrefix("CONFIG_") ? String(symbol.dropFirst(7)) : symbol
        let entries = try await find(name)
        guard !entries.isEmpty else {
            return "\(name) does not exist in this tree's Kconfig (misspelt, or removed in this version)"
        }
        var reasons: [String] = []
        for entry in entries {
            let unmet = entry.dependsOn.flatMap(symbols(in:)).filter { value(of: $0) == "n" }.uniqued()
            if !unmet.isEmpty {
                var text = "\(name) (\(entry.location)) depends on \(entry.dependsOn.joined(separator: " && ")); unmet: "
                    + unmet.map { "\($0)=n" }.joined(separator: ", ")
                for dependency in unmet {
                    if let selectorNote = try await selectorNote(for: dependency) { text += "; " + selectorNote }
                }
                reasons.append(text)
            } else if !entry.hasPrompt, requested != "n" {
                let selectors = try await selectors(of: name)
                reasons.append("\(name) (\(entry.location)) has no prompt: it is only set by its default or by a select"
                               + (selectors.isEmpty ? "" : " (selected by \(selectors.joined(separator: ", ")))"))
            } else if requested == "n", entry.defBool, !entry.hasPrompt {
                // def_bool y with no prompt: on whenever its dependencies hold; only turning one off turns it off.
                let held = entry.dependsOn.flatMap(symbols(in:)).uniqued().filter { value(of: $0) != "n" }
                var text = "\(name) (\(entry.location)) has no prompt and defaults to y while its dependencies hold"
                    + (held.isEmpty ? "" : " (\(held.map { "\($0)=\(value(of: $0))" }.joined(separator: ", ")))")
                    + ": turn one of them off"
                for dependency in held {
                    if let selectorNote = try await selectorNote(for: dependency) { text += "; " + selectorNote }
                }
                reasons.append(text)
            } else if requested == "n" {
                let selectors = try await selectors(of: name).filter { value(of: $0.split(separator: " ").first.map(String.init) ?? $0) != "n" }
                reasons.append("\(name) is forced on by a select" + (selectors.isEmpty ? "" : ": \(selectors.joined(separator: ", "))"))
            } else {
                reasons.append("\(name) (\(entry.location)): its dependencies hold; an enclosing menu or 'if' block, or a choice, overrides it")
            }
        }
        return reasons.joined(separator: " | ")
    }

    func value(of symbol: String) -> String { effective["CONFIG_" + symbol] ?? "n" }

    /// "GENERIC_ALLOCATOR has no prompt; in this config it can only come from a selector such as X86_MCE".
    func selectorNote(for dependency: String) async throws -> String? {
        let entries = try await find(dependency)
        guard let entry = entries.first, !entry.hasPrompt else { return nil }
        let selectors = try await selectors(of: dependency)
        guard !selectors.isEmpty else { return "\(dependency) has no prompt" }
        return "\(dependency) has no prompt and is only set by a selector such as \(selectors.prefix(4).joined(separator: ", "))"
    }

    /// Symbols that `select` this one, preferring x86 and generic code over other architectures.
    func selectors(of symbol: String) async throws -> [String] {
        let result = try await Git(directory: worktree, runner: runner).tryRun(["grep", "-n", "-E", "^\\s*select\\s+\(symbol)(\\s|$)", "--", "*Kconfig*"])
        var found: [(String, Int)] = []
        for line in result.standardOutput.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count == 3, let number = Int(parts[1]) else { continue }
            let file = String(parts[0])
            if file.hasPrefix("arch/"), !file.hasPrefix("arch/x86/") { continue }
            if let owner = try owningSymbol(file: file, line: number) {
                found.append((owner, file.hasPrefix("arch/x86/") ? 0 : 1))
            }
        }
        return found.sorted { $0.1 < $1.1 }.map(\.0).uniqued()
    }

    /// The `config X` entry that contains line `line` of `file`.
    func owningSymbol(file: String, line: Int) throws -> String? {
        let text = try String(contentsOfFile: worktree + "/" + file, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var index = min(line - 1, lines.count - 1)
        while index >= 0 {
            let trimmed = lines[index].trimmingWhitespace
            if trimmed.hasPrefix("config ") || trimmed.hasPrefix("menuconfig ") {
                return String(trimmed.split(separator: " ")[1])
            }
            index -= 1
        }
        return nil
    }

    func find(_ symbol: String) async throws -> [Entry] {
        let result = try await Git(directory: worktree, runner: runner).tryRun(["grep", "-n", "-E", "^\\s*(menu)?config\\s+\(symbol)\\s*$", "--", "*Kconfig*"])
        var entries: [Entry] = []
        for line in result.standardOutput.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count >= 2, let number = Int(parts[1]) else { continue }
            let file = String(parts[0])
            let text = try String(contentsOfFile: worktree + "/" + file, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            var entry = Entry(location: "\(file):\(number)", hasPrompt: false, dependsOn: [], defBool: false)
            var index = number
            while index < lines.count {
                let trimmed = lines[index].trimmingWhitespace
                if ["config ", "menuconfig ", "endmenu", "menu ", "choice", "endchoice", "if ", "endif", "source "]
                    .contains(where: { trimmed.hasPrefix($0) }) { break }
                if trimmed.hasPrefix("depends on ") {
                    entry.dependsOn.append(String(trimmed.dropFirst("depends on ".count)))
                } else if trimmed.hasPrefix("def_bool") || trimmed.hasPrefix("def_tristate") {
                    entry.defBool = true
                } else if ["bool \"", "tristate \"", "string \"", "int \"", "hex \"", "prompt \""].contains(where: { trimmed.hasPrefix($0) }) {
                    entry.hasPrompt = true
                } else if trimmed.hasPrefix("bool") || trimmed.hasPrefix("tristate"), trimmed.contains("\"") {
                    entry.hasPrompt = true
                }
                index += 1
            }
            entries.append(entry)
        }
        return entries
    }

    /// Symbol names in a Kconfig expression (`DMA_SHARED_BUFFER && (X86 || COMPILE_TEST)`).
    func symbols(in expression: String) -> [String] {
        var words: [String] = []
        var current = ""
        for ch in expression + " " {
            if ch.isLetter || ch.isNumber || ch == "_" {
                current.append(ch)
            } else {
                if !current.isEmpty, current.first!.isLetter, current == current.uppercased(),
                   !["y", "m", "n"].contains(current) { words.append(current) }
                current = ""
            }
        }
        // A dependency negated with "!" is unmet when set, not when unset: skip those.
        return words.filter { !expression.contains("!\($0)") && !expression.contains("! \($0)") }
    }
}
