import JadeCore

/// `cache.enable_query_cache`: read results kept per worker between writes.
///
/// Three kinds of answers are kept: a database's catalogue row (`database(named:)`, kept by
/// `VectorStore` itself), single vectors (`get`) and search results (`search`, keyed by the
/// database, the query's values, k, the filter and the fields asked for). Every entry is stamped
/// with the shared change epoch read before the answer was computed; any write by any worker
/// moves the epoch (`VectorStore.ChangeEpoch`), after which the entry is a miss and is dropped.
/// A client therefore never reads an answer older than a write it has seen acknowledged.
///
/// Bounded: at most `capacity` entries (least recently used evicted first) and only answers
/// of at most `maxEntryBytes` each, so the cache costs at most capacity × maxEntryBytes per
/// worker (32 MiB at the defaults). Only authorized reads reach it.
public final class QueryCache: Sendable {
    /// What an entry answers.
    enum Key: Hashable {
        case vector(database: String, id: String)
        case search(Search)
    }

    /// A search request, exactly (a float's bits, so -0 and 0 differ: both are valid queries
    /// with identical answers, at worst two entries).
    struct Search: Hashable {
        let database: String
        let query: [UInt32]
        let k: Int
        let filter: VectorFilter?
        let scoreThreshold: UInt32?
        let includeValues: Bool
        let includeMetadata: Bool
        let ef: Int?
        let exact: Bool
    }

    enum Answer {
        case vector(VectorRecord?)
        case hits([SearchHit])
    }

    public static let defaultCapacity = 512
    public static let defaultMaxEntryBytes = 64 * 1024

    private let entries: LRUCache<Key, Answer>
    let maxEntryBytes: Int

    /// Lookups answered from the cache, and those that were not.
    public var hits: UInt64 { entries.hits }
    public var misses: UInt64 { entries.misses }

    /// `onLookup` is called on every lookup with whether it was a hit (metrics).
    public init(
        capacity: Int = QueryCache.defaultCapacity, maxEntryBytes: Int = QueryCache.defaultMaxEntryBytes,
        onLookup: (@Sendable (Bool) -> Void)? = nil
    ) {
        self.onLookup = onLookup
        // Expiry comes from the epoch; the TTL only needs to be long.
        entries = LRUCache(capacity: capacity, ttlSeconds: 86_400)
        self.maxEntryBytes = maxEntryBytes
    }

    /// Called on every lookup with whether it was a hit (metrics).
    let onLookup: (@Sendable (Bool) -> Void)?

    func answer(_ key: Key, epoch: UInt64) -> Answer? {
        let found = entries.value(for: key, stamp: EpochStamp(global: epoch, user: 0), now: Self.now)
        onLookup?(found != nil)
        return found
    }

    /// Keeps `answer` unless it is larger than `maxEntryBytes` (estimated).
    func keep(_ answer: Answer, for key: Key, epoch: UInt64) {
        guard Self.estimatedBytes(answer) <= maxEntryBytes else { return }
        entries.set(answer, for: key, stamp: EpochStamp(global: epoch, user: 0), now: Self.now)
    }

    /// Approximate memory of an answer: values, ids and a flat cost per hit and metadata field.
    static func estimatedBytes(_ answer: Answer) -> Int {
        func metadataBytes(_ m: Metadata?) -> Int {
            guard let m else { return 0 }
            return m.reduce(0) { total, pair in
                let value: Int
                if case .string(let s) = pair.value { value = s.utf8.count } else { value = 8 }
                return total + 48 + pair.key.utf8.count + value
            }
        }
        switch answer {
        case .vector(let record):
            guard let record else { return 64 }
            return 64 + record.id.utf8.count + record.values.count * 4 + metadataBytes(record.metadata)
        case .hits(let hits):
            return hits.reduce(64) { total, hit in
                total + 64 + hit.id.utf8.count + (hit.values?.count ?? 0) * 4 + metadataBytes(hit.metadata)
            }
        }
    }

    /// The LRU's clock: entries never expire by time here, so a constant does.
    private static let now: UInt64 = 1
}
