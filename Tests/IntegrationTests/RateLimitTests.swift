import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Rate limits, IP blocking and connection caps, exact across worker processes.
    @Suite struct RateLimits {
        static let adminPassword = "admin-password-for-tests"

        func start(
            workers: Int = 4, _ environment: [String: String], directory: TemporaryDirectory = TemporaryDirectory()
        )
            throws -> (ServerProcess, APIClient)
        {
            var env = ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword]
            for (k, v) in environment { env[k] = v }
            let server = try ServerProcess(workers: workers, environment: env, directory: directory)
            try server.waitHealthy()
            return (server, APIClient(port: server.port))
        }

        @Test func loginLimitHoldsAcrossFourWorkers() throws {
            let (server, api) = try start(
                ["JADEVECTORDB_RATE_LIMITS_LOGIN_LIMIT": "5", "JADEVECTORDB_RATE_LIMITS_LOGIN_BURST": "5"])
            // 20 parallel attempts from one address: exactly 5 are processed.
            let lock = NSLock()
            var statuses: [Int] = []
            var retryAfter: [String] = []
            DispatchQueue.concurrentPerform(iterations: 20) { _ in
                let reply = try? api.call(
                    "POST", "/v1/auth/login", ["username": "admin", "password": "wrong-password"])
                lock.withLock {
                    statuses.append(reply?.status ?? -1)
                    if reply?.status == 429, let r = reply?.headers["retry-after"] { retryAfter.append(r) }
                }
            }
            #expect(statuses.filter { $0 == 401 }.count == 5, "\(statuses)")
            #expect(statuses.filter { $0 == 429 }.count == 15, "\(statuses)")
            #expect(retryAfter.count == 15 && retryAfter.allSatisfy { (Int($0) ?? 0) >= 1 && (Int($0) ?? 99) <= 12 })
            let limited = try api.call("POST", "/v1/auth/login", ["username": "admin", "password": Self.adminPassword])
            #expect(limited.status == 429)
            #expect(limited.errorCode == "rate_limited")
            #expect(limited.headers["ratelimit-limit"] == "5")
            #expect(limited.headers["ratelimit-remaining"] == "0")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func apiKeyLimitHoldsAcrossWorkers() throws {
            let (server, api) = try start(
                ["JADEVECTORDB_RATE_LIMITS_API_LIMIT": "6", "JADEVECTORDB_RATE_LIMITS_API_PERIOD_SECONDS": "3600"])
            // (security_config.json leaves the bursts out: a burst defaults to its limit.)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            // The admin session itself used one API request (key creation) so far.
            let key = try #require(
                try api.call("POST", "/v1/api-keys", ["name": "limited"], as: admin).json?["key"] as? String)
            var statuses: [Int] = []
            for _ in 0..<10 { statuses.append(try api.call("GET", "/v1/auth/me", as: .apiKey(key)).status) }
            #expect(statuses == [200, 200, 200, 200, 200, 200, 429, 429, 429, 429], "\(statuses)")
            let first = try api.call("GET", "/v1/auth/me", as: .apiKey(key))
            #expect(first.headers["retry-after"] != nil)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// The global limit (one lock-free word in shared memory) counts every worker's requests
        /// together; health routes stay exempt.
        @Test func globalLimitHoldsAcrossFourWorkers() throws {
            let (server, api) = try start([
                "JADEVECTORDB_RATE_LIMITS_GLOBAL_LIMIT": "12", "JADEVECTORDB_RATE_LIMITS_GLOBAL_PERIOD_SECONDS": "3600",
            ])
            let lock = NSLock()
            var statuses: [Int] = []
            var retryAfter: [Int] = []
            var codes: Set<String> = []
            DispatchQueue.concurrentPerform(iterations: 40) { _ in
                let reply = try? api.call("GET", "/v1/auth/me")
                lock.withLock {
                    statuses.append(reply?.status ?? -1)
                    if reply?.status == 429 {
                        retryAfter.append(Int(reply?.headers["retry-after"] ?? "") ?? -1)
                        codes.insert(reply?.errorCode ?? "")
                    }
                }
            }
            // 12 admitted (and refused by authentication), 28 refused by the global limit.
            #expect(statuses.filter { $0 == 401 }.count == 12, "\(statuses)")
            #expect(statuses.filter { $0 == 429 }.count == 28, "\(statuses)")
            #expect(codes == ["rate_limited"])
            // One token every 300 s: Retry-After counts down from at most that.
            #expect(retryAfter.allSatisfy { $0 >= 1 && $0 <= 300 }, "\(retryAfter)")
            #expect(try httpRequest(port: server.port, "GET", "/health").status == 200)
            // The bucket lives in the segment the master keeps: a reload does not refill it.
            server.signal(SIGHUP)
            try server.waitForGeneration(2)
            #expect(try api.call("GET", "/v1/auth/me").status == 429)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func failedLoginsBlockTheAddressUntilAnAdminUnblocksIt() throws {
            let dir = TemporaryDirectory()
            let env = [
                "JADEVECTORDB_SERVER_TRUSTED_PROXIES": "127.0.0.1/32",
                "JADEVECTORDB_SECURITY_MAX_FAILED_LOGINS": "10",
            ]
            var (server, api) = try start(env, directory: dir)
            let attacker = ["X-Forwarded-For": "203.0.113.7"]
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            for i in 0..<10 {
                let reply = try api.call(
                    "POST", "/v1/auth/login", ["username": "no-such-user", "password": "guess-\(i)"], headers: attacker)
                #expect(reply.status == 401)
            }
            // The 11th request from that address is refused on any route, before any work.
            let blocked = try api.call("GET", "/v1/auth/me", headers: attacker)
            #expect(blocked.status == 403)
            #expect(blocked.errorCode == "ip_blocked")
            #expect(blocked.headers["retry-after"] != nil)
            #expect(try api.call("GET", "/health", headers: attacker).status == 200)
            // Everyone else is unaffected; the admin sees the block with its reason.
            let list = try api.call("GET", "/v1/admin/blocked-ips", as: admin)
            let entries = try #require(list.json?["blocked_ips"] as? [[String: Any]])
            #expect(entries.map { $0["ip"] as? String } == ["203.0.113.7"])
            // The block survives a reload and a full restart.
            server.signal(SIGHUP)
            try server.waitForGeneration(2)
            #expect(try api.call("GET", "/v1/databases", headers: attacker).status == 403)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
            (server, api) = try start(env, directory: dir)
            let admin2 = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            #expect(try api.call("GET", "/v1/databases", headers: attacker).status == 403)
            // A forged header from an untrusted peer would be ignored; from the trusted proxy it counts.
            #expect(try api.call("DELETE", "/v1/admin/blocked-ips/203.0.113.7", as: admin2).status == 204)
            #expect(try api.call("GET", "/v1/auth/me", headers: attacker).status == 401)
            #expect(try api.call("DELETE", "/v1/admin/blocked-ips/203.0.113.7", as: admin2).status == 404)
            #expect(try api.call("POST", "/v1/admin/blocked-ips", ["ip": "not-an-ip"], as: admin2).status == 400)
            let audit = try api.call("GET", "/v1/admin/audit-log?type=ip_blocked", as: admin2)
            #expect((audit.json?["events"] as? [[String: Any]])?.first?["target"] as? String == "203.0.113.7")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func forwardedForIsHonouredOnlyFromTrustedPeersAndAllowlistWins() throws {
            let (server, api) = try start(workers: 2, ["JADEVECTORDB_SECURITY_IP_ALLOWLIST": "198.51.100.0/24"])
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            #expect(
                try api.call(
                    "POST", "/v1/admin/blocked-ips", ["ip": "203.0.113.9", "duration_seconds": 60, "reason": "test"],
                    as: admin
                ).status == 201)
            // No trusted proxies configured: the header is ignored, the peer (127.0.0.1) is not blocked.
            #expect(try api.call("GET", "/v1/auth/me", headers: ["X-Forwarded-For": "203.0.113.9"]).status == 401)
            let allowlisted = try api.call("POST", "/v1/admin/blocked-ips", ["ip": "198.51.100.4"], as: admin)
            #expect(allowlisted.status == 409)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func theHundredAndFirstConnectionFromOneAddressIsRefused() throws {
            let (server, _) = try start(workers: 2, [:])
            var open: [HTTPConnection] = []
            for _ in 0..<100 {
                let c = try HTTPConnection(port: server.port)
                #expect(try c.request("GET", "/health").status == 200)
                open.append(c)
            }
            let extra = try HTTPConnection(port: server.port)
            let reply = try extra.readResponse(timeoutMilliseconds: 5000)
            #expect(reply.status == 429)
            #expect(extra.waitForClose())
            open.removeLast()
            usleep(300_000)
            #expect(try HTTPConnection(port: server.port).request("GET", "/health").status == 200)
            open.removeAll()
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Near its cap a worker closes the connections idle the longest (keep-alive, or never
        /// sent a byte) so that new clients get in; at the cap, with every connection busy, a new
        /// one gets 503 `overloaded` with Retry-After instead of a silent close.
        @Test func aWorkerShedsIdleConnectionsThenRefusesWith503AtItsCap() throws {
            let (server, _) = try start(workers: 1, ["JADEVECTORDB_SERVER_MAX_CONNECTIONS": "20"])
            // 40 idle connections from 40 addresses (a slowloris crowd): none is refused, the
            // oldest are closed as new ones arrive, and a newcomer is still served.
            var idle: [HTTPConnection] = []
            for i in 0..<40 {
                idle.append(try HTTPConnection(port: server.port, source: "127.0.40.\(i + 1)"))
                usleep(5_000)  // let the worker register it before the next one
            }
            #expect(try HTTPConnection(port: server.port).request("GET", "/health").status == 200)
            #expect(idle.prefix(10).allSatisfy { $0.waitForClose(timeoutMilliseconds: 2000) })
            idle.removeAll()
            usleep(300_000)
            // 20 busy connections (each in the middle of a request head): the 21st is refused
            // with an answer.
            var busy: [HTTPConnection] = []
            for i in 0..<20 {
                let c = try HTTPConnection(port: server.port, source: "127.0.41.\(i + 1)")
                try c.send("GET /health HTTP/1.1\r\nHost: x\r\n")
                busy.append(c)
                usleep(5_000)
            }
            let refused = try HTTPConnection(port: server.port).request("GET", "/health")
            #expect(refused.status == 503)
            #expect(refused.errorCode == "overloaded")
            #expect(refused.headers["retry-after"] == "1")
            #expect(refused.headers["x-request-id"] != nil)
            // The busy ones finish their requests and are answered.
            for c in busy.prefix(3) {
                try c.send("\r\n")
                #expect(try c.readResponse().status == 200)
            }
            busy.removeAll()
            usleep(300_000)
            #expect(try HTTPConnection(port: server.port).request("GET", "/health").status == 200)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
