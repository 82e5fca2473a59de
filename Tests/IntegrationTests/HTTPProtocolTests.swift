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
