import Foundation
import GRDB
import JadeStore
import Synchronization

/// Vector databases: the catalogue and metadata in SQLite, the values in append-only segment
/// files under `directory` that every worker process maps (MAP_SHARED, read-only).
///
/// Writes (upsert, delete, compaction) run in SQLite write transactions, which SQLite
/// serializes across processes; the segment bytes are written and synced before the transaction
/// that records their length commits. A search first checks the database's `version` in SQLite
/// and brings this process's snapshot up to date, so it sees every write acknowledged before it
/// started, on any worker. Thread-safe.
public final class VectorStore: Sendable {
    public let store: Store
    /// `<data_dir>/vectors`
    public let directory: String
    public let compactionPolicy: CompactionPolicy

    /// What this process keeps of the catalogue: an entry per database it has searched, and
    /// `database(named:)` answers by name with the epoch read before the query that found them.
    struct Cached {
        var entries: [String: CacheEntry] = [:]
        var info: [String: (epoch: UInt64, info: VectorDatabaseInfo)] = [:]
    }
    private let cached = Mutex(Cached())

    /// A counter shared by every process using the store (the worker's shared-memory segment),
    /// bumped after each write transaction: catalogue answers cached at one value are current
    /// while it has not moved. Nil: no catalogue caching.
    public struct ChangeEpoch: Sendable {
        public let current: @Sendable () -> UInt64
        public let bump: @Sendable () -> Void
        public init(current: @escaping @Sendable () -> UInt64, bump: @escaping @Sendable () -> Void) {
            self.current = current
            self.bump = bump
        }
    }
    public let changeEpoch: ChangeEpoch?
    /// `cache.enable_query_cache`: catalogue rows, vectors and search results kept between
    /// writes (needs `changeEpoch`). Nil: every read goes to SQLite and checks the segment.
    public let queryCache: QueryCache?

    /// Whether writes and searches start background catch-ups of HNSW graphs (off: only
    /// `catchUpIndex` builds them, as tests and benchmarks that want control do).
    public let automaticIndexing: Bool
    let indexScheduler = IndexScheduler()

    /// Counters of the HNSW indexes, for metrics.
    public struct IndexHooks: Sendable {
        /// Nodes added to graphs (rows indexed) by this process.
        public var onInserted: (@Sendable (Int) -> Void)?
        /// Distances computed by graph searches.
        public var onSearchVisits: (@Sendable (Int) -> Void)?
        public init(
            onInserted: (@Sendable (Int) -> Void)? = nil, onSearchVisits: (@Sendable (Int) -> Void)? = nil
        ) {
            self.onInserted = onInserted
            self.onSearchVisits = onSearchVisits
        }
    }
    public let indexHooks: IndexHooks

    /// The shared epoch when the query cache is on (read it before computing what it guards).
    var cacheEpoch: UInt64? { queryCache == nil ? nil : changeEpoch?.current() }

    /// The latest snapshot of one database; its mutex serializes the refreshes.
    final class CacheEntry: Sendable {
        struct State {
            var snapshot: DatabaseSnapshot?
            /// The change epoch at which `snapshot` was last found current (query cache on).
            var currentAt: UInt64?
        }
        let state = Mutex(State())
    }

