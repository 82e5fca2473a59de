/// When a database's segment is rewritten without its dead rows.
public struct CompactionPolicy: Sendable, Equatable {
    /// Tombstones needed before compaction is considered at all.
    public var minimumTombstones: Int
    /// Fraction of the segment's rows that must be tombstones.
    public var tombstoneRatio: Double

    public init(minimumTombstones: Int, tombstoneRatio: Double) {
        self.minimumTombstones = minimumTombstones
        self.tombstoneRatio = tombstoneRatio
    }

    /// At least 1,024 dead rows making up more than 30% of the segment.
    public static let `default` = CompactionPolicy(minimumTombstones: 1024, tombstoneRatio: 0.3)

    /// Whether a segment of `rows` rows, `tombstones` of them dead, should be compacted.
    public func shouldCompact(rows: Int, tombstones: Int) -> Bool {
        tombstones >= minimumTombstones && Double(tombstones) > tombstoneRatio * Double(rows)
    }
}
