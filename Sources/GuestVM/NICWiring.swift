import NetrigCore

/// One emulated NIC of one guest: its model, which test MAC it carries, and where its packets go.
public struct TestNIC: Sendable, Equatable {
    public enum Backend: Sendable, Equatable {
        /// A QEMU hub inside the one QEMU process (loop): no host socket whose timing leaks into virtual time.
        case hub(Int)
        /// A UDP socket pair on 127.0.0.1 (pair): this end receives on `localPort` and sends to `remotePort`.
        case udp(localPort: Int, remotePort: Int)
    }
    public var model: NICModel
    public var macIndex: Int
    public var backend: Backend

    public init(model: NICModel, macIndex: Int, backend: Backend) {
        self.model = model
        self.macIndex = macIndex
        self.backend = backend
    }

    public var mac: String { GuestAddressing.testMAC(macIndex) }

    /// The emulated NICs of the guests that carry `links`: in `loop` both ends of every link in the one
    /// guest; in `pair` the local ends in the first guest and the peer ends in the second, each pair of
    /// ends joined by two UDP ports from `ports` (asked for only when needed). Software links need none.
    public static func wiring(_ links: [NetworkLink], ports: () throws -> Int) rethrows -> [[TestNIC]] {
        guard let topology = links.first?.topology else { return [[]] }
        var guests = Array(repeating: [TestNIC](), count: topology.guestCount)
        for link in links where link.model.isEmulated {
            switch link.topology {
            case .loop:
                guests[0] += [TestNIC(model: link.model, macIndex: 2 * link.index, backend: .hub(link.index)),
                              TestNIC(model: link.model, macIndex: 2 * link.index + 1, backend: .hub(link.index))]
            case .pair:
                let first = try ports(), second = try ports()
                guests[0].append(TestNIC(model: link.model, macIndex: 2 * link.index, backend: .udp(localPort: first, remotePort: second)))
                guests[1].append(TestNIC(model: link.model, macIndex: 2 * link.index + 1, backend: .udp(localPort: second, remotePort: first)))
            }
        }
        return guests
    }
}
