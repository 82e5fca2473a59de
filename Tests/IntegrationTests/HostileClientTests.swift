import CJadeTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Resident memory of a process in bytes (`VmRSS`, or another field of /proc/PID/status such as
/// `RssAnon`), or 0 when it cannot be read.
func residentBytes(_ pid: pid_t, field: String = "VmRSS") -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        let kib = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kib * 1024
    }
    return 0
}

extension Integration {
    /// Attacks by hostile clients, each bounded in bytes and time and aimed at 127.0.0.0/8 only:
    /// clients that never read, pipelining floods, forged proxy headers, table-filling floods,
    /// and requests that try to slip past the guards.
    @Suite struct HostileClients {
        static let adminPassword = "admin-password-for-tests"
        static let mib = 1 << 20

        func start(workers: Int = 1, _ environment: [String: String] = [:]) throws -> (ServerProcess, APIClient) {
            var env = ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword]
            for (k, v) in environment { env[k] = v }
            let server = try ServerProcess(workers: workers, environment: env)
            try server.waitHealthy()
            return (server, APIClient(port: server.port))
        }

        /// The pid of the worker that answers on `connection`.
        func workerPID(_ connection: HTTPConnection) throws -> pid_t {
            let health = try connection.request("GET", "/health")
            return try #require((health.json?["worker"] as? [String: Any])?["pid"] as? Int).asPID
        }

        /// Pipelines `request` on a connection with a 4 KiB receive buffer that never reads, for at
        /// most `maxBytes` or `seconds`; returns (bytes the server accepted, peak worker RSS).
        func floodWithoutReading(port: Int, worker: pid_t, request: String, maxBytes: Int, seconds: Double) throws
            -> (sent: Int, peakRSS: Int)
        {
            let flooder = try HTTPConnection(port: port, receiveBuffer: 4096)
            var chunk = Data()
            while chunk.count < 256 * 1024 { chunk.append(Data(request.utf8)) }
            var sent = 0
            var peak = residentBytes(worker)
            var stalls = 0
            let deadline = Date().addingTimeInterval(seconds)
            while sent < maxBytes && Date() < deadline && stalls < 4 {
                let n = chunk.withUnsafeBytes { jt_send_some(flooder.fd, $0.baseAddress, $0.count, 500) }
                if n < 0 { break }
                sent += n
                stalls = n == 0 ? stalls + 1 : 0
                peak = max(peak, residentBytes(worker))
            }
            peak = max(peak, residentBytes(worker))
            return (sent, peak)
        }

