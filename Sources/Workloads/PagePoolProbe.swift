import Foundation
import NetrigCore

/// page_pool state over netlink (`page-pool-get` of the netdev family), read in the guest with the ynl CLI
/// of the tree under test (netrig ships it as the kernel's `ynl` program, a tar unpacked at prepare).
public enum PagePoolProbe {
    /// Where the tar is uploaded and unpacked in the guest.
    static let tarball = "/root/netrig/ynl"
    static let directory = "/root/ynl"

    /// One pool as netlink lists it.
    public struct Pool: Sendable, Equatable {
        public var id: Int
        public var ifindex: Int?
        public var inflight: Int?
        public var inflightMemory: Int?
        /// Seconds since the epoch at which the pool was destroyed while pages were still out; nil for a
        /// live pool.
        public var detachTime: Int?
    }

    /// Unpacks the ynl CLI when the kernel came with it; false when it did not (older trees).
    public static func install(on guest: any GuestSession) async throws -> Bool {
        let output = try await guest.runScript("[ -f \(tarball) ] || exit 3\nmkdir -p \(directory) && tar -C \(directory) -xf \(tarball)",
                                               timeout: .seconds(60))
        return output.exitStatus == 0
    }

    /// The ynl CLI and the netdev spec in the guest (`TreeTools.ynlPackArguments` lays the tar out).
    public static let cli = directory + "/cli.py"
    public static let netdevSpec = directory + "/specs/netdev.yaml"

    /// The pools netlink lists now, waiting up to `settle` for destroyed pools whose pages come back late
    /// (page_pool retries the release every second), or why they could not be read (no ynl in the guest, a
    /// netlink error, output that is not ynl's JSON).
    public static func pools(on guest: any GuestSession, settle: Int = 3) async throws -> (pools: [Pool]?, raw: String, failure: String?) {
        let script = """
        [ -f \(cli) ] || { echo "no ynl CLI in the guest (the kernel's build packed none)" >&2; exit 3; }
        dump() { python3 \(cli) --no-schema --spec \(netdevSpec) --dump page-pool-get --output-json; }
        i=0
        while out=$(dump) && echo "$out" | grep -q detach-time && [ $i -lt \(settle * 2) ]; do sleep 0.5; i=$((i+1)); done
        dump
        """
        let output = try await guest.runScript(script, timeout: .seconds(120))
        guard output.exitStatus == 0 else {
            let said = output.standardError.lastLines(2).joined(separator: " ")
            return (nil, output.standardOutput + output.standardError,
                    output.exitStatus == 3 ? said : "ynl page-pool-get failed (exit \(output.exitStatus)): \(said)")
        }
        guard let pools = parse(output.standardOutput) else {
            return (nil, output.standardOutput, "ynl page-pool-get printed no JSON list: " + output.standardOutput.lastLines(1).joined())
        }
        return (pools, output.standardOutput, nil)
    }

    /// Parses ynl's JSON dump: a list of objects with `id`, `ifindex`, `inflight`, `inflight-mem`,
    /// `detach-time`.
    public static func parse(_ json: String) -> [Pool]? {
        guard let list = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else { return nil }
        return list.map { pool in
            Pool(id: pool["id"] as? Int ?? -1, ifindex: pool["ifindex"] as? Int, inflight: pool["inflight"] as? Int,
                 inflightMemory: pool["inflight-mem"] as? Int, detachTime: pool["detach-time"] as? Int)
        }
    }

    /// Pools destroyed with pages still in flight, as one page_pool event: its title is the same in every
    /// boot (so the comparison finds it new or pre-existing), the text lists the pools.
    public static func leftovers(_ pools: [Pool], side: Side) -> [Splat] {
        let detached = pools.filter { $0.detachTime != nil }
        guard !detached.isEmpty else { return [] }
        let lines = detached.map { pool in
            "pool \(pool.id): \(pool.inflight.map(String.init) ?? "?") page(s) in flight (\(pool.inflightMemory.map(String.init) ?? "?") bytes), "
                + "detached at \(pool.detachTime.map(String.init) ?? "?")" + (pool.ifindex.map { ", ifindex \($0)" } ?? "")
        }
        return [Splat(side: side, kind: .pagePoolLeftover, title: "page_pool: pools still hold pages after the test NICs were torn down",
                      text: lines.joined(separator: "\n"))]
    }
}
