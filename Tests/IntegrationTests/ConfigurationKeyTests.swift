import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Configuration keys that used to be accepted and ignored, each shown to change behaviour.
    @Suite struct ConfigurationKeys {
        /// `logging.output = file` with `logging.max_file_size_mb` and `logging.max_files`: the
        /// master rotates the file, the workers follow, no line is lost or split, and no more
        /// than `max_files` rotated files are kept.
        @Test func theLogFileRotatesWithoutLosingOrSplittingALine() throws {
            let directory = TemporaryDirectory()
            let logFile = directory.path + "/jade.log"
            let server = try ServerProcess(
                workers: 2,
                environment: [
                    "JADEVECTORDB_LOGGING_OUTPUT": "file", "JADEVECTORDB_LOGGING_FILE_PATH": logFile,
                    "JADEVECTORDB_LOGGING_MAX_FILE_SIZE_MB": "1", "JADEVECTORDB_LOGGING_MAX_FILES": "1",
                    "JADEVECTORDB_LOGGING_ACCESS_LOG": "true",
                    "JADEVECTORDB_RATE_LIMITS_GLOBAL_LIMIT": "1000000",
                    "JADEVECTORDB_RATE_LIMITS_GLOBAL_BURST": "1000000",
                ], directory: directory)
            try server.waitHealthy()
            func files() -> [String] {
                [logFile] + (1...5).map { "\(logFile).\($0)" }.filter { FileManager.default.fileExists(atPath: $0) }
            }
            func lines() throws -> [Substring] {
                try files().flatMap {
                    try String(contentsOfFile: $0, encoding: .utf8).split(
                        separator: "\n", omittingEmptySubsequences: false
                    )
                    .dropLast()
                }
            }
            // Requests over 4 connections (both workers write) until the first rotation.
            var sent = 0
            // Connections on both workers (the kernel spreads them by a hash of the address).
            var connections: [HTTPConnection] = []
            var seen: [Int: Int] = [:]
            for _ in 0..<200 where connections.count < 4 {
                let c = try HTTPConnection(port: server.port)
                let slot = try #require(
                    (c.request("GET", "/health").json?["worker"] as? [String: Any])?["slot"] as? Int)
                if seen[slot, default: 0] < 2 {
                    seen[slot, default: 0] += 1
                    connections.append(c)
                }
            }
            try #require(connections.count == 4, "connections on \(seen)")
            let deadline = Date().addingTimeInterval(60)
            func burst() throws {
                for c in connections {
                    for _ in 0..<50 {
                        #expect(try c.request("GET", "/rotation-probe").status == 404)
                        sent += 1
                    }
                }
            }
            while !FileManager.default.fileExists(atPath: logFile + ".1") && Date() < deadline { try burst() }
            #expect(FileManager.default.fileExists(atPath: logFile + ".1"), "no rotation after \(sent) requests")
            // Both workers write to the new file once they reopened it.
            let rotatedSize = (try? FileManager.default.attributesOfItem(atPath: logFile + ".1")[.size] as? Int) ?? 0
            #expect(rotatedSize >= 1_048_576)
            try waitUntil("both workers to write to the new file", timeout: 10) {
                try burst()
                let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                return Set(server.workerPIDs()).allSatisfy { text.contains("\"pid\":\"\($0)\"") }
            }
            // Every line is a whole JSON object, and every request is there exactly once (a
            // worker writes its access line just after the answer: wait for the last ones).
            var probes = 0
            var garbled: [Substring] = []
            try waitUntil("every access line", timeout: 5) {
                probes = 0
                garbled = []
                for line in try lines() {
                    if (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) == nil {
                        garbled.append(line)
                    }
                    if line.contains("\"msg\":\"request\""), line.contains("\"status\":\"404\"") { probes += 1 }
                }
                return probes >= sent
            }
            #expect(garbled.isEmpty, "split or garbled lines: \(garbled.prefix(3))")
            #expect(probes == sent, "\(probes) access lines for \(sent) requests")
            // A second rotation replaces jade.log.1: never more than max_files (1) rotated files.
            let firstRotation =
                try FileManager.default.attributesOfItem(atPath: logFile + ".1")[.modificationDate] as? Date
            while (try? FileManager.default.attributesOfItem(atPath: logFile + ".1")[.modificationDate]) as? Date
                == firstRotation && Date() < deadline
            {
                try burst()
            }
            #expect(!FileManager.default.fileExists(atPath: logFile + ".2"))
            var info = stat()
            #expect(stat(logFile, &info) == 0 && info.st_mode & 0o007 == 0)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// `logging.log_sql_queries`: statements are logged with their duration, never their
        /// arguments; off, none are.
        @Test func sqlStatementsAreLoggedOnlyWhenAskedFor() throws {
            for enabled in [true, false] {
                let server = try ServerProcess(
                    workers: 1,
                    environment: [
                        "JADEVECTORDB_LOGGING_LOG_SQL_QUERIES": enabled ? "true" : "false",
                        "JADEVECTORDB_ADMIN_PASSWORD": "admin-password-for-tests",
                    ])
                try server.waitHealthy()
                _ = try APIClient(port: server.port).login("admin", "admin-password-for-tests")
                let sqlLines = server.log.split(separator: "\n").filter { $0.contains("\"msg\":\"sql\"") }
                if enabled {
                    #expect(sqlLines.contains { $0.contains("FROM sessions") || $0.contains("INTO sessions") })
                    #expect(sqlLines.allSatisfy { $0.contains("\"ms\"") })
                    #expect(!server.log.contains("$argon2id$"), "an argument (a password hash) was logged")
                } else {
                    #expect(sqlLines.isEmpty)
                }
                server.signal(SIGTERM)
                #expect(try server.waitForExit() == 0)
            }
        }
    }
}
