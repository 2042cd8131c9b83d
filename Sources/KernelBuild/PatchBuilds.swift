import Foundation
import NetrigCore

/// One compiler diagnostic from a build log, its path relative to the kernel tree.
struct CompilerDiagnostic: Equatable, Hashable {
    enum Severity: String { case warning, error }
    var file: String
    var line: Int
    var column: Int
    var severity: Severity
    var message: String

    /// `file:line:col: warning: message`, as gcc printed it but with the tree-relative path.
    var text: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }
    /// Identity that survives lines moving: the file and the message.
    var key: String { file + "\u{1f}" + message }
}

/// Reads what a kernel build log says: gcc's diagnostics and the objects Kbuild compiled. Paths in the
/// log are absolute or relative to the build directory (ccache's base directory makes them relative);
/// both are turned into paths relative to the tree.
struct BuildLogReader {
    var worktree: String
    var buildDirectory: String

    func diagnostics(_ log: String) -> [CompilerDiagnostic] {
        log.split(separator: "\n").compactMap { diagnostic(String($0)) }.uniqued()
    }

    func diagnostic(_ line: String) -> CompilerDiagnostic? {
        let severities: [(String, CompilerDiagnostic.Severity)] = [(": warning: ", .warning), (": error: ", .error), (": fatal error: ", .error)]
        for (marker, severity) in severities {
            guard let range = line.range(of: marker) else { continue }
            let location = line[..<range.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
            guard location.count >= 3, let lineNumber = Int(location[location.count - 2]), let column = Int(location[location.count - 1])
            else { continue }
            let path = location.dropLast(2).joined(separator: ":")
            return CompilerDiagnostic(file: relative(path), line: lineNumber, column: column, severity: severity,
                                      message: String(line[range.upperBound...]))
        }
        return nil
    }

    /// Sources of the objects Kbuild compiled (`  CC      net/core/sock.o` → `net/core/sock.c`).
    func compiledSources(_ log: String) -> Set<String> {
        var sources = Set<String>()
        for line in log.split(separator: "\n") where line.hasPrefix("  CC ") {
            guard let object = line.split(separator: " ").last, object.hasSuffix(".o") else { continue }
            sources.insert(String(object.dropLast(2)) + ".c")
        }
        return sources
    }

    func relative(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : buildDirectory + "/" + path
        let standard = (absolute as NSString).standardizingPath
        let root = (worktree as NSString).standardizingPath + "/"
        return standard.hasPrefix(root) ? String(standard.dropFirst(root.count)) : path
    }
}

/// Lines a commit added or changed, per file, from `git diff --unified=0` (new-side line numbers).
enum AddedLines {
    static func parse(_ diff: String) -> [String: Set<Int>] {
        var result: [String: Set<Int>] = [:]
        var file: String?
        for line in diff.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("+++ ") {
                let path = line.dropFirst(4)
                file = path == "/dev/null" ? nil : String(path.hasPrefix("b/") ? path.dropFirst(2) : path)
            } else if line.hasPrefix("@@ "), let file {
                // @@ -a,b +c,d @@: d lines from c (d omitted means 1).
                guard let plus = line.split(separator: " ").first(where: { $0.hasPrefix("+") }) else { continue }
                let numbers = plus.dropFirst().split(separator: ",").compactMap { Int($0) }
                guard let start = numbers.first else { continue }
                let count = numbers.count > 1 ? numbers[1] : 1
                if count > 0 { result[file, default: []].formUnion(start..<(start + count)) }
            }
        }
        return result
    }
}

/// Which warnings a patch introduced. A warning counts when it sits on a line the patch added or changed,
/// or when its file was compiled by an earlier build of this chain without that warning (a patch that
/// leaves a variable unused is caught where the variable is declared). Warnings the earlier builds never
/// had a chance to show are not blamed on the patch.
struct WarningLedger {
    /// Source file → warning keys, for every file an earlier build compiled.
    private var known: [String: Set<String>] = [:]

    mutating func learn(_ log: String, reader: BuildLogReader) {
        let warnings = reader.diagnostics(log).filter { $0.severity == .warning }
        for source in reader.compiledSources(log) { known[source] = [] }
        for warning in warnings { known[warning.file, default: []].insert(warning.key) }
    }

