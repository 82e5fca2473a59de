import CJadeTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Bad configuration and bad surroundings fail fast with a clear message and exit code.
    @Suite struct Startup {
        @Test func checkConfigAcceptsTheShippedConfigs() throws {
            let dev = try runCommand(["check-config"])
            #expect(dev.status == 0, "\(dev.output)")
            let dir = TemporaryDirectory()
            let prod = try runCommand(
                ["check-config", "--env", "production"] + allowRootIfRoot,
                environment: [
                    "JADEVECTORDB_TOTP_ENCRYPTION_KEY": "0123456789abcdef0123456789abcdef",
                    "JADEVECTORDB_ADMIN_PASSWORD": "a-long-admin-password-1",
                    "JADEVECTORDB_DATA_DIR": dir.path + "/data",
                ])
            #expect(prod.status == 0, "\(prod.output)")
            let noKey = try runCommand(["check-config", "--env", "production"] + allowRootIfRoot)
            #expect(noKey.status == 2)
            #expect(noKey.output.contains("secrets.totp_encryption_key"))
        }

        @Test(arguments: [
            (["JADEVECTORDB_PORT": "70000"], "server.port"),
            (["JADEVECTORDB_SERVER_WORKERS": "many"], "server.workers"),
            (["JADEVECTORDB_LOGGING_LEVEL": "loud"], "logging.level"),
            (["JADEVECTORDB_HOST": "localhost"], "server.host"),
            (["JADEVECTORDB_SERVER_TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip"], "server.trusted_proxies"),
            (["JADEVECTORDB_ENV": "staging"], "JADEVECTORDB_ENV"),
        ])
        func invalidEnvironmentValuesNameTheKey(environment: [String: String], key: String) throws {
            let result = try runCommand(["check-config"], environment: environment)
            #expect(result.status == 2)
            #expect(result.output.contains(key), "\(result.output)")
        }

        @Test func productionRefusesInsecureSettingsAndReportsThemAll() throws {
            let result = try runCommand(
                ["check-config", "--env", "production"],
                environment: [
                    "JADEVECTORDB_SECURITY_ENABLE_RATE_LIMITING": "false",
                    "JADEVECTORDB_AUTHENTICATION_MIN_PASSWORD_LENGTH": "6",
                    "JADEVECTORDB_TOTP_ENCRYPTION_KEY": "0123456789abcdef0123",
                ])
            #expect(result.status == 2)
            #expect(result.output.contains("security.enable_rate_limiting"))
            #expect(result.output.contains("authentication.min_password_length"))
            #expect(result.output.contains("2 problems"))
        }

        @Test func fileProblemsNameTheFileAndKey() throws {
            let dir = TemporaryDirectory()
            let config = try dir.copyOfConfig()
            try #"{"server": {"prot": 8080, "backlog": "big"}, "logging": {"level": "info"}}"#.write(
                toFile: config + "/development.json", atomically: true, encoding: .utf8)
            let result = try runCommand(["check-config"], environment: ["JADEVECTORDB_CONFIG_DIR": config])
            #expect(result.status == 2)
            #expect(result.output.contains("server.prot"))
            #expect(result.output.contains("unknown key"))
            #expect(result.output.contains("server.backlog"))

            try "{ not json".write(toFile: config + "/performance.json", atomically: true, encoding: .utf8)
            let malformed = try runCommand(["check-config"], environment: ["JADEVECTORDB_CONFIG_DIR": config])
            #expect(malformed.status == 2)
            #expect(malformed.output.contains("performance.json"))
            #expect(malformed.output.contains("not valid JSON"))

            try FileManager.default.removeItem(atPath: config + "/development.json")
            let missing = try runCommand(["check-config"], environment: ["JADEVECTORDB_CONFIG_DIR": config])
            #expect(missing.status == 2)
            #expect(missing.output.contains("development.json"))
        }

        @Test func secretsComeFromFilesAndAreNeverPrinted() throws {
            let dir = TemporaryDirectory()
            let secretFile = dir.path + "/token"
            try "scrape-token-from-file-0123456789\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
            let env = [
                "JADEVECTORDB_ADMIN_PASSWORD": "admin-secret-value-987654",
                "JADEVECTORDB_SCRAPE_TOKEN_FILE": secretFile,
            ]
            let dump = try runCommand(["check-config", "--print"], environment: env)
            #expect(dump.status == 0)
            #expect(dump.output.contains("JADEVECTORDB_SCRAPE_TOKEN_FILE"))
            #expect(!dump.output.contains("admin-secret-value-987654"))
            #expect(!dump.output.contains("scrape-token-from-file"))

            let server = try ServerProcess(workers: 1, environment: env, directory: dir)
            try server.waitHealthy()
            server.signal(SIGHUP)
            usleep(1_000_000)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
            #expect(!server.log.contains("admin-secret-value-987654"))
            #expect(!server.log.contains("scrape-token-from-file"))
        }

        @Test func serveWithInvalidConfigExitsTwoAndBindsNothing() throws {
            let port = Int(jt_free_port())
            let result = try runCommand(
                ["serve"], environment: ["JADEVECTORDB_PORT": String(port), "JADEVECTORDB_WORKERS": "-1"])
            #expect(result.status == 2)
            #expect(result.output.contains("server.workers"))
        }

        @Test func aPortInUseIsReported() throws {
            var port: Int32 = 0
            let holder = jt_listen_any(&port)
            defer { close(holder) }
            let dir = TemporaryDirectory()
            let result = try runCommand(
                ["serve"],
                environment: ["JADEVECTORDB_PORT": String(port), "JADEVECTORDB_DATA_DIR": dir.path + "/data"])
            #expect(result.status == 1)
            #expect(result.output.contains("address already in use"), "\(result.output)")
        }

        @Test func aBadDataDirectoryIsReported() throws {
            let dir = TemporaryDirectory()
            let file = dir.path + "/plainfile"
            _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
            let result = try runCommand(
                ["serve"], environment: ["JADEVECTORDB_PORT": String(jt_free_port()), "JADEVECTORDB_DATA_DIR": file])
            #expect(result.status == 1)
            #expect(result.output.contains("storage.data_dir"), "\(result.output)")
        }

        @Test func aCorruptDatabaseIsReportedWithoutACrashLoop() throws {
            let dir = TemporaryDirectory()
            let data = dir.path + "/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: data + "/jadevectordb.sqlite"))
            let result = try runCommand(
                ["serve"], environment: ["JADEVECTORDB_PORT": String(jt_free_port()), "JADEVECTORDB_DATA_DIR": data])
            #expect(result.status == 1)
            #expect(result.output.contains("corrupt or not a SQLite database"), "\(result.output)")
        }

        @Test func migrateAndVersionWork() throws {
            let dir = TemporaryDirectory()
            let migrate = try runCommand(["migrate"], environment: ["JADEVECTORDB_DATA_DIR": dir.path + "/data"])
            #expect(migrate.status == 0, "\(migrate.output)")
            // Every module's migrations, in the order existing databases recorded them.
            #expect(migrate.output.contains("is at v5_vector_indexes (5 migrations)"), "\(migrate.output)")
            let version = try runCommand(["version"])
            #expect(version.status == 0)
            #expect(version.output.hasPrefix("jadevectordb "))
            let usage = try runCommand(["serve", "--bogus"])
            #expect(usage.status == 2)
        }
    }
}

extension Integration.Startup {
    /// The test harness's own race: a port taken between choosing and binding it makes the
    /// server exit at once, and the harness starts it again on another port.
    @Test func aPortTakenBeforeTheServerBindsItIsReplaced() throws {
        var taken: Int32 = 0
        let holder = jt_listen_any(&taken)
        try #require(holder >= 0)
        defer { close(holder) }
        let server = try ServerProcess(workers: 1, firstPort: Int(taken))
        try server.waitHealthy()
        #expect(server.port != Int(taken))
        #expect(FileManager.default.fileExists(atPath: server.logPath + ".port-\(taken)"))
        server.signal(SIGTERM)
        #expect(try server.waitForExit() == 0)
    }
}
