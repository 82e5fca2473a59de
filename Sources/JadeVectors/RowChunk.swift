/// What a reader needs about each row besides its values: the id, the inverse norm and the metadata,
/// for 4,096 consecutive rows. Slots are filled in row order by the (single) refresher of a
/// database; a slot is written only while no published snapshot covers its row, and never
/// changes afterwards, so snapshots share chunks and searches read them without locks.
// @unchecked Sendable: a slot is written only before a snapshot publishes it and never after.
final class RowChunk: @unchecked Sendable {
    static let shift = 12
    static let capacity = 1 << shift
    static let mask = capacity - 1

    let ids: UnsafeMutablePointer<String>
    /// 1 / ‖row‖ (0 for a zero vector): cosine multiplies by it rather than dividing.
    let inverseNorms: UnsafeMutablePointer<Float>
    let metadata: UnsafeMutablePointer<Metadata?>
    /// Initialized slots.
    private(set) var count = 0

    init() {
        ids = .allocate(capacity: Self.capacity)
        inverseNorms = .allocate(capacity: Self.capacity)
        metadata = .allocate(capacity: Self.capacity)
    }

    /// Stores slot `index` (at most `count`: slots are filled in order, and a slot past the
    /// published rows may be written again when a refresh was abandoned).
    func store(_ index: Int, id: String, inverseNorm: Float, metadata value: Metadata?) {
        precondition(index <= count && index < Self.capacity)
        if index == count {
            ids.advanced(by: index).initialize(to: id)
            metadata.advanced(by: index).initialize(to: value)
            count += 1
        } else {
            ids[index] = id
            metadata[index] = value
        }
        inverseNorms[index] = inverseNorm
    }

    deinit {
        ids.deinitialize(count: count)
        metadata.deinitialize(count: count)
        ids.deallocate()
        inverseNorms.deallocate()
        metadata.deallocate()
    }
}
