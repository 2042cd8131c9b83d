import Foundation
import Testing
@testable import KernelBuild

/// Trees laid out as 6.12 and as 7.x keep ynl in different places; each is found where it is, and a tree
/// with neither names every place looked at.
@Suite struct TreeToolsTests {
    func tree(_ files: [String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("netrig-treetools-\(UUID().uuidString)").path
        for file in files {
            try FileManager.default.createDirectory(atPath: (root + "/" + file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try "".write(toFile: root + "/" + file, atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test func ynlIsFoundInEachLayout() throws {
        let old = try tree(["tools/net/ynl/cli.py", "tools/net/ynl/lib/ynl.py", "Documentation/netlink/specs/netdev.yaml"])
        defer { try? FileManager.default.removeItem(atPath: old) }
        #expect(try TreeTools.ynl(in: old).get().cli == "tools/net/ynl/cli.py")
        // 7.x: the Python CLI and library under pyynl/, and a C library where 6.12's Python one was.
        let new = try tree(["tools/net/ynl/pyynl/cli.py", "tools/net/ynl/pyynl/lib/ynl.py", "tools/net/ynl/lib/ynl.c",
                            "tools/net/ynl/cli.py.orig", "Documentation/netlink/specs/netdev.yaml"])
        defer { try? FileManager.default.removeItem(atPath: new) }
        let found = try TreeTools.ynl(in: new).get()
        #expect(found.cli == "tools/net/ynl/pyynl/cli.py")
        #expect(found.library == "tools/net/ynl/pyynl/lib")
        let pack = TreeTools.ynlPackArguments(found, worktree: new, output: "/o")
        #expect(pack.contains("--transform=s,^tools/net/ynl/pyynl/,,"), "cli.py and lib/ land at the top of the guest's copy")
    }

    @Test func aTreeWithoutYnlNamesWhereItLooked() throws {
        let none = try tree(["tools/net/ynl/lib/ynl.c", "Documentation/netlink/specs/netdev.yaml"])
        defer { try? FileManager.default.removeItem(atPath: none) }
        guard case .failure(let missing) = TreeTools.ynl(in: none) else { Issue.record("found a ynl that is not there"); return }
        #expect(missing.description == "the tree has no ynl CLI at tools/net/ynl/pyynl/cli.py or tools/net/ynl/cli.py")
        let noSpec = try tree(["tools/net/ynl/cli.py", "tools/net/ynl/lib/ynl.py"])
        defer { try? FileManager.default.removeItem(atPath: noSpec) }
        guard case .failure(let spec) = TreeTools.ynl(in: noSpec) else { Issue.record("found a spec that is not there"); return }
        #expect(spec.description == "the tree has no netlink spec at Documentation/netlink/specs/netdev.yaml")
    }

    /// The packed tar has the one layout the guest's scripts name, from a real tar of a 7.x-shaped tree.
    @Test func thePackedLayoutIsTheSameForEveryTree() async throws {
        for layout in [["tools/net/ynl/pyynl/cli.py", "tools/net/ynl/pyynl/lib/ynl.py"], ["tools/net/ynl/cli.py", "tools/net/ynl/lib/ynl.py", "tools/net/ynl/lib/ynl.c"]] {
            let root = try tree(layout + ["Documentation/netlink/specs/netdev.yaml", "Documentation/netlink/specs/rt-link.yaml"])
            defer { try? FileManager.default.removeItem(atPath: root) }
            let ynl = try TreeTools.ynl(in: root).get()
            let output = root + "/ynl.tar"
            let pack = Process()
            pack.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
            pack.arguments = TreeTools.ynlPackArguments(ynl, worktree: root, output: output)
            try pack.run(); pack.waitUntilExit()
            #expect(pack.terminationStatus == 0)
            let list = Process(), pipe = Pipe()
            list.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
            list.arguments = ["-tf", output]
            list.standardOutput = pipe
            try list.run(); list.waitUntilExit()
            let names = Set(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init))
            #expect(names.isSuperset(of: ["cli.py", "lib/ynl.py", "specs/netdev.yaml", "specs/rt-link.yaml"]), "\(names)")
            #expect(!names.contains("lib/ynl.c"))
        }
    }
}
