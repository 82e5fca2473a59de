import ArgumentParser
import Foundation
import JadeBackup
import JadeConfig

extension JadeCommand {
    /// `jadevectordb backup DEST`: an online, consistent copy of the data directory.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the database and vector files into DEST while the server runs.",
            discussion: """
                DEST must not exist or be empty. The copy is one consistent cut (a SQLite snapshot and \
                the segment rows it commits), with a manifest.json of sizes and SHA-256 digests, and is \
                verified before the command exits 0. Exit 1 on any failure.
                """)

        @OptionGroup var environment: EnvironmentOption

        @Argument(help: "Directory to create (or an empty one) for the backup.")
        var destination: String

        func run() throws {
            let (resolved, _) = try environment.load()
            let config = JadeConfiguration(resolved)
            do {
                let manifest = try OnlineBackup.run(
                    settings: config.database, destination: destination, schema: ServerSchema.full
                ) { line in
                    FileHandle.standardError.write(Data("jadevectordb: \(line)\n".utf8))
                }
                let bytes = manifest.files.reduce(Int64(0)) { $0 + $1.bytes }
                print(
                    "backup OK: \(destination) (\(manifest.files.count) files, \(bytes) bytes, \(manifest.vectorDatabases.count) vector databases)"
                )
            } catch {
                FileHandle.standardError.write(Data("jadevectordb: backup failed: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    /// `jadevectordb restore SRC`: a verified backup into a stopped server's data directory.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a backup and restore it into the (stopped) server's data directory.",
            discussion: """
                Refuses while a server has the database open, and refuses a non-empty data directory \
                unless --force (which replaces only the database and vector files). --verify-only \
                checks the backup (manifest, SHA-256, PRAGMA integrity_check, schema, segment lengths) \
                and changes nothing. Exit 1 on any failure.
                """)

        @OptionGroup var environment: EnvironmentOption

        @Argument(help: "A directory written by `jadevectordb backup`.")
        var source: String

        @Flag(name: .long, help: "Replace the database and vector files of a non-empty data directory.")
        var force = false

        @Flag(name: .customLong("verify-only"), help: "Only verify the backup.")
        var verifyOnly = false

        func run() throws {
            do {
                if verifyOnly {
                    let manifest = try BackupVerifier.verify(source, schema: ServerSchema.full)
                    print(
                        "backup OK: \(source) (created \(manifest.createdAt), \(manifest.files.count) files verified)")
                    return
                }
                let (resolved, _) = try environment.load()
                let config = JadeConfiguration(resolved)
                let manifest = try JadeBackup.Restore.run(
                    from: source, settings: config.database, schema: ServerSchema.full, force: force
                ) {
                    line in FileHandle.standardError.write(Data("jadevectordb: \(line)\n".utf8))
                }
                print(
                    "restore OK: \(config.database.dataDirectory) from \(source) (created \(manifest.createdAt))"
                )
            } catch let exit as ExitCode {
                throw exit
            } catch {
                FileHandle.standardError.write(Data("jadevectordb: restore failed: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
