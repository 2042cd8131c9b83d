import NetrigCore

/// Wires a link under test inside the guests, with scripts netrig writes itself (interface names, MACs
/// and addresses come from `NetworkLink`, never from workload files): the NICs are found by MAC, renamed,
/// checked to be driven by the expected driver, addressed, and the link is proven with ping.
public enum LinkSetup {
    /// Wires `link` across `guests` (one for `loop`, two for `pair`) and returns the setup output. With
    /// `xdpPass`, vmxnet3 ends get XDP_PASS attached (see `xdpScript`).
    public static func wire(_ link: NetworkLink, on guests: [any GuestSession], xdpPass: Bool = true) async throws -> String {
        guard guests.count == link.topology.guestCount else {
            throw NetrigError(blame: .infrastructure, subject: link.label,
                              message: "the \(link.topology.rawValue) topology needs \(link.topology.guestCount) guest(s), got \(guests.count)")
        }
        let scripts: [String] = switch link.topology {
        case .loop: [loopScript(link, xdpPass: xdpPass)]
        case .pair: [pairEndScript(link, end: 0, xdpPass: xdpPass), pairEndScript(link, end: 1, xdpPass: xdpPass)]
        }
        var transcript = ""
        for (guest, script) in zip(guests, scripts) {
            let output = try await guest.runScript(script, timeout: .seconds(120))
            transcript += "## setup of \(link.label) on \(guest.name)\n\(output.standardOutput)\(output.standardError)\n"
            guard output.exitStatus == 0 else {
                throw NetrigError(blame: .infrastructure, subject: "guest \(guest.name), \(link.label)",
                                  message: "setting up the \(link.topology.rawValue) topology failed (status \(output.exitStatus))",
                                  details: (output.standardOutput + output.standardError).lastLines(8))
            }
        }
        if link.topology == .pair {
            let ping = try await guests[0].runScript(pingScript(link) + "echo \"pair: \(link.localInterface) (\(link.model.driver)) <-> \(guests[1].name)/\(link.peerInterface)\"\n",
                                                     timeout: .seconds(60))
            transcript += "## ping across \(link.label)\n\(ping.standardOutput)\(ping.standardError)\n"
            guard ping.exitStatus == 0 else {
                throw NetrigError(blame: .infrastructure, subject: "guests \(guests[0].name) and \(guests[1].name), \(link.label)",
                                  message: "no ping across the pair link", details: (ping.standardOutput + ping.standardError).lastLines(8))
            }
        }
        return transcript
    }

    static let findInterface = """
    find_if() { for d in /sys/class/net/*; do [ "$(cat "$d/address")" = "$1" ] && { basename "$d"; return 0; }; done; echo "no NIC with MAC $1" >&2; return 1; }
    check_driver() { drv=$(basename "$(readlink /sys/class/net/$1/device/driver)"); [ "$drv" = "$2" ] || { echo "NIC $1 is driven by $drv, expected $2" >&2; exit 3; }; }

    """

    static func pingScript(_ link: NetworkLink) -> String {
        """
        for i in $(seq 1 30); do ping -q -c 1 -W 1 \(link.peerAddress) >/dev/null 2>&1 && break; sleep 0.5; done
        ping -q -c 1 -W 2 \(link.peerAddress)

        """
    }

