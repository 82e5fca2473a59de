import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Vector databases on the real multi-worker server.
    @Suite struct Vectors {
        static let adminPassword = "admin-password-for-tests"

        func start(workers: Int = 3, directory: TemporaryDirectory = TemporaryDirectory()) throws -> (
            ServerProcess, APIClient, APIClient.Credential
        ) {
            let server = try ServerProcess(
                workers: workers, environment: ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword], directory: directory
            )
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            return (server, api, .bearer(try api.login("admin", Self.adminPassword)))
        }

        static func vector(_ i: Int, dimension: Int) -> [Double] {
            (0..<dimension).map { d in sin(Double(i * 31 + d * 7)) }
        }

        @Test func everyWorkerSeesEveryAcknowledgedWriteAndResultsAgree() throws {
            let (server, api, admin) = try start()
            #expect(
                try api.call(
                    "POST", "/v1/databases", ["name": "docs", "dimension": 5, "metric": "euclidean"], as: admin
                ).status == 201)
            let batch = (0..<200).map { i in
                [
                    "id": "v\(i)", "values": Self.vector(i, dimension: 5),
                    "metadata": ["parity": i % 2 == 0 ? "even" : "odd"],
                ]
                    as [String: Any]
            }
            let upsert = try api.call("PUT", "/v1/databases/docs/vectors", ["vectors": batch], as: admin)
            #expect(upsert.status == 200)
            #expect(upsert.json?["upserted"] as? Int == 200)
            // Search through fresh connections until every worker answered: all identical.
            let query: [String: Any] = ["vector": Self.vector(7, dimension: 5), "k": 5, "filter": ["parity": "odd"]]
            var answers: [Int: String] = [:]
            for _ in 0..<300 where answers.count < 3 {
                let connection = try HTTPConnection(port: server.port)
                let slot = try #require(
                    (try connection.request("GET", "/health").json?["worker"] as? [String: Any])?["slot"] as? Int)
                guard case .bearer(let token) = admin else { return }
                let reply = try connection.request(
                    "POST", "/v1/databases/docs/search",
                    headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
                    body: try JSONSerialization.data(withJSONObject: query))
                #expect(reply.status == 200)
                answers[slot] = reply.text
            }
            #expect(answers.count == 3)
            #expect(Set(answers.values).count == 1)
            let results = try #require(
                try JSONSerialization.jsonObject(with: Data(answers.values.first!.utf8)) as? [String: Any])
            let hits = try #require(results["results"] as? [[String: Any]])
            #expect(hits.first?["id"] as? String == "v7")
            #expect(hits.allSatisfy { Int(($0["id"] as! String).dropFirst())! % 2 == 1 })
            // A delete is seen by the next search on any worker.
            #expect(try api.call("DELETE", "/v1/databases/docs/vectors/v7", as: admin).status == 204)
            #expect(try api.call("GET", "/v1/databases/docs/vectors/v7", as: admin).status == 404)
            for _ in 0..<6 {
                let after = try api.call("POST", "/v1/databases/docs/search", query, as: admin)
                #expect((after.json?["results"] as? [[String: Any]])?.first?["id"] as? String != "v7")
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// `GET /v1/databases/{name}` is answered from each worker's memory while nothing was
        /// written (a shared epoch): every write on any worker is seen by the next read on all.
        @Test func databaseDescriptionIsCurrentOnEveryWorkerAfterEachWrite() throws {
            let (server, api, admin) = try start(workers: 3)
            #expect(
                try api.call(
                    "POST", "/v1/databases", ["name": "counted", "dimension": 4, "metric": "cosine"], as: admin
                )
                .status == 201)
            guard case .bearer(let token) = admin else { return }
            // Fresh connections spread over the workers (30 over 3: all reached, with certainty
            // for practical purposes); each answer must show `expected`.
            func countsEverywhere() throws -> Set<Int> {
                var counts = Set<Int>()
                for _ in 0..<30 {
                    let reply = try httpRequest(
                        port: server.port, "GET", "/v1/databases/counted", headers: ["Authorization": "Bearer \(token)"]
                    )
                    if reply.status == 404 { counts.insert(-1) }
                    if let count = (reply.json?["database"] as? [String: Any])?["vector_count"] as? Int {
                        counts.insert(count)
                    }
                }
                return counts
            }
            #expect(try countsEverywhere() == [0])
            #expect(try countsEverywhere() == [0])  // now from the caches
            let batch = (0..<20).map { i in ["id": "c\(i)", "values": Self.vector(i, dimension: 4)] as [String: Any] }
            #expect(try api.call("PUT", "/v1/databases/counted/vectors", ["vectors": batch], as: admin).status == 200)
            #expect(try countsEverywhere() == [20])
            #expect(try api.call("DELETE", "/v1/databases/counted/vectors/c3", as: admin).status == 204)
            #expect(try countsEverywhere() == [19])
            #expect(try api.call("DELETE", "/v1/databases/counted", as: admin).status == 204)
            #expect(try countsEverywhere() == [-1])
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func acknowledgedWritesSurviveKillingEveryProcess() throws {
            let dir = TemporaryDirectory()
            var (server, api, admin) = try start(workers: 2, directory: dir)
            #expect(
                try api.call("POST", "/v1/databases", ["name": "durable", "dimension": 4, "metric": "dot"], as: admin)
                    .status == 201)
            for b in 0..<5 {
                let batch = (0..<50).map { i in
                    ["id": "b\(b)-\(i)", "values": Self.vector(b * 50 + i, dimension: 4)] as [String: Any]
                }
                #expect(
                    try api.call("PUT", "/v1/databases/durable/vectors", ["vectors": batch], as: admin).status == 200)
            }
            for pid in server.workerPIDs() + [server.pid] { kill(pid, SIGKILL) }
            _ = try? server.waitForExit(timeout: 10)
            usleep(200_000)
            (server, api, admin) = try start(workers: 2, directory: dir)
            let info = try api.call("GET", "/v1/databases/durable", as: admin)
            #expect((info.json?["database"] as? [String: Any])?["vector_count"] as? Int == 250)
            let got = try api.call("GET", "/v1/databases/durable/vectors/b4-49", as: admin)
            #expect(got.status == 200)
            let values = try #require(got.json?["values"] as? [Double])
            #expect(zip(values, Self.vector(249, dimension: 4)).allSatisfy { abs($0 - $1) < 1e-6 })
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func permissionsGuardEveryRouteAndRevocationIsImmediate() throws {
            let (server, api, admin) = try start()
            #expect(try api.call("POST", "/v1/databases", ["name": "secret", "dimension": 2], as: admin).status == 201)
            #expect(try api.call("POST", "/v1/databases", ["name": "public", "dimension": 2], as: admin).status == 201)
            let created = try api.call(
                "POST", "/v1/admin/users", ["username": "rita", "password": "rita-password-1"], as: admin)
            let id = try #require((created.json?["user"] as? [String: Any])?["id"] as? Int)
            let rita = APIClient.Credential.bearer(try api.login("rita", "rita-password-1"))
            // No grant: nothing listed; 403 whether the database exists or not.
            #expect((try api.call("GET", "/v1/databases", as: rita).json?["databases"] as? [Any])?.isEmpty == true)
            #expect(try api.call("GET", "/v1/databases/secret", as: rita).status == 403)
            #expect(try api.call("GET", "/v1/databases/does-not-exist", as: rita).status == 403)
            #expect(try api.call("GET", "/v1/databases/does-not-exist", as: admin).status == 404)
            #expect(try api.call("POST", "/v1/databases", ["name": "mine", "dimension": 2], as: rita).status == 403)

            // Read through a user ACL: read yes, write no; only that database listed.
            #expect(
                try api.call(
                    "PUT", "/v1/databases/public/acl", ["principal": "user:\(id)", "permission": "database:read"],
                    as: admin
                ).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/databases/public", as: rita, workers: 3).values.allSatisfy {
                    $0 == 200
                })
            let listed = try api.call("GET", "/v1/databases", as: rita).json?["databases"] as? [[String: Any]]
            #expect(listed?.map { $0["name"] as? String } == ["public"])
            let write = try api.call(
                "PUT", "/v1/databases/public/vectors", ["vectors": [["id": "x", "values": [1, 2]]]], as: rita)
            #expect(write.status == 403)
            #expect(write.errorCode == "forbidden")
            // Revoked through another connection: the next request on every worker is 403.
            #expect(
                try api.call(
                    "DELETE", "/v1/databases/public/acl", ["principal": "user:\(id)", "permission": "database:read"],
                    as: admin
                ).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/databases/public", as: rita, workers: 3).values.allSatisfy {
                    $0 == 403
                })

            // Through a group ACL, then removal from the group.
            #expect(try api.call("POST", "/v1/admin/groups", ["name": "readers"], as: admin).status == 201)
            #expect(try api.call("PUT", "/v1/admin/groups/readers/members/\(id)", as: admin).status == 204)
            #expect(
                try api.call(
                    "PUT", "/v1/databases/public/acl", ["principal": "group:readers", "permission": "database:read"],
                    as: admin
                ).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/databases/public", as: rita, workers: 3).values.allSatisfy {
                    $0 == 200
                })
            #expect(try api.call("DELETE", "/v1/admin/groups/readers/members/\(id)", as: admin).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/databases/public", as: rita, workers: 3).values.allSatisfy {
                    $0 == 403
                })

            // Through a role (viewer reads every database), then removal of the role.
            #expect(try api.call("PUT", "/v1/admin/users/\(id)/roles/viewer", as: admin).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/databases/secret", as: rita, workers: 3).values.allSatisfy {
                    $0 == 200
                })
            #expect(try api.call("DELETE", "/v1/admin/users/\(id)/roles/viewer", as: admin).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/databases/secret", as: rita, workers: 3).values.allSatisfy {
                    $0 == 403
                })
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func badInputGetsClearErrorsAndWritesNothing() throws {
            let (server, api, admin) = try start(workers: 2)
            #expect(
                try api.call("POST", "/v1/databases", ["name": "db", "dimension": 3, "metric": "cosine"], as: admin)
                    .status == 201)
            #expect(try api.call("POST", "/v1/databases", ["name": "db", "dimension": 3], as: admin).status == 409)
            let cases: [(String, String, [String: Any], Int, String)] = [
                ("POST", "/v1/databases", ["name": "bad name!", "dimension": 3], 400, "invalid_request"),
                ("POST", "/v1/databases", ["name": "x", "dimension": 0], 400, "invalid_request"),
                ("POST", "/v1/databases", ["name": "x", "dimension": 5000], 400, "invalid_request"),
                (
                    "POST", "/v1/databases", ["name": "x", "dimension": 3, "metric": "manhattan"], 400,
                    "invalid_request"
                ),
                (
                    "PUT", "/v1/databases/db/vectors", ["vectors": [["id": "", "values": [1, 2, 3]]]], 400,
                    "invalid_request"
                ),
                (
                    "PUT", "/v1/databases/db/vectors",
                    ["vectors": [["id": String(repeating: "i", count: 257), "values": [1, 2, 3]]]], 400,
                    "invalid_request"
                ),
                (
                    "PUT", "/v1/databases/db/vectors",
                    ["vectors": [["id": "ok", "values": [1, 2, 3]], ["id": "bad", "values": [1, 2]]]], 400,
                    "dimension_mismatch"
                ),
                (
                    "PUT", "/v1/databases/db/vectors", ["vectors": [["id": "big", "values": [1e39, 0, 0]]]], 400,
                    "invalid_request"
                ),
                (
                    "PUT", "/v1/databases/db/vectors",
                    ["vectors": [["id": "m", "values": [1, 2, 3], "metadata": ["nested": ["a": 1]]]]], 400,
                    "invalid_request"
                ),
                ("POST", "/v1/databases/db/search", ["vector": [1, 0, 0], "k": 0], 400, "invalid_request"),
                ("POST", "/v1/databases/db/search", ["vector": [1, 0, 0], "k": 1001], 400, "invalid_request"),
                ("POST", "/v1/databases/db/search", ["vector": [1, 0], "k": 1], 400, "dimension_mismatch"),
                (
                    "POST", "/v1/databases/db/search", ["vector": [1, 0, 0], "k": 1, "filter": "lang=en"], 400,
                    "invalid_request"
                ),
                ("POST", "/v1/databases/nope/search", ["vector": [1, 0, 0], "k": 1], 404, "not_found"),
            ]
            for (method, path, body, status, code) in cases {
                let reply = try api.call(method, path, body, as: admin)
                #expect(reply.status == status, "\(method) \(path) \(body): \(reply.text)")
                #expect(reply.errorCode == code, "\(method) \(path) \(body): \(reply.text)")
            }
            // The batch with one bad vector wrote nothing.
            #expect(
                (try api.call("GET", "/v1/databases/db", as: admin).json?["database"] as? [String: Any])?[
                    "vector_count"] as? Int == 0)
            #expect(try api.call("GET", "/v1/databases/db/vectors/ok", as: admin).status == 404)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
