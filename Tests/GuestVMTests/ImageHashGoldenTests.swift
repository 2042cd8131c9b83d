import Foundation
@testable import GuestVM
import Testing

/// The guest image's content hash, pinned: it names the cached image (`cache/images/<name>-<hash>`), so a
/// change of hashing code that moved it would rebuild every image for nothing.
@Suite struct ImageHashGoldenTests {
    @Test func recipeContentHash() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-recipe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        name = "debian-bookworm"
        suite = "bookworm"
        mirror = "http://deb.debian.org/debian"
        packages = ["openssh-server", "iproute2"]

        """.write(toFile: directory + "/recipe.toml", atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho naïve ✓\n".write(toFile: directory + "/netrig-init", atomically: true, encoding: .utf8)
        try Data((0...255).map { UInt8($0) } + Array(repeating: 0x5a, count: 1000)).write(to: URL(fileURLWithPath: directory + "/blob.bin"))
        let recipe = try ImageRecipe(directory: directory)
        let hash = try recipe.contentHash(publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGolden netrig")
        #expect(hash == "96629e8e73e23455b98faffc7e39ec9ff5b8a9a86dd6e551c26ff1e40083a232")
    }
}
