import ArgumentParser
import Foundation
import JadeAuth
import JadeConfig
import JadeCore
import JadeStore
import JadeSupervisor
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `jadevectordb`: the vector database server and its maintenance commands.
struct JadeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jadevectordb",
        abstract: "JadeVectorDB: a multi-process vector database server.",
        discussion: """
            Configuration comes from JSON files in JADEVECTORDB_CONFIG_DIR (default ./config, then \
            /etc/jadevectordb), overridden by JADEVECTORDB_* environment variables. \
            JADEVECTORDB_ENV selects development (default) or production.
            Exit codes: 0 clean stop, 1 runtime failure, 2 invalid configuration or usage.
            """,
        version: JadeVersion.current,
        subcommands: [
            Serve.self, CheckConfig.self, Migrate.self, Admin.self, Backup.self, Restore.self, Healthcheck.self,
            ConfigReference.self, Version.self,
        ]
    )
}

/// Options shared by the commands that load configuration.
struct EnvironmentOption: ParsableArguments {
    @Option(name: .long, help: "Environment to load (development or production); default: JADEVECTORDB_ENV.")
    var env: String?

    @Flag(name: .long, help: "Run as root in production (refused by default, as PostgreSQL does).")
    var allowRoot = false

    func override() throws -> DeploymentEnvironment? {
        guard let env else { return nil }
        guard let parsed = DeploymentEnvironment(rawValue: env) else {
            throw ValidationError("--env must be development or production, not \(env)")
        }
        return parsed
    }

    /// Loads and validates; on failure prints every problem and exits with 2. In production a
    /// root process is refused (exit 2) unless `--allow-root` was given or `refusingRoot` is
    /// false (commands that write nothing, such as `healthcheck`).
    func load(refusingRoot: Bool = true) throws -> (ResolvedConfig, DeploymentEnvironment?) {
        let override = try override()
        let resolved: ResolvedConfig
        do {
            resolved = try ConfigLoader.load(
                environment: ProcessInfo.processInfo.environment, environmentOverride: override)
        } catch {
            FileHandle.standardError.write(Data("jadevectordb: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if refusingRoot, let problem = Preflight.rootProblem(resolved.environment, allowRoot: allowRoot) {
            FileHandle.standardError.write(Data("jadevectordb: \(problem)\n".utf8))
            throw ExitCode(2)
        }
        return (resolved, override)
    }
}

extension JadeCommand {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the server in the foreground: the master and its worker processes.",
            discussion: """
                Signals: TERM/INT drain and stop, QUIT stops at once, HUP reloads the configuration \
                (no request is dropped), USR1 reopens log files. Speaks the systemd notify protocol \
                when NOTIFY_SOCKET is set and accepts sockets from systemd socket activation.
                """)

        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let (resolved, override) = try environment.load()
            let config = JadeConfiguration(resolved)
            let problems = Preflight.problems(config, includingDataDirectory: false)
            guard problems.isEmpty else {
                for problem in problems { FileHandle.standardError.write(Data("jadevectordb: \(problem)\n".utf8)) }
                throw ExitCode(2)
            }
            config.logging.apply()
            JSONLogHandler.processMetadata = ["role": "master", "pid": "\(getpid())"]
            let arbiter: Arbiter
            do {
                arbiter = try Arbiter(
                    config: config, environment: ProcessInfo.processInfo.environment, environmentOverride: override,
                    schema: ServerSchema.full, reloadCheck: { Preflight.tlsProblem($0) }
                ) { store in
                    let auth = AuthServices(
                        pool: store.pool, settings: AuthSettings(config), epochs: LocalEpochs(),
                        logger: Logger(label: "jadevectordb.auth"))
                    try AdminBootstrap.run(auth, config: config)
                }
            } catch let failure as AdminBootstrap.Failure {
                FileHandle.standardError.write(Data("jadevectordb: \(failure)\n".utf8))
                throw ExitCode(failure.exitCode)
            } catch {
                FileHandle.standardError.write(Data("jadevectordb: \(error)\n".utf8))
                throw ExitCode(1)
            }
            throw ExitCode(arbiter.run())
        }
    }

    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate the configuration and exit (0 valid, 2 invalid), like nginx -t.")

        @OptionGroup var environment: EnvironmentOption

        @Flag(name: .long, help: "Print every key with its value and source (secrets redacted).")
        var print = false

        func run() throws {
            let (resolved, _) = try environment.load()
            let problems = Preflight.problems(JadeConfiguration(resolved), includingDataDirectory: true)
            guard problems.isEmpty else {
                let listing = problems.map { "  \($0)" }.joined(separator: "\n")
                FileHandle.standardError.write(
                    Data(
                        "jadevectordb: configuration valid, but serve would refuse to start (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n\(listing)\n"
                            .utf8))
                throw ExitCode(2)
            }
            if self.print {
                let data = try JSONSerialization.data(
                    withJSONObject: resolved.redactedDump(), options: [.prettyPrinted, .sortedKeys])
                Swift.print(String(decoding: data, as: UTF8.self))
            } else {
                Swift.print(
                    "configuration OK: environment \(resolved.environment.rawValue), directory \(resolved.configDirectory ?? "-")"
                )
            }
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending schema migrations to the database and exit.")

        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let (resolved, _) = try environment.load()
            let config = JadeConfiguration(resolved)
            do {
                try DataDirectory.prepare(config.database.dataDirectory)
                let store = try Store.open(config.database, readerCount: 1)
                try store.migrate(ServerSchema.full)
                let applied = try store.appliedMigrations(ServerSchema.full)
                try store.close()
                Swift.print(
                    "database \(config.database.databasePath) is at \(applied.last ?? "-") (\(applied.count) migrations)"
                )
            } catch {
                FileHandle.standardError.write(Data("jadevectordb: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version.")
        func run() { print("jadevectordb \(JadeVersion.current)") }
    }
}
