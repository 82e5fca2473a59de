import Foundation

/// `manifest.json` at the top of a backup directory: what was copied, how big, and its SHA-256.
///
/// Paths are relative to the backup directory and use the data directory's layout
/// (`jadevectordb.sqlite`, `vectors/<id>-<generation>.f32`), so a restore is a copy.
public struct BackupManifest: Codable, Equatable, Sendable {
    /// The only format this build writes and reads.
    public static let currentFormatVersion = 1
    public static let fileName = "manifest.json"

    /// One copied file.
    public struct File: Codable, Equatable, Sendable {
        public var path: String
        public var bytes: Int64
        public var sha256: String
    }

    /// One vector database as the copied catalogue names it.
    public struct VectorDatabase: Codable, Equatable, Sendable {
        public var id: Int64
        public var name: String
        public var dimension: Int
        public var generation: Int64
        public var committedRows: Int
        public var file: String

        enum CodingKeys: String, CodingKey {
            case id, name, dimension, generation, file
            case committedRows = "committed_rows"
        }
    }

    public var format: String = "jadevectordb-backup"
    public var version: Int = BackupManifest.currentFormatVersion
    public var createdAt: String
    public var serverVersion: String
    /// Migrations applied to the copied database, oldest first.
    public var migrations: [String]
    public var files: [File]
    public var vectorDatabases: [VectorDatabase]

    enum CodingKeys: String, CodingKey {
        case format, version, migrations, files
        case createdAt = "created_at"
        case serverVersion = "server_version"
        case vectorDatabases = "vector_databases"
    }

    /// Stable bytes (sorted keys), so two manifests of the same backup compare equal.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads `<directory>/manifest.json`.
    public static func read(from directory: String) throws -> BackupManifest {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BackupError("\(path) is missing: \(directory) is not a jadevectordb backup")
        }
        let manifest: BackupManifest
        do {
            manifest = try JSONDecoder().decode(BackupManifest.self, from: data)
        } catch {
            throw BackupError("\(path) is not a valid backup manifest: \(error)")
        }
        guard manifest.format == "jadevectordb-backup" else {
            throw BackupError("\(path): unknown format \(manifest.format)")
        }
        guard manifest.version == currentFormatVersion else {
            throw BackupError(
                "\(path): backup format version \(manifest.version), this build reads version \(currentFormatVersion)")
        }
        return manifest
    }
}
