import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Fault injection helpers.
enum FaultInjection {
    /// setpriv can drop capabilities here: not root (nothing to drop), or root with CAP_SETPCAP.
    static let canDropCapabilities: Bool = {
        if geteuid() != 0 { return true }
        let probe = try? runCommand(
            ["--inh-caps=-dac_override", "--bounding-set=-dac_override", "--", "/bin/true"],
            executable: "/usr/bin/setpriv")
        return probe?.status == 0
    }()

    /// Whether this process may mount a tmpfs (root in CI); probed once.
    static let canMount: Bool = {
        let dir = TemporaryDirectory()
        let probe = dir.path + "/probe"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        guard
            (try? runCommand(["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], executable: "/bin/mount"))?.status == 0
        else { return false }
        _ = try? runCommand([probe], executable: "/bin/umount")
        return true
    }()

    /// Holds SQLite's write lock on `database` for `seconds` from another process; returns once
    /// the lock is held.
    static func holdWriteLock(_ database: String, seconds: Double) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
            c.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
            c.execute("COMMIT")
            """, database, String(seconds),
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let line = pipe.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("locked") else {
            throw TestFailure("the lock holder did not take the lock")
        }
        return process
    }
}

extension Integration {
    /// SQLite failures: retries, the shared circuit breaker, read-only degradation, recovery.
    @Suite struct Resilience {
        static let adminPassword = "admin-password-for-tests"
        /// A breaker that opens after 3 failures among 3 calls and probes again after 2 s.
        static let quickBreaker = [
            "JADEVECTORDB_ADMIN_PASSWORD": adminPassword, "JADEVECTORDB_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "3",
            "JADEVECTORDB_CIRCUIT_BREAKER_MINIMUM_CALLS": "3", "JADEVECTORDB_CIRCUIT_BREAKER_OPEN_TIMEOUT_SECONDS": "2",
        ]

        @Test func contentionIsRetriedAndThenAnswered503WithoutARestart() throws {
            let server = try ServerProcess(workers: 2, environment: ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword])
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let db = server.dataDirectory + "/jadevectordb.sqlite"
            // Held for less than the retry budget (1 s busy timeout x 4 attempts + backoff): late success.
            let short = try FaultInjection.holdWriteLock(db, seconds: 1.5)
            let started = Date()
            #expect(try api.call("POST", "/v1/admin/groups", ["name": "late"], as: admin).status == 201)
            #expect(Date().timeIntervalSince(started) > 1.0)
            short.waitUntilExit()
            // Held for longer: 503 with Retry-After, and reads keep working meanwhile.
            let long = try FaultInjection.holdWriteLock(db, seconds: 9)
            let busy = try api.call("POST", "/v1/admin/groups", ["name": "never"], as: admin)
            #expect(busy.status == 503)
            #expect(busy.errorCode == "unavailable")
            #expect(busy.headers["retry-after"] != nil)
            #expect(try api.call("GET", "/v1/admin/groups", as: admin).status == 200)
            long.waitUntilExit()
            // Recovery without a restart; contention never opened the circuit.
            #expect(try api.call("POST", "/v1/admin/groups", ["name": "after"], as: admin).status == 201)
            let health = try api.call("GET", "/health/db", as: admin)
            #expect(((health.json?["circuit_breaker"] as? [String: Any])?["state"] as? String) == "closed")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// The database file made read-only (chmod 0444; as root the server runs without
        /// CAP_DAC_OVERRIDE/CAP_FOWNER so that the mode applies to it) and the server reloaded, so
        /// every worker opens it read-only: reads 200, writes 503 `read_only`, /health/db degraded.
        /// Restored (chmod 0644): writes work again within the open timeout, without a restart
        /// (the probe reconnects).
        @Test(.enabled(if: FaultInjection.canDropCapabilities, "needs setpriv able to drop CAP_DAC_OVERRIDE (root)"))
        func readOnlyDatabaseFileServesReadsAndRecoversWithoutARestart() throws {
            let dropped = "-dac_override,-dac_read_search,-fowner"
            let launcher =
                geteuid() == 0 ? ["/usr/bin/setpriv", "--inh-caps=\(dropped)", "--bounding-set=\(dropped)", "--"] : []
            let server = try ServerProcess(
                workers: 2,
                environment: Self.quickBreaker, launcher: launcher)
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let token = try api.login("admin", Self.adminPassword)
            let admin = APIClient.Credential.bearer(token)
            #expect(try api.call("POST", "/v1/admin/groups", ["name": "before"], as: admin).status == 201)
            let database = server.dataDirectory + "/jadevectordb.sqlite"
            #expect(chmod(database, 0o444) == 0)
            defer { _ = chmod(database, 0o644) }
            // New workers open the file as it is now; wait until the old ones have gone.
            let oldWorkers = Set(server.workerPIDs())
            server.signal(SIGHUP)
            try server.waitForGeneration(2)
            let retired = Date().addingTimeInterval(20)
            while !oldWorkers.isDisjoint(with: server.workerPIDs()) && Date() < retired { usleep(50_000) }
            #expect(oldWorkers.isDisjoint(with: server.workerPIDs()))

            var statuses: [Int] = []
            var codes: [String] = []
            for i in 0..<6 {
                let reply = try api.call("POST", "/v1/admin/groups", ["name": "ro\(i)"], as: admin)
                statuses.append(reply.status)
                codes.append(reply.errorCode ?? "")
                if reply.status == 503 { #expect(reply.headers["retry-after"] != nil) }
            }
            #expect(statuses.allSatisfy { $0 == 503 }, "\(statuses) \(server.log.suffix(1500))")
            #expect(codes.allSatisfy { $0 == "read_only" }, "\(codes)")
            // Reads keep working on every worker.
            let reads = try api.statusOnEverySlot("GET", "/v1/admin/groups", as: admin, workers: 2)
            #expect(reads.values.allSatisfy { $0 == 200 }, "\(reads)")
            let health = try api.call("GET", "/health/db", as: admin)
            #expect(health.status == 503)
            #expect(health.json?["status"] as? String == "degraded")
            #expect((health.json?["database"] as? [String: Any])?["read_only"] as? Bool == true)

            // Restored: within the open timeout (2 s) plus a probe, writes succeed again.
            #expect(chmod(database, 0o644) == 0)
            let restored = Date()
            var recovered = false
            while Date().timeIntervalSince(restored) < 10 && !recovered {
                recovered = try api.call("POST", "/v1/admin/groups", ["name": "after"], as: admin).status == 201
                if !recovered { usleep(100_000) }
            }
            #expect(recovered, "\(server.log.suffix(1500))")
            #expect(Date().timeIntervalSince(restored) < 5)
            // Every worker writes again (each reconnects on its own next call).
            for i in 0..<6 {
                let reply = try httpRequest(
                    port: server.port, "POST", "/v1/admin/groups",
                    headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
                    body: Data("{\"name\":\"again\(i)\"}".utf8))
                #expect(reply.status == 201, "\(reply.status) \(reply.text)")
            }
            let groups = try api.call("GET", "/v1/admin/groups", as: admin)
            let names = Set(((groups.json?["groups"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
            #expect(names.contains("before") && names.contains("after"))
            #expect(names.isDisjoint(with: (0..<6).map { "ro\($0)" }))
            #expect(try api.call("GET", "/health/db").json?["status"] as? String == "healthy")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test(.enabled(if: FaultInjection.canMount, "needs to mount a tmpfs (root)"))
        func fullDiskMakesWritesReadOnlyOpensTheCircuitEverywhereAndRecovers() throws {
            let dir = TemporaryDirectory()
            let mountPoint = dir.path + "/small"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            #expect(
                try runCommand(["-t", "tmpfs", "-o", "size=24m", "tmpfs", mountPoint], executable: "/bin/mount").status
                    == 0)
            defer { _ = try? runCommand(["-l", mountPoint], executable: "/bin/umount") }
            let server = try ServerProcess(
                workers: 3,
                environment: Self.quickBreaker.merging(["JADEVECTORDB_DATA_DIR": mountPoint + "/data"]) { $1 },
                directory: dir)
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            #expect(try api.call("POST", "/v1/admin/groups", ["name": "before"], as: admin).status == 201)
            // Fill the disk.
            let filler = mountPoint + "/filler"
            _ = try runCommand(["if=/dev/zero", "of=\(filler)", "bs=1M", "count=64"], executable: "/bin/dd")
            var statuses: [Int] = []
            var codes: [String] = []
            for i in 0..<8 {
                let reply = try api.call("POST", "/v1/admin/groups", ["name": "g\(i)"], as: admin)
                statuses.append(reply.status)
                codes.append(reply.errorCode ?? "")
            }
            #expect(statuses.allSatisfy { $0 == 503 }, "\(statuses)")
            #expect(codes.allSatisfy { $0 == "read_only" }, "\(codes)")
            // Reads keep working.
            let groups = try api.call("GET", "/v1/admin/groups", as: admin)
            #expect(groups.status == 200)
            // The write circuit is open on every worker (one shared state), and health says degraded.
            var seen: [Int: String] = [:]
            for _ in 0..<200 where seen.count < 3 {
                let c = try HTTPConnection(port: server.port)
                let slot = (try c.request("GET", "/health").json?["worker"] as? [String: Any])?["slot"] as? Int
                guard case .bearer(let token) = admin else { return }
                let db = try c.request("GET", "/health/db", headers: ["Authorization": "Bearer \(token)"])
                #expect(db.status == 503)
                let writes =
                    ((db.json?["circuit_breaker"] as? [String: Any])?["writes"] as? [String: Any])?["state"] as? String
                if let slot { seen[slot] = "\(db.json?["status"] as? String ?? "?")/\(writes ?? "?")" }
            }
            #expect(seen.count == 3 && seen.values.allSatisfy { $0 == "degraded/open" }, "\(seen)")
            // Space returns: within the open timeout one probe closes the circuit; writes work again.
            try FileManager.default.removeItem(atPath: filler)
            let deadline = Date().addingTimeInterval(10)
            var recovered = false
            while Date() < deadline && !recovered {
                recovered = try api.call("POST", "/v1/admin/groups", ["name": "recovered"], as: admin).status == 201
                if !recovered { usleep(250_000) }
            }
            #expect(recovered)
            #expect(try api.call("GET", "/health/db").json?["status"] as? String == "healthy")
            // The recovery (and, where the disk allowed it, the opening) is in the audit log.
            let audit = try api.call("GET", "/v1/admin/audit-log?type=circuit_closed", as: admin)
            #expect((audit.json?["events"] as? [[String: Any]])?.isEmpty == false)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
