import Dispatch
import Foundation
import GRDB
import Synchronization

/// Building and publishing a database's HNSW graph.
///
/// Who inserts: whichever process holds the database's index lock, an exclusive `flock` on
/// `<id>.hnsw.lock` in the vectors directory. The kernel drops it when its holder dies (even
/// by kill -9), so a crashed builder never leaves the lock taken, and a second process never
/// links into the same graph.
///
/// Publish order, which is what lets readers never block and never see a half-linked node:
/// 1. the builder links rows into its private, in-memory graph;
/// 2. it writes the graph to a temporary file, fsyncs it and renames it to
///    `<id>-<generation>-<rows>.hnsw` (a finished, immutable file; the directory is synced);
/// 3. only then it commits `indexed_rows = rows` (and a new version) in SQLite, if the
///    generation and `indexed_rows` are still what it started from.
/// A reader maps the file that its committed catalogue row names; SQLite's commit orders it
/// after the rename, and the file's bytes never change, so no further memory ordering is
/// needed between processes. A crash before step 3 leaves an unreferenced file (removed by
/// the next builder); after it, a complete file. Either way no acknowledged vector depends on
/// the graph: rows past the graph (the tail) are scanned exactly by every search.
extension VectorStore {
    /// Brings the database's graph up to its committed rows, publishing after each round of
    /// about `roundSeconds` (at least ten times the last write's time, so writes stay a small
    /// share of the work). `wait: false` gives up at once when another process (or thread)
    /// holds the lock. Returns the rows the graph covers when it stopped (0 for a flat index,
    /// or when it gave up).
    @discardableResult
    public func catchUpIndex(database name: String, wait: Bool = true, roundSeconds: Double = 1) throws -> Int {
        try catchUp(name, wait: wait, roundSeconds: roundSeconds) ?? 0
    }

    /// As `catchUpIndex`; nil when it gave up because the lock was taken.
    private func catchUp(_ name: String, wait: Bool, roundSeconds: Double) throws -> Int? {
        let first = try snapshot(named: name)
        guard case .hnsw = first.index else { return 0 }
        guard let lock = IndexLock(path: directory + "/\(first.databaseID).hnsw.lock", wait: wait) else { return nil }
        defer { lock.release() }
        removeIndexFiles(databaseID: first.databaseID, keeping: nil, temporaryOnly: true)

        var graph: HNSWGraph?
        var generation: Int64 = -1
        var published = 0  // the catalogue's indexed_rows as this builder last knew it
        var budget = roundSeconds
        while true {
            let snapshot = try self.snapshot(named: name)
            guard snapshot.databaseID == first.databaseID, case .hnsw(let m, let efConstruction) = snapshot.index else {
                return 0
            }
            if snapshot.generation != generation || graph.map({ $0.count != snapshot.indexedRows }) ?? true {
                // A new generation, or another builder published since: start from the catalogue's file.
                graph = continuedGraph(snapshot, m: m, efConstruction: efConstruction)
                generation = snapshot.generation
            }
            published = snapshot.indexedRows
            guard let building = graph, building.count < snapshot.rowCount, let mapping = snapshot.mapping else {
                return graph?.count ?? 0
            }
            building.attach(vectors: mapping.base)
            let start = DispatchTime.now().uptimeNanoseconds
            let stop = start + UInt64(budget * 1e9)
            var inserted = 0
            while building.count < snapshot.rowCount {
                building.insertNext(linked: snapshot.isLive(building.count))
                inserted += 1
                if inserted & 63 == 0 && DispatchTime.now().uptimeNanoseconds > stop { break }
            }
            indexHooks.onInserted?(inserted)
            let path =
                directory + "/"
                + HNSWIndexFile.fileName(databaseID: snapshot.databaseID, generation: generation, count: building.count)
            let writeStart = DispatchTime.now().uptimeNanoseconds
            try HNSWIndexFile.write(building, databaseID: snapshot.databaseID, generation: generation, to: path)
            let committed = try write { db -> Bool in
                try db.execute(
                    sql: """
                        UPDATE vector_databases SET indexed_rows = ?, version = version + 1
                        WHERE id = ? AND generation = ? AND indexed_rows = ? AND committed_rows >= ?
                        """,
                    arguments: [building.count, snapshot.databaseID, generation, published, building.count])
                return db.changesCount == 1
            }
            let writeSeconds = Double(DispatchTime.now().uptimeNanoseconds - writeStart) / 1e9
            budget = max(roundSeconds, 10 * writeSeconds)
            if committed {
                removeIndexFiles(databaseID: snapshot.databaseID, keeping: path, temporaryOnly: false)
            } else {
                // Compacted (or deleted) meanwhile: this graph describes rows that moved.
                unlink(path)
                graph = nil
            }
        }
    }

    /// The graph to continue from: the published file when it checks out (same settings,
    /// checksum, and the catalogue's row count), otherwise an empty graph (a full rebuild).
    private func continuedGraph(_ snapshot: DatabaseSnapshot, m: Int, efConstruction: Int) -> HNSWGraph {
        let distance = HNSWDistance(snapshot.metric)
        if snapshot.indexedRows > 0,
            let file = snapshot.graph ?? HNSWIndexMapping(path: indexPath(snapshot, count: snapshot.indexedRows)),
            file.header.databaseID == snapshot.databaseID, file.header.generation == snapshot.generation,
            file.header.count == snapshot.indexedRows, file.header.dimension == snapshot.dimension,
            let graph = HNSWGraph(continuing: file, distance: distance, m: m, efConstruction: efConstruction)
        {
            return graph
        }
        return HNSWGraph(
            dimension: snapshot.dimension, distance: distance, m: m, efConstruction: efConstruction,
            seed: UInt64(bitPattern: snapshot.databaseID &* 1_000_003 &+ snapshot.generation))
    }

