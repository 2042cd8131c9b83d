import Crypto
import Foundation
@testable import KernelBuild
import NetrigCore
import Testing

/// The content keys netrig derives with SHA-256, pinned to the values they have had since the caches were
/// made: a change of hashing code (or of what is hashed) that moves one would orphan every cached kernel and
/// work directory, and make stored series' patch hashes disagree with new ones. A deliberate change bumps
/// `KernelBuilder.scheme` and these values together.
@Suite struct HashGoldenTests {
    static let config = KernelConfigSpec(name: "netdevsim", base: "tinyconfig", fragments: [
        ConfigFragment(name: "net", text: "CONFIG_NET=y\nCONFIG_INET=y\n"),
        ConfigFragment(name: "netdevsim", text: "CONFIG_NETDEVSIM=m\n# CONFIG_DEBUG_INFO is not set\n"),
    ])
    static let programs = [
        GuestProgram(name: "ncdevmem", sources: ["tools/testing/selftests/drivers/net/hw/ncdevmem.c"], libraries: ["-lmnl"]),
        GuestProgram(name: "msg_zerocopy", sources: [], shipped: ["msg_zerocopy.c": "int main(void) { return 0; }\n", "README": "naïve ✓\n"]),
    ]

    /// FIPS 180-4 vectors, through the hex helper every key is made with.
    @Test func sha256KnownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func kernelCacheKeys() {
        #expect(KernelBuilder.cacheKey(treeHash: "4b825dc642cb6eb9a060e54bf8d69288fbee4904", config: Self.config, programs: Self.programs,
                                       compiler: "gcc (Debian 12.2.0-14) 12.2.0") == "afdf3d4845ce0b15cd9dcb05cde84c4b158f50b09dce980d723f1c7e6e149203")
        #expect(KernelBuilder.cacheKey(treeHash: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                                       config: KernelConfigSpec(name: "default", base: "tinyconfig", fragments: []), programs: [],
                                       compiler: "gcc") == "4172a58c5a9e3142c3ea2e45df6ee62956d08d3e4da78523940fac70a5057b6e")
    }

    @Test func workDirectoryOfATree() {
        let workspace = TreeWorkspace(directories: NetrigDirectories(cache: "/root/.cache/netrig", data: "/root/.local/share/netrig"))
        let tree = KernelTree(repository: "/root/.cache/netrig/trees/debian-6.12", name: "debian-6.12", baseCommit: "HEAD", version: "6.12")
        #expect(workspace.workRoot(for: tree) == "/root/.cache/netrig/work/debian-6.12-82efd01eda")
    }

    @Test func patchDiffHashes() throws {
        func message(_ subject: String, _ patch: String) -> MailMessage {
            MailMessage(raw: Data(subject.utf8), subject: subject, author: "Ada <ada@example.org>", body: "Commit message.\n", patch: patch)
        }
        let series = try SeriesAssembler.assemble([
            message("[PATCH net-next 1/2] page_pool: one", "diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-old\n+new\n"),
            message("[PATCH net-next 2/2] page_pool: two", "diff --git a/b.c b/b.c\n--- a/b.c\n+++ b/b.c\n@@ -1 +1 @@\n-/* naïve */\n+/* ✓ */\n"),
        ], source: "golden")
        #expect(series.patches.map(\.diffHash) == ["8327fbfd2d6938fc0e02b868a25d036e9d711e5969a8c968856b86dd33f169e7",
                                                   "77a02eba21df99dd9b034525995a211e724f594cca47600107acffb388f140da"])
    }
}
