import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// HNSW databases on the real multi-worker server: the graph is built in the background by
    /// whichever worker holds the index lock, every worker searches the published file, and
    /// every acknowledged vector is found at once (rows past the graph are scanned exactly),
    /// through concurrent writers and kill -9 of workers and of the master.
    @Suite struct HNSW {
        static let dimension = 16

        /// A clustered vector (64 centres) for id number `i`.
        static func vector(_ i: Int) -> [Double] {
            let centre = i % 64
            return (0..<dimension).map { d in
                sin(Double(centre * 131 + d * 17)) + 0.2 * sin(Double(i * 7919 + d * 104_729))
            }
        }

        static func create(_ api: APIClient, _ admin: APIClient.Credential, _ name: String) throws {
            let reply = try api.call(
                "POST", "/v1/databases",
                [
                    "name": name, "dimension": dimension, "metric": "cosine",
                    "index": ["type": "hnsw", "m": 16, "ef_construction": 100],
                ], as: admin)
            #expect(reply.status == 201)
            let index = (reply.json?["database"] as? [String: Any])?["index"] as? [String: Any]
            #expect(index?["type"] as? String == "hnsw" && index?["m"] as? Int == 16)
        }

        static func upsert(_ api: APIClient, _ admin: APIClient.Credential, _ name: String, _ ids: Range<Int>) throws
            -> Int
        {
            let batch = ids.map { ["id": "v\($0)", "values": vector($0), "metadata": ["c": $0 % 64]] as [String: Any] }
            return try api.call("PUT", "/v1/databases/\(name)/vectors", ["vectors": batch], as: admin).status
        }

        /// The top hit's id for the vector of `i` (its own id when it is found).
        static func nearest(_ api: APIClient, _ admin: APIClient.Credential, _ name: String, _ i: Int) throws -> String?
        {
            let reply = try api.call("POST", "/v1/databases/\(name)/search", ["vector": vector(i), "k": 1], as: admin)
            return (reply.json?["results"] as? [[String: Any]])?.first?["id"] as? String
        }

        static func index(_ api: APIClient, _ admin: APIClient.Credential, _ name: String) throws -> [String: Any] {
            let reply = try api.call("GET", "/v1/databases/\(name)", as: admin)
            return ((reply.json?["database"] as? [String: Any])?["index"] as? [String: Any]) ?? [:]
        }

        @Test func concurrentWritersOnEveryWorkerAndEveryAcknowledgedVectorFoundAtOnce() throws {
            let (server, api, admin) = try Vectors().start(workers: 2)
            try Self.create(api, admin, "h")
            #expect(try Self.upsert(api, admin, "h", 0..<1500) == 200)
            let failures = Mutex<[String]>([])
            // Two writers on fresh connections (both workers), each searching for its batch's
            // vectors the moment the upsert is acknowledged, while the graph is being built.
            let group = DispatchGroup()
            for w in 0..<2 {
                DispatchQueue.global().async(group: group) {
                    let client = APIClient(port: server.port)
                    for b in 0..<12 {
                        let first = 2000 + w * 10_000 + b * 40
                        guard (try? Self.upsert(client, admin, "h", first..<(first + 40))) == 200 else {
                            failures.withLock { $0.append("upsert \(first) failed") }
                            continue
                        }
                        for i in stride(from: first, to: first + 40, by: 7) {
                            let found = try? Self.nearest(client, admin, "h", i)
                            if found != "v\(i)" {
                                failures.withLock { $0.append("v\(i) answered \(found ?? "nothing")") }
                            }
                        }
                    }
                }
            }
            #expect(group.wait(timeout: .now() + 120) == .success)
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")

            // The background build catches up with everything.
            try waitUntil("the graph", timeout: 60) { try Self.index(api, admin, "h")["state"] as? String == "ready" }
            #expect(try Self.index(api, admin, "h")["indexed_vectors"] as? Int == 1500 + 2 * 12 * 40)
            // Through the graph: recall@10 against exact answers, on both workers.
            var hits = 0
            var total = 0
            for q in 0..<40 {
                let probe = (0..<Self.dimension).map { d in sin(Double(q * 977 + d * 3)) }
                let graph = try api.call("POST", "/v1/databases/h/search", ["vector": probe, "k": 10], as: admin)
                let exact = try api.call(
                    "POST", "/v1/databases/h/search", ["vector": probe, "k": 10, "exact": true], as: admin)
                let found = Set(((graph.json?["results"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
                let truth = ((exact.json?["results"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
                hits += truth.filter(found.contains).count
                total += truth.count
            }
            #expect(total == 400 && Double(hits) / Double(total) >= 0.95, "recall@10 \(hits)/\(total)")
            // A selective filter gives the exact filtered answer.
            let filtered: [String: Any] = ["vector": Self.vector(5), "k": 5, "filter": ["c": 5]]
            var exactFiltered = filtered
            exactFiltered["exact"] = true
            let a =
                try api.call("POST", "/v1/databases/h/search", filtered, as: admin).json?["results"] as? [[String: Any]]
            let b =
                try api.call("POST", "/v1/databases/h/search", exactFiltered, as: admin).json?["results"]
                as? [[String: Any]]
            #expect(a?.compactMap { $0["id"] as? String } == b?.compactMap { $0["id"] as? String })
            let scrape = try api.call("GET", "/metrics", as: admin)
            #expect(scrape.status == 200)
            let metrics = scrape.text
            #expect(metrics.contains("jadevectordb_hnsw_indexed_rows 2460"))
            #expect(metrics.contains("jadevectordb_hnsw_search_visits_total"))
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func killNineOfWorkersAndMasterMidInsertLosesNoVector() throws {
            let directory = TemporaryDirectory()
            var (server, api, admin) = try Vectors().start(workers: 2, directory: directory)
            try Self.create(api, admin, "k")
            var acknowledged = 0
            for b in 0..<6 {
                if try Self.upsert(api, admin, "k", (b * 500)..<((b + 1) * 500)) == 200 { acknowledged = (b + 1) * 500 }
                // Each worker killed while the graph is being built (whoever holds the lock).
                if b % 2 == 1, let victim = server.workerPIDs().first {
                    kill(victim, SIGKILL)
                    try waitUntil("a replacement worker", timeout: 15) {
                        let pids = server.workerPIDs()
                        return pids.count == 2 && !pids.contains(victim)
                    }
                }
            }
            #expect(acknowledged == 3000)
            // The master killed mid-build too; its workers drain and exit on their own.
            kill(server.pid, SIGKILL)
            _ = try? server.waitForExit()
            (server, api, admin) = try Vectors().start(workers: 2, directory: directory)
            for i in stride(from: 0, to: acknowledged, by: 11) {
                #expect(try Self.nearest(api, admin, "k", i) == "v\(i)")
            }
            try waitUntil("the graph", timeout: 90) { try Self.index(api, admin, "k")["state"] as? String == "ready" }
            for i in stride(from: 3, to: acknowledged, by: 17) {
                #expect(try Self.nearest(api, admin, "k", i) == "v\(i)")
            }
            #expect(try Self.index(api, admin, "k")["indexed_vectors"] as? Int == acknowledged)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