    func indexPath(_ snapshot: DatabaseSnapshot, count: Int) -> String {
        directory + "/"
            + HNSWIndexFile.fileName(databaseID: snapshot.databaseID, generation: snapshot.generation, count: count)
    }

    /// Maps the graph the snapshot's catalogue row names (keeping the one it has when that is
    /// it); nil when there is none or the file is missing or damaged.
    func attachGraph(_ snapshot: inout DatabaseSnapshot) {
        guard case .hnsw = snapshot.index, snapshot.indexedRows > 0, snapshot.mapping != nil else {
            snapshot.graph = nil
            return
        }
        let path = indexPath(snapshot, count: snapshot.indexedRows)
        var st = stat()
        if let graph = snapshot.graph, graph.header.generation == snapshot.generation,
            graph.header.count == snapshot.indexedRows, stat(path, &st) == 0, UInt64(st.st_ino) == graph.inode
        {
            return
        }
        guard let graph = HNSWIndexMapping(path: path),
            graph.header.databaseID == snapshot.databaseID, graph.header.generation == snapshot.generation,
            graph.header.count == snapshot.indexedRows, graph.header.dimension == snapshot.dimension,
            graph.header.distance == HNSWDistance(snapshot.metric),
            (snapshot.mapping?.length ?? 0) >= graph.header.count * snapshot.stride
        else {
            snapshot.graph = nil
            return
        }
        snapshot.graph = graph
    }

    /// Removes the database's index files other than `keeping` (only its temporary files with
    /// `temporaryOnly`). Called by the lock holder, so no other builder is writing one.
    func removeIndexFiles(databaseID: Int64, keeping: String?, temporaryOnly: Bool) {
        let prefix = "\(databaseID)-"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where file.hasPrefix(prefix) {
            let path = directory + "/" + file
            if file.hasSuffix(".hnsw.tmp") || (!temporaryOnly && file.hasSuffix(".hnsw") && path != keeping) {
                unlink(path)
            }
        }
    }

    /// Asks for a background catch-up of the database's graph (coalesced: one per database at
    /// a time in this process; retried at most once a second while another process holds the
    /// lock). Does nothing when automatic indexing is off.
    func requestCatchUp(_ name: String) {
        guard automaticIndexing else { return }
        indexScheduler.request(name) { [weak self] name in
            // Only a lock held elsewhere makes the next requests wait a second.
            (try? self?.catchUp(name, wait: false, roundSeconds: 1)) == .some(nil)
        }
    }

    /// How far the database's graph has come: live vectors covered and pending.
    public func indexStatus(database name: String) throws -> VectorIndexStatus {
        let snapshot = try snapshot(named: name)
        guard case .hnsw = snapshot.index else {
            return VectorIndexStatus(settings: .flat, indexedVectors: snapshot.liveCount, pendingVectors: 0)
        }
        let covered = snapshot.graph?.header.count ?? 0
        let pending = snapshot.liveRows(in: covered..<snapshot.rowCount)
        if covered < snapshot.rowCount { requestCatchUp(name) }
        return VectorIndexStatus(
            settings: snapshot.index, indexedVectors: snapshot.liveCount - pending, pendingVectors: pending)
    }
}

extension HNSWDistance {
    /// The graph's distance for a database metric (ordered like the metric's score, reversed
    /// where higher is better).
    init(_ metric: VectorMetric) {
        switch metric {
        case .euclidean: self = .squaredEuclidean
        case .cosine: self = .cosine
        case .dot: self = .innerProduct
        }
    }
}

/// An exclusive `flock` on a file, held until `release()` (or the process's death).
struct IndexLock {
    let fd: Int32

    /// nil when `wait` is false and someone else holds it, or the file cannot be opened.
    init?(path: String, wait: Bool) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return nil }
        while flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            close(fd)
            return nil
        }
        self.fd = fd
    }

    func release() {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}

/// Background catch-ups, one database at a time per process, on a utility queue: a request
/// while one runs for the same database makes it run once more after; a request within a
/// second of a run that found the lock taken elsewhere is dropped (searches ask on every call
/// while a tail is pending, and the holder is indexing it anyway).
final class IndexScheduler: Sendable {
    private struct Entry {
        var running = false
        var again = false
        /// When a run last found the lock taken (0: its last run got it).
        var busySince: UInt64 = 0
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let queue = DispatchQueue(label: "jadevectordb.hnsw", qos: .utility)

    /// `run` returns true when it found the lock taken.
    func request(_ name: String, run: @escaping @Sendable (String) -> Bool) {
        let now = DispatchTime.now().uptimeNanoseconds
        let start = entries.withLock { entries -> Bool in
            var entry = entries[name] ?? Entry()
            defer { entries[name] = entry }
            if entry.running {
                entry.again = true
                return false
            }
            guard entry.busySince == 0 || now &- entry.busySince > 1_000_000_000 else { return false }
            entry.running = true
            return true
        }
        guard start else { return }
        queue.async { [self] in
            while true {
                let busy = run(name)
                let again = entries.withLock { entries -> Bool in
                    var entry = entries[name] ?? Entry()
                    defer { entries[name] = entry }
                    entry.busySince = busy ? DispatchTime.now().uptimeNanoseconds : 0
                    if entry.again {
                        entry.again = false
                        return true
                    }
                    entry.running = false
                    return false
                }
                if !again { return }
            }
        }
    }
}
