import Foundation
import HostCommands
import NetrigCore

/// An mbox held in memory (git format-patch's output, a test's fixture) read as a file would be: written
/// to a temporary file, split and decoded by git (`MailIntake`), assembled into a `Series`.
public enum MboxParser {
    public static func parse(_ mbox: Data, source: String, revision: Int? = nil,
                             runner: any CommandRunner = HostCommandRunner()) async throws -> Series {
        let fm = FileManager.default
        let file = fm.temporaryDirectory.appendingPathComponent("netrig-mbox-\(getpid())-\(UUID().uuidString.prefix(8))").path
        guard fm.createFile(atPath: file, contents: mbox) else {
            throw NetrigError(blame: .infrastructure, subject: file, message: "cannot write a temporary file")
        }
        defer { try? fm.removeItem(atPath: file) }
        let messages = try await MailIntake.read([file], runner: runner)
        return try SeriesAssembler.assemble(messages, source: source, revision: revision)
    }

    public static func parse(_ text: String, source: String, revision: Int? = nil) async throws -> Series {
        try await parse(Data(text.utf8), source: source, revision: revision)
    }
}
