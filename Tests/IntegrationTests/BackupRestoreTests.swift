import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration.Deployment {
    static let adminPassword = "admin-password-for-tests"
    static let dimension = 16

    /// Deterministic values of vector `i` of batch `batch` (and of the churned ids in that batch).
    static func values(_ batch: Int, _ i: Int) -> [Double] {
        (0..<dimension).map { d in sin(Double(batch * 1009 + i * 31 + d * 7)) }
    }

    /// Starts a server, logs in as admin and creates the database `docs`.
    static func startWithDatabase(directory: TemporaryDirectory = TemporaryDirectory(), create: Bool = true) throws
        -> (ServerProcess, APIClient, APIClient.Credential)
    {
        // The test reads back every vector one request at a time: lift the per-key API limit.
        let server = try ServerProcess(
            workers: 2,
            environment: [
                "JADEVECTORDB_ADMIN_PASSWORD": adminPassword, "JADEVECTORDB_RATE_LIMITS_API_LIMIT": "1000000",
                "JADEVECTORDB_RATE_LIMITS_API_BURST": "1000000",
            ], directory: directory)
        try server.waitHealthy()
        let api = APIClient(port: server.port)
        let admin = APIClient.Credential.bearer(try api.login("admin", adminPassword))
        if create {
            let created = try api.call(
                "POST", "/v1/databases", ["name": "docs", "dimension": dimension, "metric": "euclidean"], as: admin)
            guard created.status == 201 else { throw TestFailure("create: \(created.status) \(created.text)") }
        }
        return (server, api, admin)
    }

    /// Upserts batch `n`: 50 new ids `n-i`, and the 50 ids `churn-i` again (their old rows
    /// become tombstones, so compactions run while the test writes). True when acknowledged.
    static func upsertBatch(_ n: Int, api: APIClient, admin: APIClient.Credential) -> Bool {
        var vectors: [[String: Any]] = (0..<50).map { i in ["id": "\(n)-\(i)", "values": values(n, i)] }
        vectors += (0..<50).map { i in ["id": "churn-\(i)", "values": values(n, 1000 + i)] }
        let reply = try? api.call("PUT", "/v1/databases/docs/vectors", ["vectors": vectors], as: admin)
        return reply?.status == 200
    }

    /// Runs `jadevectordb` with the data directory `data`.
    static func jade(_ arguments: [String], data: String) throws -> (status: Int32, output: String) {
        try runCommand(arguments, environment: ["JADEVECTORDB_DATA_DIR": data], timeout: 120)
    }

    @Test func backupWhileWritingRestoresEveryAcknowledgedVector() throws {
        let (server, api, admin) = try Self.startWithDatabase()
        // A writer keeps upserting through the real server during the backup.
        let shared = WriterProgress()
        let done = DispatchSemaphore(value: 0)
        let writer = Thread {
            var n = 0
            while !shared.stopped {
                if Self.upsertBatch(n, api: api, admin: admin) { shared.acknowledge(n) }
                n += 1
            }
            done.signal()
        }
        writer.start()
        // Enough batches for compactions (1,024 tombstones) before and during the backup.
        let deadline = Date().addingTimeInterval(60)
        while shared.acknowledged.count < 25 && Date() < deadline { usleep(20_000) }
        let before = Set(shared.acknowledged)
        #expect(before.count >= 25)

        let backups = TemporaryDirectory()
        let backup = try Self.jade(["backup", backups.path + "/b1"], data: server.dataDirectory)
        #expect(backup.status == 0, "\(backup.output)")
        #expect(backup.output.contains("backup OK"), "\(backup.output)")
        // Writes go on after the backup; then the writer stops.
        let after = shared.acknowledged.count
        while shared.acknowledged.count < after + 3 && Date() < deadline { usleep(20_000) }
        shared.stop()
        done.wait()
        server.signal(SIGTERM)
        #expect(try server.waitForExit() == 0)

        let manifest = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: backups.path + "/b1/manifest.json"))) as? [String: Any])
        #expect(manifest["version"] as? Int == 1)
        #expect((manifest["files"] as? [[String: Any]])?.allSatisfy { ($0["sha256"] as? String)?.count == 64 } == true)

        // Restore into a fresh data directory and serve from it.
        let restored = TemporaryDirectory()
        let restore = try Self.jade(["restore", backups.path + "/b1"], data: restored.path + "/data")
        #expect(restore.status == 0, "\(restore.output)")
        let (server2, api2, admin2) = try Self.startWithDatabase(directory: restored, create: false)
        for n in before.sorted() {
            for i in 0..<50 {
                let reply = try api2.call("GET", "/v1/databases/docs/vectors/\(n)-\(i)", as: admin2)
                #expect(reply.status == 200, "vector \(n)-\(i) acknowledged before the backup is missing")
                guard let got = reply.json?["values"] as? [Double] else { continue }
                let want = Self.values(n, i)
                #expect(zip(got, want).allSatisfy { abs($0 - Float($1).asDouble) < 1e-6 })
            }
        }
        // Searchable: a stored vector is its own nearest neighbour.
        for n in before.sorted().prefix(5) {
            let hit = try api2.call(
                "POST", "/v1/databases/docs/search", ["vector": Self.values(n, 7), "k": 1], as: admin2)
            #expect(hit.status == 200)
            #expect((hit.json?["results"] as? [[String: Any]])?.first?["id"] as? String == "\(n)-7", "\(hit.text)")
        }
        server2.signal(SIGTERM)
        #expect(try server2.waitForExit() == 0)
    }

    @Test func restoreVerifiesAndRefusesWithClearErrors() throws {
        let (server, api, admin) = try Self.startWithDatabase()
        for n in 0..<3 { #expect(Self.upsertBatch(n, api: api, admin: admin)) }
        let backups = TemporaryDirectory()
        let good = backups.path + "/good"
        #expect(try Self.jade(["backup", good], data: server.dataDirectory).status == 0)
        // A backup never goes into a non-empty directory.
        let refused = try Self.jade(["backup", good], data: server.dataDirectory)
        #expect(refused.status == 1)
        #expect(refused.output.contains("not empty"), "\(refused.output)")

        // Never into the directory of a running server, even with --force.
        let live = try Self.jade(["restore", "--force", good], data: server.dataDirectory)
        #expect(live.status == 1)
        #expect(live.output.contains("stop the server"), "\(live.output)")
        server.signal(SIGTERM)
        #expect(try server.waitForExit() == 0)

        // Not into a non-empty directory without --force; with it, yes.
        let busy = try Self.jade(["restore", good], data: server.dataDirectory)
        #expect(busy.status == 1)
        #expect(busy.output.contains("not empty"), "\(busy.output)")
        #expect(try Self.jade(["restore", "--force", good], data: server.dataDirectory).status == 0)
        #expect(try Self.jade(["restore", "--verify-only", good], data: server.dataDirectory).status == 0)

        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: good + "/manifest.json")))
                as? [String: Any])
        let segment = try #require(
            (manifest["files"] as? [[String: Any]])?.compactMap { $0["path"] as? String }.first {
                $0.hasPrefix("vectors/")
            })

        // A truncated segment file.
        let short = backups.path + "/short"
        try FileManager.default.copyItem(atPath: good, toPath: short)
        #expect(truncate(short + "/" + segment, 100) == 0)
        let shortResult = try Self.jade(["restore", short], data: TemporaryDirectory().path)
        #expect(shortResult.status == 1)
        #expect(shortResult.output.contains(segment) && shortResult.output.contains("bytes"), "\(shortResult.output)")

        // A damaged database file.
        let damaged = backups.path + "/damaged"
        try FileManager.default.copyItem(atPath: good, toPath: damaged)
        // Garbage over the b-tree page header of every page but the first.
        let databaseFile = damaged + "/jadevectordb.sqlite"
        let pages = (try FileManager.default.attributesOfItem(atPath: databaseFile)[.size] as! NSNumber).intValue / 4096
        let handle = try #require(FileHandle(forUpdatingAtPath: databaseFile))
        for page in 1..<pages {
            try handle.seek(toOffset: UInt64(page * 4096))
            handle.write(Data(repeating: 0xA5, count: 12))
        }
        try handle.close()
        let damagedResult = try Self.jade(["restore", "--verify-only", damaged], data: TemporaryDirectory().path)
        #expect(damagedResult.status == 1)
        #expect(damagedResult.output.contains("damaged: SHA-256"), "\(damagedResult.output)")

        // The same damage with a manifest that agrees: SQLite's own check catches it.
        let rehashed = backups.path + "/rehashed"
        try FileManager.default.copyItem(atPath: damaged, toPath: rehashed)
        let digest = try runCommand(
            ["-c", "sha256sum \(rehashed)/jadevectordb.sqlite | cut -c1-64"], executable: "/bin/sh"
        ).output.trimmingCharacters(in: .whitespacesAndNewlines)
        var text = try String(contentsOfFile: rehashed + "/manifest.json", encoding: .utf8)
        let old = try #require(
            (manifest["files"] as? [[String: Any]])?.first { $0["path"] as? String == "jadevectordb.sqlite" }?["sha256"]
                as? String)
        text = text.replacingOccurrences(of: old, with: digest)
        try text.write(toFile: rehashed + "/manifest.json", atomically: true, encoding: .utf8)
        let integrity = try Self.jade(["restore", "--verify-only", rehashed], data: TemporaryDirectory().path)
        #expect(integrity.status == 1)
        #expect(
            integrity.output.contains("integrity_check") || integrity.output.contains("not a usable SQLite database"),
            "\(integrity.output)")

        // Not a backup at all.
        let empty = try Self.jade(["restore", "--verify-only", TemporaryDirectory().path], data: backups.path)
        #expect(empty.status == 1)
        #expect(empty.output.contains("not a jadevectordb backup"), "\(empty.output)")
    }
}

extension Float {
    fileprivate var asDouble: Double { Double(self) }
}

/// What the backup test's writer thread shares with the test: batches acknowledged, and when
/// to stop.
private final class WriterProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var batches: [Int] = []
    private var stopRequested = false

    var acknowledged: [Int] { lock.withLock { batches } }
    var stopped: Bool { lock.withLock { stopRequested } }
    func acknowledge(_ batch: Int) { lock.withLock { batches.append(batch) } }
    func stop() { lock.withLock { stopRequested = true } }
}
