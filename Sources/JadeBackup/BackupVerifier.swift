import Foundation
import GRDB
import JadeStore
import JadeVectors

/// Checks a backup directory before it is trusted: the manifest, every file's size and SHA-256,
/// SQLite's `PRAGMA integrity_check`, a schema this build knows, and a segment file long enough
/// for every vector database's committed rows. The first problem found is thrown.
public enum BackupVerifier {
    @discardableResult
    /// `schema`: the migrations this build knows (a backup written by a newer one is refused).
    public static func verify(_ directory: String, schema: Schema) throws -> BackupManifest {
        let manifest = try BackupManifest.read(from: directory)
        var listed = Set<String>()
        for file in manifest.files {
            guard !file.path.hasPrefix("/"), !file.path.split(separator: "/").contains("..") else {
                throw BackupError("manifest names an unsafe path \(file.path)")
            }
            listed.insert(file.path)
            let path = directory + "/" + file.path
            guard FileManager.default.fileExists(atPath: path) else {
                throw BackupError("backup file \(path) is missing")
            }
            let size = try FileCopy.size(of: path)
            guard size == file.bytes else {
                throw BackupError("backup file \(path) holds \(size) bytes, the manifest says \(file.bytes)")
            }
            let digest = try FileCopy.sha256(of: path)
            guard digest == file.sha256 else {
                throw BackupError(
                    "backup file \(path) is damaged: SHA-256 \(digest), the manifest says \(file.sha256)")
            }
        }
        guard listed.contains(OnlineBackup.databaseFileName) else {
            throw BackupError("the manifest does not list \(OnlineBackup.databaseFileName)")
        }
        try checkDatabase(
            directory + "/" + OnlineBackup.databaseFileName, directory: directory, listed: listed, schema: schema)
        return manifest
    }

    /// Integrity, schema and segment lengths of the backup's SQLite file.
    static func checkDatabase(_ path: String, directory: String, listed: Set<String>, schema: Schema) throws {
        var configuration = Configuration()
        configuration.readonly = true
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw BackupError("\(path) is not a usable SQLite database: \(error)")
        }
        defer { try? queue.close() }
        do {
            try queue.read { db in
                let problems = try String.fetchAll(db, sql: "PRAGMA integrity_check(20)")
                guard problems == ["ok"] else {
                    throw BackupError(
                        "\(path) fails PRAGMA integrity_check: \(problems.joined(separator: "; "))")
                }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
                let known = Set(schema.known)
                if let unknown = applied.first(where: { !known.contains($0) }) {
                    throw BackupError(
                        "\(path) was written by a newer jadevectordb (unknown migration \(unknown)); use that version to restore it"
                    )
                }
                let rows = try Row.fetchAll(
                    db, sql: "SELECT id, name, dimension, generation, committed_rows FROM vector_databases")
                for row in rows {
                    let name: String = row[1]
                    let committed: Int = row[4]
                    guard committed > 0 else { continue }
                    let file =
                        OnlineBackup.vectorsDirectory + "/"
                        + VectorStore.segmentFileName(databaseID: row[0], generation: row[3])
                    let need = Int64(committed) * Int64(VectorStore.rowBytes(dimension: row[2]))
                    guard listed.contains(file), FileManager.default.fileExists(atPath: directory + "/" + file) else {
                        throw BackupError("vector database \(name): segment file \(directory)/\(file) is missing")
                    }
                    let size = try FileCopy.size(of: directory + "/" + file)
                    guard size >= need else {
                        throw BackupError(
                            "vector database \(name): segment file \(directory)/\(file) holds \(size) bytes, \(committed) committed rows need \(need)"
                        )
                    }
                }
            }
        } catch let error as BackupError {
            throw error
        } catch let error as DatabaseError {
            throw BackupError("\(path) is not a usable SQLite database: \(error.message ?? "\(error.resultCode)")")
        }
    }
}