    /// Both ends in one guest, the peer end in a network namespace.
    static func loopScript(_ link: NetworkLink, xdpPass: Bool = true) -> String {
        let local = link.localInterface, peer = link.peerInterface, ns = link.peerNamespace
        var script = "set -e\n" + findInterface + "ip netns del \(ns) 2>/dev/null || true\nip link del \(local) 2>/dev/null || true\n"
        switch link.model {
        case .veth:
            script += """
            ip netns add \(ns)
            ip link add \(local) type veth peer name \(peer) netns \(ns)

            """
        case .netdevsim:
            // Two netdevsim devices of one port each, linked across the namespaces (Linux 6.9+): what one
            // transmits, the other receives through its NAPI and page_pool.
            let (first, second) = netdevsimIDs(link)
            script += """
            [ -w /sys/bus/netdevsim/new_device ] || { echo "netdevsim is not in this kernel (CONFIG_NETDEVSIM)" >&2; exit 4; }
            [ -w /sys/bus/netdevsim/link_device ] || { echo "this netdevsim cannot link devices (Linux 6.9 or newer)" >&2; exit 4; }
            for id in \(first) \(second); do
              [ -e /sys/bus/netdevsim/devices/netdevsim$id ] && echo $id > /sys/bus/netdevsim/del_device
              echo "$id 1" > /sys/bus/netdevsim/new_device
            done
            for i in $(seq 1 50); do [ -n "$(ls /sys/bus/netdevsim/devices/netdevsim\(second)/net/ 2>/dev/null)" ] && break; sleep 0.1; done
            first=$(ls /sys/bus/netdevsim/devices/netdevsim\(first)/net/)
            second=$(ls /sys/bus/netdevsim/devices/netdevsim\(second)/net/)
            ip link set "$first" name \(local)
            ip link set "$second" name \(peer)
            ip netns add \(ns)
            ip link set \(peer) netns \(ns)
            exec 3</run/netns/\(ns) 4</proc/self/ns/net
            echo "4:$(cat /sys/class/net/\(local)/ifindex) 3:$(ip -n \(ns) -o link show \(peer) | cut -d: -f1)" > /sys/bus/netdevsim/link_device
            exec 3<&- 4<&-

            """
        case .virtioNet, .e1000e, .igb, .vmxnet3:
            script += """
            first=$(find_if \(link.localMAC))
            second=$(find_if \(link.peerMAC))
            check_driver "$first" \(link.model.driver)
            check_driver "$second" \(link.model.driver)
            ip link set "$first" down; ip link set "$first" name \(local)
            ip link set "$second" down; ip link set "$second" name \(peer)
            ip netns add \(ns)
            ip link set \(peer) netns \(ns)

            """
        }
        script += offloadsScript(link.model, [LinkEnd(local), LinkEnd(peer, namespace: ns)])
        script += """
        ip addr add \(link.localAddress)/24 dev \(local)
        ip link set \(local) up
        ip -n \(ns) addr add \(link.peerAddress)/24 dev \(peer)
        ip -n \(ns) link set \(peer) up
        ip -n \(ns) link set lo up

        """
        if link.model == .vmxnet3 && xdpPass {
            script += xdpScript([LinkEnd(link.localInterface), LinkEnd(peer, namespace: ns)])
        }
        return script + pingScript(link) + "echo \"loop: \(local) (\(link.model.driver)) <-> \(ns)/\(peer)\"\n"
    }

    /// `ethtool -K` for the model's `offloadsTurnedOff` on each end. Says what it did.
    static func offloadsScript(_ model: NICModel, _ ends: [LinkEnd]) -> String {
        let features = model.offloadsTurnedOff
        guard !features.isEmpty else { return "" }
        let settings = features.map { "\($0) off" }.joined(separator: " ")
        let commands = ends.map { $0.run("ethtool -K \($0.interface) \(settings)") }
        return commands.joined(separator: "\n") + "\necho \"offloads: \(settings) on \(model.rawValue) (QEMU's TSO emulation sends IP fragments)\"\n"
    }

    /// One end of a `pair` link: end 0 takes the local name and address, end 1 the peer's.
    static func pairEndScript(_ link: NetworkLink, end: Int, xdpPass: Bool = true) -> String {
        let (mac, name, address) = end == 0 ? (link.localMAC, link.localInterface, link.localAddress)
                                            : (link.peerMAC, link.peerInterface, link.peerAddress)
        return "set -e\n" + findInterface + """
        nic=$(find_if \(mac))
        check_driver "$nic" \(link.model.driver)
        ip link set "$nic" down; ip link set "$nic" name \(name)
        \(offloadsScript(link.model, [LinkEnd(name)]))ip addr flush dev \(name)
        ip addr add \(address)/24 dev \(name)
        ip link set \(name) up

        """ + (link.model == .vmxnet3 && xdpPass ? xdpScript([LinkEnd(name)]) : "") + """
        echo "pair end \(end): \(name) (\(link.model.driver)) \(address)"

        """
    }