    func newWarnings(in log: String, addedLines: [String: Set<Int>], reader: BuildLogReader) -> [CompilerDiagnostic] {
        reader.diagnostics(log).filter { warning in
            guard warning.severity == .warning else { return false }
            if addedLines[warning.file]?.contains(warning.line) == true { return true }
            if let before = known[warning.file] { return !before.contains(warning.key) }
            return false
        }
    }
}

extension LocalKernelPipeline {
    public func configChanges(from baseline: KernelArtifact, to patched: KernelArtifact) throws -> [ConfigChange] {
        ConfigChange.between(try configValues(of: baseline), try configValues(of: patched))
    }

    public func configValues(of artifact: KernelArtifact) throws -> [String: String] {
        do {
            return KernelBuilder.parseConfig(try String(contentsOfFile: artifact.configPath, encoding: .utf8))
        } catch {
            throw NetrigError(blame: .infrastructure, subject: artifact.configPath,
                              message: "cannot read the effective config: \(error)", cause: error)
        }
    }

    public func buildEachPatch(_ series: Series, applied: AppliedSeries, baseline: BuildRequest, built: KernelArtifact,
                               progress: any ProgressObserver) async throws -> [PatchBuild] {
        let worktree = try await workspace.worktree(for: baseline.tree)
        let git = Git(directory: worktree, runner: builder.runner)
        let reader = BuildLogReader(worktree: worktree, buildDirectory: builder.buildDirectory(for: baseline))
        var ledger = WarningLedger()
        ledger.learn(Self.read(built.buildLog), reader: reader)

        var results: [PatchBuild] = []
        var parent = applied.baseCommit
        for (index, commit) in applied.commits.enumerated() {
            let patch = series.patches.indices.contains(index) ? series.patches[index] : nil
            let number = patch?.index ?? index + 1
            let subject = patch?.subject ?? commit
            progress.status("patch \(number)/\(applied.commits.count): building '\(subject)'")
            var request = baseline
            request.side = .patched
            request.commit = commit
            let start = ContinuousClock.now
            var build: PatchBuild
            let log: String
            do {
                let artifact = try await builder.build(request, progress: progress)
                log = artifact.buildLog
                build = PatchBuild(patch: number, subject: subject, commit: commit, succeeded: true, cached: artifact.cached,
                                   seconds: artifact.cached ? 0 : Self.seconds(since: start), log: log)
            } catch let error as NetrigError where error.isCode(.buildFailed) && !Task.isCancelled {
                log = error.log ?? ""
                build = Self.failedBuild(error, patch: number, subject: subject, commit: commit, logText: Self.read(log),
                                         reader: reader, seconds: Self.seconds(since: start))
            }
            // A failed build stopped part-way: its log is no picture of the warnings, so it teaches nothing.
            if build.succeeded {
                let diff = try await git.run(["diff", "--unified=0", "--no-color", "--no-renames", parent, commit])
                let text = Self.read(log)
                build.newWarnings = ledger.newWarnings(in: text, addedLines: AddedLines.parse(diff), reader: reader).map(\.text)
                ledger.learn(text, reader: reader)
            }
            results.append(build)
            parent = commit
        }
        return results
    }

    /// The record of a patch whose kernel did not build (`error` is a `.buildFailed`): its first compiler
    /// error from the log (`logText`, the text of `error.log`), else the error's first detail, else its
    /// message; `cached` when the failure was remembered from the same inputs rather than built again.
    static func failedBuild(_ error: NetrigError, patch: Int, subject: String, commit: String, logText: String,
                            reader: BuildLogReader, seconds: Double) -> PatchBuild {
        let firstError = reader.diagnostics(logText).first { $0.severity == .error }?.text ?? error.details.first ?? error.message
        return PatchBuild(patch: patch, subject: subject, commit: commit, succeeded: false, firstError: firstError,
                          cached: error.cached, seconds: seconds, log: error.log.flatMap { $0.isEmpty ? nil : $0 })
    }

    static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }
}

