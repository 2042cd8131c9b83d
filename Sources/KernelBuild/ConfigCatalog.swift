import Foundation
import NetrigCore
import TOMLKit

/// The named configs in `kconfigs/`: `NAME.toml` lists a base and fragments from `kconfigs/fragments/`.
public struct ConfigCatalog: Sendable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }.sorted()
    }

    public func spec(named name: String) throws -> KernelConfigSpec {
        let path = directory + "/\(name).toml"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw NetrigError(blame: .usage, subject: "--config \(name)",
                              message: "no such config; known: \(names().joined(separator: ", "))")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw NetrigError(blame: .usage, subject: path, message: "not valid TOML: \(error)", cause: error)
        }
        let base = table["base"]?.string ?? "tinyconfig"
        guard base == "tinyconfig" else {
            throw NetrigError(blame: .usage, subject: path, message: "base '\(base)' is not supported (only tinyconfig)")
        }
        guard let names = table["fragments"]?.array?.compactMap({ $0.string }), !names.isEmpty else {
            throw NetrigError(blame: .usage, subject: path, message: "lists no fragments")
        }
        let fragments = try names.map { fragment -> ConfigFragment in
            let fragmentPath = directory + "/fragments/\(fragment).config"
            guard let text = try? String(contentsOfFile: fragmentPath, encoding: .utf8) else {
                throw NetrigError(blame: .usage, subject: path, message: "fragment '\(fragment)' not found at \(fragmentPath)")
            }
            return ConfigFragment(name: fragment, text: text)
        }
        return KernelConfigSpec(name: name, base: base, fragments: fragments)
    }
}