    /// Opens the store on `directory` (created if missing) and removes segment files left over
    /// by deleted databases or finished compactions.
    public init(
        store: Store, directory: String, compactionPolicy: CompactionPolicy = .default,
        changeEpoch: ChangeEpoch? = nil, queryCache: QueryCache? = nil, automaticIndexing: Bool = true,
        indexHooks: IndexHooks = IndexHooks()
    ) throws {
        self.store = store
        self.automaticIndexing = automaticIndexing
        self.indexHooks = indexHooks
        self.changeEpoch = changeEpoch
        self.queryCache = queryCache
        self.directory = directory
        self.compactionPolicy = compactionPolicy
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw VectorStoreError.storage("cannot create \(directory): \(error.localizedDescription)")
        }
        try removeOrphanedFiles()
    }

    func segmentPath(_ databaseID: Int64, _ generation: Int64) -> String {
        directory + "/" + SegmentFile.fileName(databaseID: databaseID, generation: generation)
    }

    // MARK: Catalogue

    /// Creates an empty database. Throws `invalid` for a bad name, dimension or index setting,
    /// `conflict` if it exists.
    @discardableResult
    public func createDatabase(
        name: String, dimension: Int, metric: VectorMetric, index: VectorIndexSettings = .flat
    ) throws -> VectorDatabaseInfo {
        try VectorValidation.checkName(name)
        try VectorValidation.checkDimension(dimension)
        var (type, m, efConstruction) = (
            "flat", VectorIndexSettings.defaultM, VectorIndexSettings.defaultEfConstruction
        )
        if case .hnsw(let links, let breadth) = index {
            guard VectorIndexSettings.mRange.contains(links) else {
                throw VectorStoreError.invalid("index m must be from 4 to 64")
            }
            guard VectorIndexSettings.efConstructionRange.contains(breadth) else {
                throw VectorStoreError.invalid("index ef_construction must be from 8 to 2000")
            }
            (type, m, efConstruction) = ("hnsw", links, breadth)
        }
        return try write { db in
            if try CatalogueRow.fetch(db, name: name) != nil { throw VectorStoreError.conflict("database \(name)") }
            try db.execute(
                sql: """
                    INSERT INTO vector_databases (name, dimension, metric, index_type, index_m, index_ef_construction)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [name, dimension, metric.rawValue, type, m, efConstruction])
            guard let row = try CatalogueRow.fetch(db, name: name) else {
                throw VectorStoreError.storage("database \(name) vanished while being created")
            }
            return row.info
        }
    }

    /// Every database, by name.
    public func listDatabases() throws -> [VectorDatabaseInfo] {
        let rows = try read { db in try CatalogueRow.fetchAll(db) }
        dropCachedDatabases(except: rows)
        return rows.map(\.info)
    }

    /// One database, or nil.
    public func database(named name: String) throws -> VectorDatabaseInfo? {
        guard (try? VectorValidation.checkName(name)) != nil else { return nil }
        let epoch = cacheEpoch
        let info = try readOneStatement { db in try CatalogueRow.fetch(db, name: name)?.info }
        if let epoch, let info {
            cached.withLock { cached in
                if cached.info.count >= 10_000 { cached.info.removeAll(keepingCapacity: true) }
                cached.info[name] = (epoch, info)
            }
        }
        return info
    }

    /// The database's description from memory when nothing was written to the store since it
    /// was read (any worker's write moves the shared epoch); nil: ask `database(named:)`.
    public func cachedDatabase(named name: String) -> VectorDatabaseInfo? {
        guard let epoch = cacheEpoch else { return nil }
        return cached.withLock { cached in
            guard let entry = cached.info[name], entry.epoch == epoch else { return nil }
            return entry.info
        }
    }

    /// Deletes a database, its vectors and its segment files. Throws `notFound`.
    public func deleteDatabase(named name: String) throws {
        let id = try write { db -> Int64 in
            guard let cat = try CatalogueRow.fetch(db, name: name) else {
                throw VectorStoreError.notFound("database \(name)")
            }
            try db.execute(sql: "DELETE FROM vector_databases WHERE id = ?", arguments: [cat.id])
            return cat.id
        }
        cached.withLock { _ = $0.entries.removeValue(forKey: name) }
        // Searches in progress keep their mappings of the unlinked files.
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where file.hasPrefix("\(id)-") || file == "\(id).hnsw.lock" {
            unlink(directory + "/" + file)
        }
        SegmentFile.syncDirectory(of: directory + "/.")
    }

    /// Figures for `/health/db`.
    public func stats() throws -> VectorStoreStats {
        let rows = try read { db in try CatalogueRow.fetchAll(db) }
        dropCachedDatabases(except: rows)
        // Lock order: an entry's mutex may be held while taking `cached`, never the reverse.
        let entries = cached.withLock { Array($0.entries.values) }
        let mapped = entries.reduce(0) { sum, entry in
            sum + entry.state.withLock { $0.snapshot?.mapping?.length ?? 0 }
        }
        let graphs = rows.filter { $0.index != .flat }
        return VectorStoreStats(
            databases: rows.count, vectors: rows.reduce(0) { $0 + $1.liveCount }, mappedBytes: mapped,
            indexedRows: graphs.reduce(0) { $0 + $1.indexedRows },
            pendingIndexRows: graphs.reduce(0) { $0 + $1.committedRows - $1.indexedRows })
    }

    /// Removes segment files that no database refers to: every generation of a deleted
    /// database, and generations older than a database's current one. Files of generations newer
    /// than the committed one belong to a compaction in progress (or one that failed, whose
    /// file the next compaction reuses) and are left alone. Safe while other processes run:
    /// the directory is listed before the catalogue is read.
    public func removeOrphanedFiles() throws {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let (current, lastID) = try read { db -> ([Int64: (generation: Int64, indexedRows: Int)], Int64) in
            let rows = try Row.fetchAll(db, sql: "SELECT id, generation, indexed_rows FROM vector_databases")
            let lastID =
                try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'vector_databases'") ?? 0
            return (
                Dictionary(uniqueKeysWithValues: rows.map { ($0[0] as Int64, ($0[1] as Int64, $0[2] as Int)) }), lastID
            )
        }
        var removed = false
        for file in files {
            let orphan: Bool
            if let (id, generation) = SegmentFile.parse(fileName: file) {
                orphan = current[id].map { generation < $0.generation } ?? (id <= lastID)
            } else if let (id, generation, count) = HNSWIndexFile.parse(fileName: file) {
                // A graph newer than the catalogue's may be being published; the builder removes it if not.
                orphan =
                    current[id].map {
                        generation < $0.generation || (generation == $0.generation && count < $0.indexedRows)
                    }
                    ?? (id <= lastID)
            } else if file.hasSuffix(".hnsw.lock"), let id = Int64(file.dropLast(10)) {
                orphan = current[id] == nil && id <= lastID
            } else {
                continue
            }
            if orphan {
                unlink(directory + "/" + file)
                removed = true
            }
        }
        if removed { SegmentFile.syncDirectory(of: directory + "/.") }
    }

    // MARK: Snapshots

    /// This process's snapshot of the database, brought up to its latest committed version.
    func snapshot(named name: String) throws -> DatabaseSnapshot {
        guard (try? VectorValidation.checkName(name)) != nil else {
            throw VectorStoreError.notFound("database \(name)")
        }
        let entry = cached.withLock { cached in
            if let entry = cached.entries[name] { return entry }
            let entry = CacheEntry()
            cached.entries[name] = entry
            return entry
        }
        return try entry.state.withLock { state in try refresh(&state, entry, name: name) }
    }

    /// Brings `state` (the entry's, held) up to the database's latest committed version.
    private func refresh(_ entry: inout CacheEntry.State, _ owner: CacheEntry, name: String) throws
        -> DatabaseSnapshot
    {
        // Fastest path (query cache on): nothing was written anywhere since it was found current.
        let epoch = cacheEpoch
        if let cached = entry.snapshot, let epoch, entry.currentAt == epoch { return cached }
        // Fast path: one statement (no explicit transaction) says nothing changed.
        if let cached = entry.snapshot, try isCurrent(cached) {
            entry.currentAt = epoch
            return cached
        }
        entry.currentAt = nil
        // A compaction elsewhere may unlink the generation just read: read the catalogue again.
        for _ in 0..<5 {
            let old = entry.snapshot
            switch try read({ db in try DatabaseSnapshot.refresh(old, name: name, db: db) }) {
            case .unchanged:
                entry.currentAt = epoch
                return old!
            case .missing:
                entry.snapshot = nil
                cached.withLock { cached in
                    if cached.entries[name] === owner { cached.entries.removeValue(forKey: name) }
                }
                throw VectorStoreError.notFound("database \(name)")
            case .updated(var next, let needsMapping):
                if needsMapping {
                    do {
                        next.mapping = try SegmentMapping(path: segmentPath(next.databaseID, next.generation))
                    } catch is SegmentFile.Missing {
                        continue
                    }
                    guard next.mapping!.length >= next.rowCount * next.stride else {
                        throw VectorStoreError.storage(
                            "segment of database \(name) is shorter than its committed \(next.rowCount) rows")
                    }
                }
                attachGraph(&next)
                entry.snapshot = next
                entry.currentAt = epoch
                return next
            }
        }
        throw VectorStoreError.storage("segment of database \(name) is missing")
    }

    /// Whether the catalogue still has the snapshot's database at the snapshot's generation and version.
    private func isCurrent(_ snapshot: DatabaseSnapshot) throws -> Bool {
        do {
            return try store.pool.unsafeRead { db in
                let statement = try db.cachedStatement(
                    sql: "SELECT id = ? AND generation = ? AND version = ? FROM vector_databases WHERE name = ?")
                return try Bool.fetchOne(
                    statement,
                    arguments: [snapshot.databaseID, snapshot.generation, snapshot.version, snapshot.name]) ?? false
            }
        } catch let error as StoreUnavailable {
            throw error
        } catch let error as QueryTimeout {
            throw error
        } catch let error as DatabaseError {
            throw VectorStoreError.storage(error.message ?? "\(error.resultCode)")
        }
    }

    /// Forgets cached snapshots (and their mappings) of databases that no longer exist.
    private func dropCachedDatabases(except rows: [CatalogueRow]) {
        let ids = Dictionary(rows.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
        let entries = cached.withLock { Array($0.entries) }
        for (name, entry) in entries {
            let cachedID = entry.state.withLock { $0.snapshot?.databaseID }
            if let cachedID, ids[name] != cachedID {
                cached.withLock { cached in
                    if cached.entries[name] === entry { cached.entries.removeValue(forKey: name) }
                }
            }
        }
    }

    // MARK: Transactions

    /// A write transaction (BEGIN IMMEDIATE); SQLite failures become `storage` errors.
    /// Every write to the store goes through here; the shared epoch moves once it has ended
    /// (committed or not), before the caller can acknowledge anything.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        defer { changeEpoch?.bump() }
        return try translatingErrors { try store.pool.write(body) }
    }

    /// A read transaction on a snapshot of the latest committed state.
    func read<T>(_ body: (Database) throws -> T) throws -> T { try translatingErrors { try store.pool.read(body) } }

    /// For a body that runs one SELECT (its own consistent snapshot): no BEGIN/COMMIT around it.
    func readOneStatement<T>(_ body: (Database) throws -> T) throws -> T {
        try translatingErrors { try store.pool.unsafeRead(body) }
    }

    /// Our own errors and the store's 503s pass through; any other failure is `storage`.
    private func translatingErrors<T>(_ work: () throws -> T) throws -> T {
        do {
            return try work()
        } catch let error as VectorStoreError {
            throw error
        } catch let error as StoreUnavailable {
            throw error
        } catch let error as DatabaseError {
            throw VectorStoreError.storage(error.message ?? "\(error.resultCode)")
        } catch {
            throw VectorStoreError.storage("\(error)")
        }
    }
}