    /// The netdevsim device IDs of a link's two ends: 100 and up, two per link, so that links of a matrix
    /// and devices a workload creates itself never collide.
    static func netdevsimIDs(_ link: NetworkLink) -> (Int, Int) {
        (100 + 2 * link.index, 101 + 2 * link.index)
    }

    /// vmxnet3 (Linux 6.12) takes RX buffers from its page pool only while an XDP program is attached:
    /// netrig attaches XDP_PASS (images/…/netrig-xdp), so the traffic passes through page_pool pages. A
    /// kernel without the bpf() system call keeps the skb path, and the transcript says so.
    static func xdpScript(_ ends: [LinkEnd]) -> String {
        let commands = ends.map { $0.run("netrig-xdp \($0.interface)") }.joined(separator: " && ")
        return """
        if \(commands); then echo "xdp: XDP_PASS attached, RX buffers come from the page pool"
        else echo "xdp: not attached (kernel without CONFIG_BPF_SYSCALL?): RX bypasses the page pool"; fi

        """
    }
}

/// One end of a link inside a guest: its interface, and the namespace it lives in (the peer end of a
/// `loop`), so that every command for it is run where the interface is.
struct LinkEnd {
    var interface: String
    var namespace: String?

    init(_ interface: String, namespace: String? = nil) {
        self.interface = interface
        self.namespace = namespace
    }

    /// `command` as run in the end's namespace.
    func run(_ command: String) -> String { namespace.map { "ip netns exec \($0) " + command } ?? command }
}

extension LinkSetup {
    /// The NIC counters of both ends (`ethtool -S`, and the kernel's own interface statistics), for the
    /// boot's transcript: what the driver saw of the traffic (drops, allocation failures, page pool
    /// recycling where the driver reports it).
    public static func counters(_ link: NetworkLink, on guests: [any GuestSession]) async throws -> String {
        let ends: [(any GuestSession, LinkEnd)] = switch link.topology {
        case .loop: [(guests[0], LinkEnd(link.localInterface)), (guests[0], LinkEnd(link.peerInterface, namespace: link.peerNamespace))]
        case .pair: [(guests[0], LinkEnd(link.localInterface)), (guests[1], LinkEnd(link.peerInterface))]
        }
        var transcript = ""
        for (guest, end) in ends {
            let output = try await guest.runScript(end.run("ethtool -S \(end.interface) 2>&1 || true") + "\n" + end.run("ip -s link show \(end.interface) 2>&1"),
                                                   timeout: .seconds(60))
            transcript += "## counters of \(end.interface) on \(guest.name)\n\(output.standardOutput)"
        }
        return transcript
    }

    /// Takes the link down again after the traffic: both ends down, netdevsim devices and veth pairs
    /// deleted, the namespace removed. Page pools of the link's NICs are destroyed on the way, so what
    /// netlink still lists afterwards holds pages nobody returned (`PagePoolProbe`).
    public static func teardown(_ link: NetworkLink, on guests: [any GuestSession]) async throws -> String {
        var transcript = ""
        let scripts: [String] = switch link.topology {
        case .loop: [loopTeardownScript(link)]
        case .pair: ["ip link set \(link.localInterface) down 2>&1", "ip link set \(link.peerInterface) down 2>&1"]
        }
        for (guest, script) in zip(guests, scripts) {
            let output = try await guest.runScript(script, timeout: .seconds(60))
            transcript += "## teardown of \(link.label) on \(guest.name) (status \(output.exitStatus))\n\(output.standardOutput)\(output.standardError)"
        }
        return transcript
    }

    static func loopTeardownScript(_ link: NetworkLink) -> String {
        let ns = link.peerNamespace
        var script = "ip -n \(ns) link set \(link.peerInterface) down 2>&1\nip link set \(link.localInterface) down 2>&1\n"
        switch link.model {
        case .netdevsim:
            let (first, second) = netdevsimIDs(link)
            script += "for id in \(first) \(second); do echo $id > /sys/bus/netdevsim/del_device; done\n"
        case .veth:
            script += "ip link del \(link.localInterface) 2>&1\n"
        case .virtioNet, .e1000e, .igb, .vmxnet3:
            break
        }
        return script + "ip netns del \(ns) 2>&1\necho \"teardown: \(link.label)\"\n"
    }
}
