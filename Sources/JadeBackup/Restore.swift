import Foundation
import JadeConfig
import JadeStore

#if canImport(Glibc)
    import Glibc
#endif

/// `jadevectordb restore SRC`: puts a verified backup into a stopped server's data directory.
///
/// Order: verify the backup (nothing is touched if it fails), refuse a directory that a running
/// server has open, refuse a non-empty directory unless `force` (which removes only the
/// database and vector files), copy the segment files, then the database under a temporary
/// name renamed into place last, and check every copied file's SHA-256 against the manifest.
/// The next `jadevectordb serve` (or `migrate`) brings an older schema up to date.
public enum Restore {
    public static func run(
        from source: String, settings: JadeConfiguration.Database, schema: Schema, force: Bool,
        log: (String) -> Void = { _ in }
    ) throws -> BackupManifest {
        let manifest = try BackupVerifier.verify(source, schema: schema)
        let target = settings.dataDirectory
        let databasePath = settings.databasePath
        if let pid = LiveServerProbe.holder(ofDatabase: databasePath) {
            throw BackupError(
                "\(databasePath) is open in process \(pid) (a running server?): stop the server before restoring")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []
        if !entries.isEmpty {
            guard force else {
                throw BackupError(
                    "\(target) is not empty (\(entries.sorted().prefix(5).joined(separator: ", "))); restore into an empty directory or pass --force to replace its database and vector files"
                )
            }
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(databasePath + suffix) }
            try? FileManager.default.removeItem(atPath: target + "/" + OnlineBackup.vectorsDirectory)
            log("removed the database and vector files of \(target)")
        }
        do {
            try DataDirectory.prepare(target)
        } catch {
            throw BackupError("\(error)")
        }
        try FileManager.default.createDirectory(
            atPath: target + "/" + OnlineBackup.vectorsDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750])
        let databaseFile = manifest.files.first { $0.path == OnlineBackup.databaseFileName }!
        for file in manifest.files where file.path != OnlineBackup.databaseFileName {
            try copyChecked(file, from: source, to: target + "/" + file.path)
        }
        FileCopy.syncDirectory(target + "/" + OnlineBackup.vectorsDirectory)
        let staging = databasePath + ".restoring"
        unlink(staging)
        try copyChecked(databaseFile, from: source, to: staging)
        guard rename(staging, databasePath) == 0 else {
            throw BackupError("cannot move \(staging) to \(databasePath): \(FileCopy.errnoText())")
        }
        FileCopy.syncDirectory(target)
        log("restored \(manifest.files.count) files from \(source) (created \(manifest.createdAt)) into \(target)")
        return manifest
    }

    static func copyChecked(_ file: BackupManifest.File, from source: String, to destination: String) throws {
        let digest = try FileCopy.copyFile(source + "/" + file.path, to: destination)
        guard digest == file.sha256 else {
            throw BackupError("copy of \(file.path) into \(destination) does not match the manifest's SHA-256")
        }
    }
}
