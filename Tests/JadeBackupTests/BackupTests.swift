import Foundation
import GRDB
import JadeConfig
import JadeStore
import JadeVectors
import Testing

@testable import JadeBackup

/// Online backup, verification and restore of a data directory, in process: what the backup
/// holds, and each damage the verifier and the restore must refuse before touching anything.
@Suite struct BackupTests {
    static let schema = Schema(Schema.foundation, VectorSchema.migrations)

    /// A temporary area with a populated data directory (`data`), room for backups and
    /// restores, and the settings of any directory in it.
    final class Area {
        let root = NSTemporaryDirectory() + "jadebackup-" + UUID().uuidString
        var data: String { root + "/data" }

        init(vectors: Int = 50) throws {
            try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
            try "{}".write(toFile: root + "/config/development.json", atomically: true, encoding: .utf8)
            let store = try Store.open(try settings(data), readerCount: 1)
            defer { try? store.close() }
            try store.migrate(BackupTests.schema)
            let vectorStore = try VectorStore(store: store, directory: data + "/vectors")
            _ = try vectorStore.createDatabase(name: "films", dimension: 4, metric: .cosine)
            _ = try vectorStore.createDatabase(name: "empty", dimension: 2, metric: .dot)
            _ = try vectorStore.upsert(
                database: "films",
                vectors: (0..<vectors).map {
                    VectorRecord(id: "v\($0)", values: [Float($0), 1, 2, 3], metadata: ["n": .number(Double($0))])
                })
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func settings(_ dataDirectory: String) throws -> JadeConfiguration.Database {
            let resolved = try ConfigLoader.load(environment: [
                "JADEVECTORDB_CONFIG_DIR": root + "/config", "JADEVECTORDB_DATA_DIR": dataDirectory,
            ])
            try DataDirectory.prepare(dataDirectory)
            return JadeConfiguration(resolved).database
        }

        func backup(_ name: String = "backup") throws -> (path: String, manifest: BackupManifest) {
            let path = root + "/" + name
            return (
                path, try OnlineBackup.run(settings: try settings(data), destination: path, schema: BackupTests.schema)
            )
        }

        /// The vectors of `films` in a data directory.
        func films(in dataDirectory: String) throws -> [VectorRecord] {
            let store = try Store.open(try settings(dataDirectory), readerCount: 1)
            defer { try? store.close() }
            let vectors = try VectorStore(store: store, directory: dataDirectory + "/vectors")
            return try (0..<1000).compactMap { try vectors.get(database: "films", id: "v\($0)") }
        }

        /// Rewrites the manifest after a deliberate change to a file, so that only the change
        /// the test is about remains for the verifier to find.
        func reseal(_ backup: String, _ change: (inout BackupManifest) throws -> Void = { _ in }) throws {
            var manifest = try BackupManifest.read(from: backup)
            for i in manifest.files.indices {
                let path = backup + "/" + manifest.files[i].path
                manifest.files[i].bytes = try FileCopy.size(of: path)
                manifest.files[i].sha256 = try FileCopy.sha256(of: path)
            }
            try change(&manifest)
            try manifest.encoded().write(to: URL(fileURLWithPath: backup + "/" + BackupManifest.fileName))
        }
    }

    static func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func aBackupRestoresEveryVectorIntoAnEmptyDirectory() throws {
        let area = try Area()
        let (backup, manifest) = try area.backup()
        // A database without rows has no segment file yet: its catalogue row is in the SQLite copy.
        #expect(manifest.vectorDatabases.map(\.name) == ["films"])
        #expect(manifest.vectorDatabases.first { $0.name == "films" }?.committedRows == 50)
        #expect(manifest.migrations == Self.schema.known)
        try BackupVerifier.verify(backup, schema: Self.schema)
        let target = area.root + "/restored"
        _ = try Restore.run(from: backup, settings: try area.settings(target), schema: Self.schema, force: false)
        let restored = try area.films(in: target)
        #expect(restored.count == 50)
        #expect(restored == (try area.films(in: area.data)))
        let store = try Store.open(try area.settings(target), readerCount: 1)
        defer { try? store.close() }
        let catalogue = try VectorStore(store: store, directory: target + "/vectors")
        #expect(try catalogue.database(named: "empty")?.dimension == 2)
        // A backup goes only into an empty or new destination.
        #expect(Self.message { try area.backup() }.contains("not empty"))
    }

    @Test func aDamagedOrIncompleteBackupIsRefusedBeforeAnythingIsTouched() throws {
        let area = try Area()
        let (backup, manifest) = try area.backup()
        let segment = try #require(manifest.files.first { $0.path.hasPrefix("vectors/") }?.path)
        // One flipped byte.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: backup + "/" + segment))
        try handle.seek(toOffset: 10)
        let byte = try #require(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: 10)
        handle.write(Data([byte ^ 0xFF]))
        try handle.close()
        #expect(Self.message { try BackupVerifier.verify(backup, schema: Self.schema) }.contains("damaged"))
        let target = area.root + "/target"
        #expect(
            Self.message {
                try Restore.run(from: backup, settings: try area.settings(target), schema: Self.schema, force: false)
            }.contains("damaged"))
        #expect((try FileManager.default.contentsOfDirectory(atPath: target)).isEmpty)
        // A segment shorter than its committed rows, even with a manifest that agrees.
        try FileManager.default.removeItem(atPath: backup + "/" + segment)
        try Data(count: 16).write(to: URL(fileURLWithPath: backup + "/" + segment))
        try area.reseal(backup)
        #expect(Self.message { try BackupVerifier.verify(backup, schema: Self.schema) }.contains("committed rows need"))
        // A missing file.
        try FileManager.default.removeItem(atPath: backup + "/" + segment)
        #expect(Self.message { try BackupVerifier.verify(backup, schema: Self.schema) }.contains("missing"))
    }

    @Test func aManifestCannotNameAPathOutsideTheBackup() throws {
        let area = try Area(vectors: 3)
        let (backup, _) = try area.backup()
        try area.reseal(backup) { manifest in
            manifest.files.append(BackupManifest.File(path: "../outside", bytes: 0, sha256: ""))
        }
        #expect(Self.message { try BackupVerifier.verify(backup, schema: Self.schema) }.contains("unsafe path"))
    }

    @Test func aBackupFromANewerBuildIsRefused() throws {
        let area = try Area(vectors: 3)
        let (backup, _) = try area.backup()
        let queue = try DatabaseQueue(path: backup + "/" + OnlineBackup.databaseFileName)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99_future')") }
        try queue.close()
        try area.reseal(backup)
        #expect(Self.message { try BackupVerifier.verify(backup, schema: Self.schema) }.contains("newer jadevectordb"))
    }

    @Test func aRestoreRefusesADirectoryThatIsNotEmptyWithoutForce() throws {
        let area = try Area(vectors: 5)
        let (backup, _) = try area.backup()
        // A directory a running server holds open is refused: POSIX locks do not show a
        // process its own, so that case is tested against the real server
        // (Integration.BackupRestore).
        // Not empty: refused without force, replaced with it.
        let other = area.root + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try "keep".write(toFile: other + "/notes.txt", atomically: true, encoding: .utf8)
        #expect(
            Self.message {
                try Restore.run(from: backup, settings: try area.settings(other), schema: Self.schema, force: false)
            }.contains("is not empty"))
        _ = try Restore.run(from: backup, settings: try area.settings(other), schema: Self.schema, force: true)
        #expect(try area.films(in: other).count == 5)
        #expect(FileManager.default.fileExists(atPath: other + "/notes.txt"))
    }
}
