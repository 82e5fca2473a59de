import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// HTTP behaviour of a worker: JSON errors, limits, timeouts, keep-alive, request ids.
    @Suite struct HTTPProtocol {
        @Test func healthRoutesAndErrorsFollowTheContract() throws {
            let server = try ServerProcess(
                workers: 1, environment: ["JADEVECTORDB_ADMIN_PASSWORD": "admin-password-for-tests"])
            try server.waitHealthy()
            let token = try APIClient(port: server.port).login("admin", "admin-password-for-tests")
            let connection = try HTTPConnection(port: server.port)
            let health = try connection.request("GET", "/health", headers: ["X-Request-Id": "trace-123"])
            #expect(health.status == 200)
            #expect(health.headers["x-request-id"] == "trace-123")
            #expect(health.json?["status"] as? String == "ok")
            #expect(health.json?["version"] is String)
            // Same connection: keep-alive.
            // Anyone gets the status; details need an admin credential.
            let anonymous = try connection.request("GET", "/health/db")
            #expect(anonymous.status == 200)
            #expect(anonymous.json?.keys.sorted() == ["status"])
            let db = try connection.request(
                "GET", "/health/db",
                headers: ["X-Request-Id": "bad id with spaces", "Authorization": "Bearer \(token)"])
            #expect(db.status == 200)
            #expect(db.headers["x-request-id"] != nil && db.headers["x-request-id"] != "bad id with spaces")
            #expect(db.json?["status"] as? String == "healthy")
            let database = try #require(db.json?["database"] as? [String: Any])
            #expect(database["reachable"] as? Bool == true)
            #expect(database["wal_bytes"] is Int)
            #expect((db.json?["workers"] as? [String: Any])?["expected"] as? Int == 1)

            let missing = try connection.request("GET", "/nope")
            #expect(missing.status == 404)
            #expect(missing.errorCode == "not_found")
            let wrongMethod = try connection.request("DELETE", "/health")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.errorCode == "method_not_allowed")
            #expect(wrongMethod.headers["allow"]?.contains("GET") == true)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// The raw-bytes fast path for `GET /health` (on when the access log is off): the same
        /// answer as the router's, pipelined requests answered in order, counted in the metrics,
        /// and any other request on the connection handed to the normal path.
        @Test func healthFastPathAnswersLikeTheRouterAndHandsOverCleanly() throws {
            let token = "scrape-token-for-tests-0123456789"
            let server = try ServerProcess(
                workers: 1,
                environment: ["JADEVECTORDB_LOGGING_ACCESS_LOG": "false", "JADEVECTORDB_SCRAPE_TOKEN": token])
            try server.waitHealthy()
            let metric = #"jadevectordb_http_requests_total{route="/health",method="GET",status="2xx"}"#
            func healthCount() throws -> Double {
                let scrape = try httpRequest(
                    port: server.port, "GET", "/metrics", headers: ["Authorization": "Bearer \(token)"])
                let line = scrape.text.split(separator: "\n").first { $0.hasPrefix(metric + " ") }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            }
            let before = try healthCount()

            let connection = try HTTPConnection(port: server.port)
            // Three requests in one write: three answers, in order, on the fast path.
            let one = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n"
            try connection.send(one + one + one)
            var ids: [String] = []
            for _ in 0..<3 {
                let reply = try connection.readResponse()
                #expect(reply.status == 200)
                #expect(reply.headers["content-type"] == "application/json")
                #expect(reply.headers["content-length"] == String(reply.body.count))
                #expect(reply.headers["date"]?.hasSuffix(" GMT") == true)
                #expect(reply.headers["connection"] == nil)
                #expect(reply.json?["status"] as? String == "ok")
                #expect((reply.json?["worker"] as? [String: Any])?["slot"] as? Int == 0)
                ids.append(reply.headers["x-request-id"] ?? "")
            }
            #expect(Set(ids).count == 3 && !ids.contains(""))
            // Another route on the same connection: the normal path takes over.
            let db = try connection.request("GET", "/health/db")
            #expect(db.status == 200)
            #expect(db.json?.keys.sorted() == ["status"])
            let after = try connection.request("GET", "/health", headers: ["X-Request-Id": "trace-fast-1"])
            #expect(after.status == 200)
            #expect(after.headers["x-request-id"] == "trace-fast-1")
            // A request split across two writes goes to the codec and is answered once.
            let split = try HTTPConnection(port: server.port)
            try split.send("GET /health HTTP/1.1\r\nHo")
            usleep(50_000)
            try split.send("st: 127.0.0.1\r\n\r\n")
            #expect(try split.readResponse().status == 200)
            // Connection: close is honoured (normal path): the answer says so and the server closes.
            let closing = try HTTPConnection(port: server.port)
            let closed = try closing.request("GET", "/health", headers: ["Connection": "close"])
            #expect(closed.status == 200)
            #expect(closed.headers["connection"] == "close")
            #expect(closing.waitForClose())
            // Every /health above was counted: 3 + 1 + 1 + 1.
            #expect(try healthCount() - before == 6)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Simple bodiless requests are parsed from the raw bytes ahead of the codec: pipelined
        /// they are answered in order with the router's answers; one that goes to the thread pool
        /// hands the bytes behind it to the codec; a request with a body on the same connection
        /// still works; and the access log records every one of them.
        @Test func simpleRequestsTakeTheRawPathAndHandOverToTheCodec() throws {
            let password = "admin-password-for-tests"
            let server = try ServerProcess(
                workers: 1,
                environment: ["JADEVECTORDB_ADMIN_PASSWORD": password, "JADEVECTORDB_LOGGING_ACCESS_LOG": "true"])
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let token = try api.login("admin", password)
            let auth = "Authorization: Bearer \(token)\r\n"

            let connection = try HTTPConnection(port: server.port)
            // Five requests in one write, all on the raw path and answered on the event loop.
            let host = "Host: 127.0.0.1\r\n"
            try connection.send(
                "GET /v1/auth/me HTTP/1.1\r\n\(host)\(auth)\r\n"
                    + "GET /nowhere HTTP/1.1\r\n\(host)\r\n"
                    + "DELETE /health HTTP/1.1\r\n\(host)\r\n"
                    + "GET /v1/auth/me HTTP/1.1\r\n\(host)\r\n"
                    + "GET /health HTTP/1.1\r\n\(host)X-Request-Id: raw-trace-1\r\n\r\n")
            let me = try connection.readResponse()
            #expect(me.status == 200)
            #expect(me.json?["credential"] as? String == "session")
            #expect(me.headers["ratelimit-limit"] != nil && me.headers["ratelimit-remaining"] != nil)
            #expect(me.headers["ratelimit-reset"] != nil)
            let missing = try connection.readResponse()
            #expect(missing.status == 404 && missing.errorCode == "not_found")
            let wrong = try connection.readResponse()
            #expect(wrong.status == 405 && wrong.headers["allow"]?.contains("GET") == true)
            let anonymous = try connection.readResponse()
            #expect(anonymous.status == 401)
            let traced = try connection.readResponse()
            #expect(traced.status == 200 && traced.headers["x-request-id"] == "raw-trace-1")

            // A permission check not cached yet goes to the thread pool; the /health behind it in
            // the same write waits for it and is answered second.
            let pending = try HTTPConnection(port: server.port)
            try pending.send(
                "GET /v1/databases/absent HTTP/1.1\r\n\(host)\(auth)\r\n"
                    + "GET /health HTTP/1.1\r\n\(host)\r\n")
            let absent = try pending.readResponse()
            #expect(absent.status == 404)
            #expect(absent.errorCode == "not_found")
            #expect(try pending.readResponse().status == 200)
            // A request with a body on the same connection: the codec's path.
            let body = #"{"name":"rawpath","dimension":2,"metric":"cosine"}"#
            try pending.send(
                "POST /v1/databases HTTP/1.1\r\n\(host)\(auth)Content-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(try pending.readResponse().status == 201)
            let got = try pending.request("GET", "/v1/databases/rawpath", headers: ["Authorization": "Bearer \(token)"])
            #expect(got.status == 200)
            #expect((got.json?["database"] as? [String: Any])?["dimension"] as? Int == 2)

            // Each request above has its access-log line (the raw path logs like the codec path).
            try waitUntil("access log lines") {
                let lines = server.log.split(separator: "\n")
                return lines.contains { $0.contains("raw-trace-1") && $0.contains("/health") }
                    && lines.contains { $0.contains("{name}") && $0.contains("404") }
                    && lines.contains { $0.contains("/nowhere") == false && $0.contains("405") }
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func malformedRequestsGet400AndTheWorkerSurvives() throws {
            let server = try ServerProcess(workers: 1)
            try server.waitHealthy()
            let pidsBefore = server.workerPIDs()
            let connection = try HTTPConnection(port: server.port)
            try connection.send("THIS IS NOT HTTP\r\n\r\n")
            let reply = try connection.readResponse()
            #expect(reply.status == 400)
            #expect(reply.errorCode == "invalid_request")
            #expect(connection.waitForClose())
            #expect(try httpRequest(port: server.port, "GET", "/health").status == 200)
            #expect(server.workerPIDs() == pidsBefore)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func oversizedBodiesAndHeadsAreRefused() throws {
            let server = try ServerProcess(workers: 1)
            try server.waitHealthy()
            let big = try HTTPConnection(port: server.port)
            try big.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n")
            let reply = try big.readResponse()
            #expect(reply.status == 413)
            #expect(reply.errorCode == "payload_too_large")
            #expect(big.waitForClose())

            let chunked = try HTTPConnection(port: server.port)
            try chunked.send("POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = String(repeating: "a", count: 65536)
            var sawReply: HTTPReply?
            for _ in 0..<40 {
                do {
                    try chunked.send(String(65536, radix: 16) + "\r\n" + chunk + "\r\n")
                } catch { break }
            }
            sawReply = try? chunked.readResponse()
            #expect(sawReply?.status == 413)

            let head = try HTTPConnection(port: server.port)
            try head.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 20000))\r\n\r\n")
            let headReply = try head.readResponse()
            #expect(headReply.status == 431)
            #expect(try httpRequest(port: server.port, "GET", "/health").status == 200)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func slowRequestsAreCutOffAtTheTimeout() throws {
            let server = try ServerProcess(
                workers: 1,
                environment: [
                    "JADEVECTORDB_SERVER_REQUEST_TIMEOUT_SECONDS": "1",
                    "JADEVECTORDB_SERVER_KEEP_ALIVE_TIMEOUT_SECONDS": "2",
                ])
            try server.waitHealthy()
            let slow = try HTTPConnection(port: server.port)
            try slow.send("GET /health HTTP/1.1\r\nHost: x\r\n")
            let started = Date()
            let reply = try slow.readResponse(timeoutMilliseconds: 5000)
            #expect(reply.status == 408)
            #expect(reply.errorCode == "request_timeout")
            #expect(Date().timeIntervalSince(started) < 4)
            #expect(slow.waitForClose())

            let idle = try HTTPConnection(port: server.port)
            #expect(try idle.request("GET", "/health").status == 200)
            #expect(idle.waitForClose(timeoutMilliseconds: 5000))
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