        /// A client pipelining requests and never reading their answers: the worker stops reading
        /// once its unsent output passes the high-water mark, so its memory stays flat, on the
        /// raw fast path (`GET /health`) and on the codec path (a head with Content-Length) alike,
        /// and other clients are still served.
        @Test func pipeliningWithoutReadingCostsBoundedMemory() throws {
            let (server, _) = try start(["JADEVECTORDB_LOGGING_ACCESS_LOG": "false"])
            let probe = try HTTPConnection(port: server.port)
            let worker = try workerPID(probe)
            let before = residentBytes(worker)
            let requests = [
                "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            ]
            for request in requests {
                let (sent, peak) = try floodWithoutReading(
                    port: server.port, worker: worker, request: request, maxBytes: 150 * Self.mib, seconds: 12)
                print(
                    "hostile: pipelining without reading (\(request.utf8.count) bytes a request): "
                        + "\(sent / Self.mib) MiB accepted, worker RSS +\((peak - before) / Self.mib) MiB at peak")
                #expect(
                    peak - before < 64 * Self.mib, "RSS grew by \((peak - before) / Self.mib) MiB after \(sent) bytes")
                // The worker still answers everybody else promptly.
                #expect(try probe.request("GET", "/health", timeoutMilliseconds: 3000).status == 200)
            }
            try waitUntil("worker memory to come back", timeout: 10) {
                residentBytes(worker) - before < 64 * Self.mib
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Answers above `server.max_response_bytes` are refused with 422 `response_too_large`
        /// before they are queued, so clients that ask for huge answers and never read them
        /// cannot pile them up in a worker.
        @Test func largeAnswersAreRefusedBeforeTheyPileUp() throws {
            let (server, api) = try start([
                "JADEVECTORDB_SERVER_MAX_RESPONSE_BYTES": String(Self.mib),
                "JADEVECTORDB_SERVER_MAX_REQUEST_BODY_BYTES": String(8 * Self.mib),
                "JADEVECTORDB_RATE_LIMITS_API_LIMIT": "100000",
            ])
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let dimension = 256
            #expect(
                try api.call(
                    "POST", "/v1/databases", ["name": "big", "dimension": dimension, "metric": "dot"], as: admin
                )
                .status == 201)
            var generator = SystemRandomNumberGenerator()
            for batch in 0..<4 {
                let vectors: [[String: Any]] = (0..<250).map { i in
                    [
                        "id": "v\(batch)-\(i)",
                        "values": (0..<dimension).map { _ in Double(Float.random(in: -1...1, using: &generator)) },
                    ]
                }
                let reply = try api.call("PUT", "/v1/databases/big/vectors", ["vectors": vectors], as: admin)
                #expect(reply.status == 200, "\(reply.text)")
            }
            let query: [String: Any] = [
                "vector": (0..<dimension).map { _ in 0.5 }, "k": 1000, "include_values": true,
            ]
            let refused = try api.call("POST", "/v1/databases/big/search", query, as: admin)
            #expect(refused.status == 422)
            #expect(refused.errorCode == "response_too_large")
            // A smaller answer on the same database is served.
            var small = query
            small["include_values"] = false
            #expect(try api.call("POST", "/v1/databases/big/search", small, as: admin).status == 200)

            // 60 clients ask for the large answer and never read.
            let probe = try HTTPConnection(port: server.port)
            let worker = try workerPID(probe)
            let before = residentBytes(worker)
            let body = try JSONSerialization.data(withJSONObject: query)
            let token: String = {
                if case .bearer(let t) = admin { return t }
                return ""
            }()
            var head = "POST /v1/databases/big/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            head += "Authorization: Bearer \(token)\r\nContent-Length: \(body.count)\r\n\r\n"
            var request = Data(head.utf8)
            request.append(body)
            var idle: [HTTPConnection] = []
            for _ in 0..<60 {
                let c = try HTTPConnection(port: server.port, receiveBuffer: 4096)
                try c.send(request)
                idle.append(c)
            }
            // Watch the worker while it answers them (each search takes well under a second).
            var peak = before
            for _ in 0..<30 {
                usleep(200_000)
                peak = max(peak, residentBytes(worker))
            }
            print("hostile: 60 large searches never read: worker RSS +\((peak - before) / Self.mib) MiB at peak")
            #expect(peak - before < 64 * Self.mib, "RSS grew by \((peak - before) / Self.mib) MiB")
            // They did get their answers: 422, not the body.
            for c in idle.prefix(3) { #expect(try c.readResponse().status == 422) }
            idle.removeAll()
            try waitUntil("worker memory to come back", timeout: 10) {
                residentBytes(worker) - before < 64 * Self.mib
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// A valid request followed in the same packet by bytes that are not HTTP: the request is
        /// answered, then the malformed one gets 400, then the connection closes.
        @Test func aRequestAlreadyReadIsAnsweredBeforeAProtocolError() throws {
            let (server, _) = try start()
            for first in [
                "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 41\r\n\r\n"
                    + #"{"username":"nobody","password":"wrong!"}"#,
            ] {
                let connection = try HTTPConnection(port: server.port)
                try connection.send(first + "FOO / HTTP/9.9\r\n\r\n")
                let answer = try connection.readResponse()
                #expect(answer.status == 200 || answer.status == 401, "\(answer.status) \(answer.text)")
                let error = try connection.readResponse()
                #expect(error.status == 400)
                #expect(error.errorCode == "invalid_request")
                #expect(connection.waitForClose())
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Every request passes the block list, routed or not: an unmatched route from a blocked
        /// address is 403 `ip_blocked`, not 404.
        @Test func unmatchedRoutesPassTheBlockList() throws {
            let (server, api) = try start()
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let block = try api.call(
                "POST", "/v1/admin/blocked-ips", ["ip": "127.0.9.9", "duration_seconds": 600, "reason": "test"],
                as: admin)
            #expect(block.status == 201, "\(block.text)")
            let blocked = APIClient(port: server.port, source: "127.0.9.9")
            for path in ["/nope", "/v1/databases/x/nothing-here", "/v1/auth/me"] {
                let reply = try blocked.call("GET", path)
                #expect(reply.status == 403, "\(path): \(reply.status)")
                #expect(reply.errorCode == "ip_blocked")
            }
            // Health stays exempt (a load balancer's probe must not be blocked by mistake).
            #expect(try blocked.call("GET", "/health").status == 200)
            #expect(try api.call("GET", "/nope").status == 404)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Behind a trusted proxy, every X-Forwarded-For line counts, walked from the right: the
        /// proxy's own line names the client, not a forgery in an earlier line. An entry the
        /// proxy wrote with a port is parsed; one that is garbage never blocks the proxy.
        @Test func forwardedForIsReadAcrossAllLinesFromTheRight() throws {
            let (server, api) = try start([
                "JADEVECTORDB_SERVER_TRUSTED_PROXIES": "127.0.0.1/32",
                "JADEVECTORDB_SECURITY_MAX_FAILED_LOGINS": "3",
            ])
            func failLogin(_ forwarded: [String]) throws -> Int {
                var head = "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                for line in forwarded { head += "X-Forwarded-For: \(line)\r\n" }
                let body = #"{"username":"someone","password":"not-the-password"}"#
                head += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
                let connection = try HTTPConnection(port: server.port)
                try connection.send(head)
                return try connection.readResponse().status
            }
            for _ in 0..<3 { _ = try failLogin(["198.51.100.7", "192.0.2.1"]) }
            for _ in 0..<3 { _ = try failLogin(["203.0.113.5:4711"]) }
            for _ in 0..<5 { _ = try failLogin(["not-an-address"]) }
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let list = try api.call("GET", "/v1/admin/blocked-ips", as: admin)
            let blocked = Set(
                ((list.json?["blocked_ips"] as? [[String: Any]]) ?? []).compactMap { $0["ip"] as? String })
            #expect(blocked == ["192.0.2.1", "203.0.113.5"], "\(list.text)")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// A flood of password-reset requests for random accounts from 250 addresses fills the
        /// smallest rate-limit table; brute force from a fresh address is still refused after
        /// the login limit (never allowed because the table had no room).
        @Test func aFullRateLimitTableStillRefusesBruteForce() throws {
            let (server, _) = try start(
                workers: 2,
                [
                    "JADEVECTORDB_SECURITY_RATE_LIMIT_TABLE_CAPACITY": "1024",
                    "JADEVECTORDB_RATE_LIMITS_LOGIN_LIMIT": "5", "JADEVECTORDB_RATE_LIMITS_LOGIN_BURST": "5",
                    "JADEVECTORDB_RATE_LIMITS_PASSWORD_RESET_LIMIT": "3",
                    "JADEVECTORDB_RATE_LIMITS_PASSWORD_RESET_BURST": "3",
                    "JADEVECTORDB_RATE_LIMITS_PASSWORD_RESET_PERIOD_SECONDS": "3600",
                ])
            let flooders = (0..<250).map { "127.0.\(10 + $0 / 200).\(1 + $0 % 200)" }
            let lock = NSLock()
            var floodStatuses: [Int: Int] = [:]
            DispatchQueue.concurrentPerform(iterations: 8) { lane in
                for i in stride(from: lane, to: 3200, by: 8) {
                    let client = APIClient(port: server.port, source: flooders[i % flooders.count])
                    let status =
                        (try? client.call(
                            "POST", "/v1/auth/password-reset/request",
                            ["username": "u\(UInt64.random(in: 0...UInt64.max))"]
                        ).status) ?? -1
                    lock.withLock { floodStatuses[status, default: 0] += 1 }
                }
            }
            #expect(floodStatuses[-1] == nil, "\(floodStatuses)")
            let attacker = APIClient(port: server.port, source: "127.0.20.1")
            var statuses: [Int] = []
            for _ in 0..<20 {
                statuses.append(
                    try attacker.call("POST", "/v1/auth/login", ["username": "someone-else", "password": "guess"])
                        .status)
            }
            print("hostile: brute force after a reset flood of the smallest table: \(statuses), flood \(floodStatuses)")
            #expect(statuses.filter { $0 == 401 }.count <= 5, "\(statuses) after flood \(floodStatuses)")
            #expect(statuses.allSatisfy { [401, 403, 429].contains($0) }, "\(statuses)")
            // The administrator from another address still gets in.
            _ = try APIClient(port: server.port, source: "127.0.30.1").login("admin", Self.adminPassword)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// A worker killed while holding connections: the master gives back its per-address
        /// slots, so the address can open its full share again on the replacement worker.
        @Test func connectionSlotsComeBackWhenAWorkerIsKilled() throws {
            let (server, _) = try start(["JADEVECTORDB_SERVER_MAX_CONNECTIONS_PER_IP": "10"])
            let address = "127.0.50.1"
            for round in 0..<3 {
                var held: [HTTPConnection] = []
                for _ in 0..<10 {
                    let c = try HTTPConnection(port: server.port, source: address)
                    #expect(try c.request("GET", "/health").status == 200, "round \(round)")
                    held.append(c)
                }
                let eleventh = try HTTPConnection(port: server.port, source: address)
                #expect(try eleventh.readResponse().status == 429)
                let worker = try #require(server.workerPIDs().first)
                kill(worker, SIGKILL)
                held.removeAll()
                try waitUntil("a replacement worker", timeout: 15) {
                    let pids = server.workerPIDs()
                    return !pids.isEmpty && !pids.contains(worker)
                        && (try? httpRequest(port: server.port, "GET", "/health").status) == 200
                }
            }
            // After three kills the address still has all ten slots.
            var held: [HTTPConnection] = []
            for _ in 0..<10 {
                let c = try HTTPConnection(port: server.port, source: address)
                #expect(try c.request("GET", "/health").status == 200)
                held.append(c)
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// An operator cannot lock themselves out for good: blocking one's own address needs
        /// `force`; the admin CLI lists and lifts blocks directly in the database (running
        /// servers apply it within about a second); and `security.ip_allowlist` wins over an
        /// existing block as soon as a reload brings it.
        @Test func anOperatorCanAlwaysGetBackIn() throws {
            let directory = TemporaryDirectory()
            let configDirectory = try directory.copyOfConfig()
            let server = try ServerProcess(
                workers: 2, environment: ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword], directory: directory,
                configDirectory: configDirectory)
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let own = try api.call("POST", "/v1/admin/blocked-ips", ["ip": "127.0.0.1"], as: admin)
            #expect(own.status == 409, "\(own.text)")
            #expect(own.text.contains("force"))
            let forced = try api.call("POST", "/v1/admin/blocked-ips", ["ip": "127.0.0.1", "force": true], as: admin)
            #expect(forced.status == 201)
            #expect(try api.call("GET", "/v1/auth/me", as: admin).status == 403)

            // The CLI, on the same data directory while the server runs.
            let cli = ["JADEVECTORDB_DATA_DIR": server.dataDirectory, "JADEVECTORDB_CONFIG_DIR": configDirectory]
            let list = try runCommand(["admin", "list-blocks"], environment: cli)
            #expect(list.status == 0 && list.output.contains("127.0.0.1"), "\(list.output)")
            let lifted = try runCommand(["admin", "unblock-ip", "127.0.0.1"], environment: cli)
            #expect(lifted.status == 0, "\(lifted.output)")
            try waitUntil("every worker to let 127.0.0.1 in again", timeout: 10) {
                try api.statusOnEverySlot("GET", "/v1/auth/me", as: admin, workers: 2).values.allSatisfy { $0 == 200 }
            }
            #expect(try runCommand(["admin", "unblock-ip", "127.0.0.1"], environment: cli).status == 1)
            #expect(try runCommand(["admin", "unblock-ip", "not-an-ip"], environment: cli).status == 2)

            // Blocked again; then the allowlist arrives by reload and wins at once.
            let again = try api.call("POST", "/v1/admin/blocked-ips", ["ip": "127.0.0.1", "force": true], as: admin)
            #expect(again.status == 201, "\(again.text)")
            #expect(try api.call("GET", "/v1/auth/me", as: admin).status == 403)
            let securityPath = configDirectory + "/security_config.json"
            var security = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: securityPath)))
                    as? [String: Any])
            var section = security["security"] as? [String: Any] ?? [:]
            section["ip_allowlist"] = ["127.0.0.0/8"]
            security["security"] = section
            try JSONSerialization.data(withJSONObject: security).write(to: URL(fileURLWithPath: securityPath))
            server.signal(SIGHUP)
            try server.waitForGeneration(2)
            // Until they have drained, the old workers still serve with the old configuration.
            try waitUntil("the old generation to exit", timeout: 20) { server.workerPIDs().count == 2 }
            for _ in 0..<6 {
                let reply = try api.call("GET", "/v1/auth/me", as: admin)
                #expect(reply.status == 200, "\(reply.status) \(reply.text)")
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// A client that opens a connection per request (brute forcers, scanners): a closed
        /// connection leaves nothing behind in the worker.
        @Test func shortConnectionsLeaveNothingBehind() throws {
            let (server, _) = try start(["JADEVECTORDB_LOGGING_ACCESS_LOG": "false"])
            let worker = try workerPID(try HTTPConnection(port: server.port))
            func churn(_ count: Int) throws {
                for _ in 0..<count {
                    let c = try HTTPConnection(port: server.port)
                    try c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    _ = try c.readResponse()
                }
            }
            try churn(2_000)  // warm-up: caches, allocator arenas
            let before = residentBytes(worker, field: "RssAnon")
            try churn(12_000)
            let after = residentBytes(worker, field: "RssAnon")
            print("hostile: 12,000 short connections: worker anonymous RSS \((after - before) / 1024) KiB")
            // Before the fix each closed connection kept its handler and context (~600 bytes).
            #expect(after - before < 3 * Self.mib, "anonymous RSS grew by \((after - before) / 1024) KiB")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}

extension Int {
    fileprivate var asPID: pid_t { pid_t(self) }
}
