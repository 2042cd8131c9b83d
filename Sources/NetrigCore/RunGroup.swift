/// Identifies a stored group of runs.
public typealias RunGroupID = Int64

/// Runs that belong together: a config × NIC matrix, a bisection's steps, a night of the nightly job, the
/// revisions of one series. The store keeps the group and its members in order, each with a label.
public struct RunGroup: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// One `netrig run` over several configs or NICs: one verdict.
        case matrix
        /// The steps of a bisection.
        case bisection
        /// One night of the nightly job.
        case night
        /// Every run of one series (its revisions, its cells).
        case series
    }

    public struct Member: Sendable, Equatable, Codable {
        public var run: RunID
        /// "default/virtio-net", "patch 2/3", "v2".
        public var label: String

        public init(run: RunID, label: String) {
            self.run = run
            self.label = label
        }
    }

    public var id: RunGroupID
    public var kind: Kind
    public var label: String
    public var createdAt: String
    public var members: [Member]

    public init(id: RunGroupID, kind: Kind, label: String, createdAt: String, members: [Member]) {
        self.id = id
        self.kind = kind
        self.label = label
        self.createdAt = createdAt
        self.members = members
    }
}
