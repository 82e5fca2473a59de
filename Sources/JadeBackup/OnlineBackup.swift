import Foundation
import GRDB
import JadeConfig
import JadeCore
import JadeStore
import JadeVectors

#if canImport(Glibc)
    import Glibc
#endif

/// `jadevectordb backup DEST`: a consistent copy of a data directory while the server runs.
///
/// The cut is the SQLite snapshot of one read transaction. Inside it the backup reads the
/// vector catalogue (each database's generation and `committed_rows`), opens every segment file
/// the catalogue names, and copies the database with SQLite's online backup API, which reads
/// through the same transaction and so sees exactly the same snapshot. The segment files are
/// copied afterwards, each only up to its `committed_rows` in that snapshot: writers only ever
/// append past the committed length, so those bytes can no longer change.
///
/// A compaction (or a database deletion, or a worker's orphan sweep) that commits after the
/// snapshot may unlink a generation file before the backup opens it; the read transaction does
/// not prevent that. The file is then missing (ENOENT) and the whole attempt starts again on a
/// newer snapshot, up to `attempts` times. Once opened, a file stays readable through its
/// descriptor even if it is unlinked during the copy.
public enum OnlineBackup {
    /// Name of the database file inside a data directory and a backup.
    public static let databaseFileName = "jadevectordb.sqlite"
    public static let vectorsDirectory = "vectors"

    /// One segment file held open for the copy.
    struct OpenSegment {
        var info: BackupManifest.VectorDatabase
        var sourcePath: String
        var fd: Int32
        var length: Int64
    }

    /// Thrown inside the read transaction when a named segment file is already gone.
    struct SegmentVanished: Error { let path: String }

    /// Copies the database and segment files of `settings.dataDirectory` into `destination`
    /// (created; it must not exist or be empty), writes the manifest, verifies the result, and
    /// returns the manifest.
    public static func run(
        settings: JadeConfiguration.Database, destination: String, schema: Schema, attempts: Int = 5,
        log: (String) -> Void = { _ in }
    ) throws -> BackupManifest {
        let dataDirectory = settings.dataDirectory
        let sourcePath = settings.databasePath
        guard FileManager.default.fileExists(atPath: sourcePath) else {
            throw BackupError("no database at \(sourcePath): check storage.data_dir (JADEVECTORDB_DATA_DIR)")
        }
        let createdDestination = try prepareDestination(destination)
        do {
            let store = try Store.open(settings, readerCount: 1)
            defer { try? store.close() }
            var lastVanished = ""
            for attempt in 1...attempts {
                do {
                    let manifest = try copyOnce(
                        store: store, vectorsSource: dataDirectory + "/" + vectorsDirectory, destination: destination)
                    log("backup of \(sourcePath) written to \(destination) (attempt \(attempt))")
                    _ = try BackupVerifier.verify(destination, schema: schema)
                    return manifest
                } catch let vanished as SegmentVanished {
                    lastVanished = vanished.path
                    log("segment \(vanished.path) was replaced during the backup; starting again")
                    try clearContents(of: destination)
                }
            }
            throw BackupError(
                "segment files kept changing under the backup (last: \(lastVanished)); \(attempts) attempts failed")
        } catch {
            if createdDestination {
                try? FileManager.default.removeItem(atPath: destination)
            } else {
                try? clearContents(of: destination)
            }
            if let error = error as? BackupError { throw error }
            if let error = error as? StoreError { throw BackupError(error.description) }
            throw BackupError("backup failed: \(error)")
        }
    }

    /// One attempt: snapshot, SQLite copy, segment copies, manifest.
    static func copyOnce(store: Store, vectorsSource: String, destination: String) throws -> BackupManifest {
        let databaseCopy = destination + "/" + databaseFileName
        let copyQueue = try DatabaseQueue(path: databaseCopy)
        var segments: [OpenSegment] = []
        defer { for segment in segments { close(segment.fd) } }
        let migrations: [String] = try store.pool.read { db in
            // The first statement starts the snapshot; everything below reads through it.
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, name, dimension, generation, committed_rows FROM vector_databases ORDER BY id")
            let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
            for row in rows {
                let id: Int64 = row[0]
                let dimension: Int = row[2]
                let generation: Int64 = row[3]
                let committed: Int = row[4]
                let name = VectorStore.segmentFileName(databaseID: id, generation: generation)
                let info = BackupManifest.VectorDatabase(
                    id: id, name: row[1], dimension: dimension, generation: generation, committedRows: committed,
                    file: vectorsDirectory + "/" + name)
                let fd = open(vectorsSource + "/" + name, O_RDONLY | O_CLOEXEC)
                if fd < 0 {
                    // A database with no rows yet may have no file at all.
                    if errno == ENOENT && committed == 0 { continue }
                    if errno == ENOENT { throw SegmentVanished(path: vectorsSource + "/" + name) }
                    throw BackupError("cannot open \(vectorsSource)/\(name): \(FileCopy.errnoText())")
                }
                segments.append(
                    OpenSegment(
                        info: info, sourcePath: vectorsSource + "/" + name, fd: fd,
                        length: Int64(committed) * Int64(VectorStore.rowBytes(dimension: dimension))
                    ))
            }
            try copyQueue.inDatabase { copy in try db.backup(to: copy) }
            return applied
        }
        // One self-contained file: no -wal beside it.
        try copyQueue.inDatabase { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
        try copyQueue.close()

        try FileManager.default.createDirectory(
            atPath: destination + "/" + vectorsDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750])
        var files = [
            BackupManifest.File(
                path: databaseFileName, bytes: try FileCopy.size(of: databaseCopy),
                sha256: try FileCopy.sha256(of: databaseCopy))
        ]
        var databases: [BackupManifest.VectorDatabase] = []
        for segment in segments {
            let target = destination + "/" + segment.info.file
            let digest = try FileCopy.copy(
                from: segment.fd, sourceName: segment.sourcePath, length: segment.length, to: target)
            files.append(BackupManifest.File(path: segment.info.file, bytes: segment.length, sha256: digest))
            databases.append(segment.info)
        }
        FileCopy.syncDirectory(destination + "/" + vectorsDirectory)
        let manifest = BackupManifest(
            createdAt: ISO8601DateFormatter().string(from: Date()), serverVersion: JadeVersion.current,
            migrations: migrations, files: files, vectorDatabases: databases)
        let manifestPath = destination + "/" + BackupManifest.fileName
        try manifest.encoded().write(to: URL(fileURLWithPath: manifestPath + ".tmp"))
        guard rename(manifestPath + ".tmp", manifestPath) == 0 else {
            throw BackupError("cannot write \(manifestPath): \(FileCopy.errnoText())")
        }
        FileCopy.syncDirectory(destination)
        return manifest
    }

    /// Creates `path`, or accepts an existing empty directory. Returns whether it was created.
    static func prepareDestination(_ path: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw BackupError("\(path) exists and is not a directory") }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            guard entries.isEmpty else { throw BackupError("\(path) is not empty; back up into a new directory") }
            return false
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw BackupError("cannot create \(path): \(error.localizedDescription)")
        }
        return true
    }

    static func clearContents(of path: String) throws {
        for entry in try FileManager.default.contentsOfDirectory(atPath: path) {
            try FileManager.default.removeItem(atPath: path + "/" + entry)
        }
    }
}
