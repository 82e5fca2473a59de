import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// The query routes (batch search, batch get, scroll, metadata PATCH, delete by ids or
    /// filter, count, score threshold) on the real multi-worker server.
    @Suite struct QueryAPI {
        static func vector(_ i: Int) -> [Double] { (0..<4).map { d in sin(Double(i * 13 + d * 5)) } }

        @Test func theQueryRoutesAnswerPerTheContract() throws {
            let (server, api, admin) = try Vectors().start(workers: 2)
            #expect(
                try api.call("POST", "/v1/databases", ["name": "q", "dimension": 4, "metric": "dot"], as: admin).status
                    == 201)
            let batch = (0..<300).map { i in
                ["id": String(format: "v%03d", i), "values": Self.vector(i), "metadata": ["n": i, "odd": i % 2 == 1]]
                    as [String: Any]
            }
            #expect(try api.call("PUT", "/v1/databases/q/vectors", ["vectors": batch], as: admin).status == 200)
            let info = try api.call("GET", "/v1/databases/q", as: admin).json?["database"] as? [String: Any]
            #expect((info?["index"] as? [String: Any])?["type"] as? String == "flat")

            // count with operators
            let count = try api.call(
                "POST", "/v1/databases/q/count", ["filter": ["n": ["$gte": 100, "$lt": 200], "odd": true]], as: admin)
            #expect(count.status == 200 && count.json?["count"] as? Int == 50)
            #expect(
                try api.call("POST", "/v1/databases/q/count", ["filter": ["n": ["$regex": "1"]]], as: admin).status
                    == 400)

            // batch search = the singles
            let searches: [[String: Any]] = (0..<20).map { i in
                [
                    "vector": Self.vector(1000 + i), "k": 3 + i % 5, "filter": ["odd": i % 2 == 0],
                    "include_metadata": true,
                ]
            }
            let batched = try api.call("POST", "/v1/databases/q/search/batch", ["searches": searches], as: admin)
            #expect(batched.status == 200)
            let lists = try #require(batched.json?["results"] as? [[[String: Any]]])
            #expect(lists.count == 20)
            for (i, search) in searches.enumerated() {
                let single = try api.call("POST", "/v1/databases/q/search", search, as: admin)
                let hits = try #require(single.json?["results"] as? [[String: Any]])
                #expect(hits.map { $0["id"] as! String } == lists[i].map { $0["id"] as! String }, "search \(i)")
            }
            #expect(
                try api.call(
                    "POST", "/v1/databases/q/search/batch",
                    ["searches": [searches[0], ["vector": [1, 2], "k": 1]]], as: admin
                ).status == 400)
            #expect(
                try api.call("POST", "/v1/databases/q/search/batch", ["searches": [] as [Any]], as: admin).status
                    == 400)

            // score threshold
            let best =
                try api.call(
                    "POST", "/v1/databases/q/search", ["vector": Self.vector(5), "k": 10], as: admin
                ).json?["results"] as? [[String: Any]]
            let third = try #require(best?[2]["score"] as? Double)
            let kept =
                try api.call(
                    "POST", "/v1/databases/q/search", ["vector": Self.vector(5), "k": 10, "score_threshold": third],
                    as: admin
                ).json?["results"] as? [[String: Any]]
            #expect(kept?.count == 3)

            // get several, PATCH, delete by ids and by filter
            let got = try api.call(
                "POST", "/v1/databases/q/vectors/get", ["ids": ["v010", "nope", "v002"], "include_values": false],
                as: admin)
            let entries = try #require(got.json?["vectors"] as? [[String: Any]])
            #expect(entries.map { $0["id"] as! String } == ["v010", "v002"])
            #expect(entries[0]["values"] == nil && (entries[0]["metadata"] as? [String: Any])?["n"] as? Int == 10)
            let patched = try api.call(
                "PATCH", "/v1/databases/q/vectors/v010", ["metadata": ["n": NSNull(), "tag": "x"]], as: admin)
            #expect(patched.status == 200)
            #expect((patched.json?["metadata"] as? [String: Any]).map { Set($0.keys) } == ["odd", "tag"])
            #expect(try api.call("GET", "/v1/databases/q/vectors/v010", as: admin).json?["values"] as? [Double] != nil)
            #expect(
                try api.call("PATCH", "/v1/databases/q/vectors/nope", ["metadata": ["a": 1]], as: admin).status == 404)
            let deleted = try api.call(
                "POST", "/v1/databases/q/vectors/delete", ["ids": ["v000", "v001", "nope"]], as: admin)
            #expect(deleted.json?["deleted"] as? Int == 2)
            let byFilter = try api.call(
                "POST", "/v1/databases/q/vectors/delete", ["filter": ["n": ["$gte": 250]]], as: admin)
            #expect(byFilter.json?["deleted"] as? Int == 50)
            #expect(
                try api.call(
                    "POST", "/v1/databases/q/vectors/delete", ["ids": ["v002"], "filter": [:] as [String: Any]],
                    as: admin
                ).status == 400)
            #expect(try api.call("POST", "/v1/databases/q/count", [:], as: admin).json?["count"] as? Int == 248)
            // A vector whose id is a route word is still reachable by id.
            #expect(
                try api.call(
                    "PUT", "/v1/databases/q/vectors", ["vectors": [["id": "get", "values": [1, 0, 0, 0]]]], as: admin
                )
                .status == 200)
            #expect(try api.call("GET", "/v1/databases/q/vectors/get", as: admin).json?["id"] as? String == "get")
            // `ef` is checked (k to 10000) even though a flat index has nothing to widen.
            for (ef, status) in [(3, 400), (10, 200), (10_001, 400)] {
                let reply = try api.call(
                    "POST", "/v1/databases/q/search", ["vector": Self.vector(1), "k": 10, "ef": ef, "exact": true],
                    as: admin)
                #expect(reply.status == status, "ef \(ef)")
            }
            #expect(
                try api.call(
                    "POST", "/v1/databases", ["name": "f", "dimension": 4, "index": ["type": "flat"]], as: admin
                ).status == 201)
            // HNSW settings are checked: unknown fields and values out of range are 400.
            for index in [
                ["type": "hnsw", "m": 2], ["type": "hnsw", "ef_construction": 5000], ["type": "flat", "m": 16],
                ["type": "ivf"],
            ] as [[String: Any]] {
                #expect(
                    try api.call("POST", "/v1/databases", ["name": "h", "dimension": 4, "index": index], as: admin)
                        .status == 400, "\(index)")
            }
            let hnsw = try api.call(
                "POST", "/v1/databases", ["name": "h", "dimension": 4, "index": ["type": "hnsw"]], as: admin)
            #expect(hnsw.status == 201)
            let index = (hnsw.json?["database"] as? [String: Any])?["index"] as? [String: Any]
            #expect(index?["m"] as? Int == 16 && index?["ef_construction"] as? Int == 200)
            #expect(index?["state"] as? String == "ready")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Pages of a scroll while another client inserts on every worker: no id twice, and
        /// every vector that existed before the scroll began is seen.
        @Test func scrollVisitsEveryVectorOnceUnderConcurrentInserts() throws {
            let (server, api, admin) = try Vectors().start(workers: 2)
            #expect(
                try api.call("POST", "/v1/databases", ["name": "s", "dimension": 4, "metric": "dot"], as: admin).status
                    == 201)
            let initial = (0..<500).map { ["id": "a\($0)", "values": Self.vector($0)] as [String: Any] }
            #expect(try api.call("PUT", "/v1/databases/s/vectors", ["vectors": initial], as: admin).status == 200)
            let stop = Flag()
            let writer = Thread {
                let other = APIClient(port: server.port)
                var i = 0
                while !stop.isSet && i < 400 {
                    let batch = (0..<5).map { j in
                        ["id": "b\(i * 5 + j)", "values": Self.vector(i * 5 + j)] as [String: Any]
                    }
                    _ = try? other.call("PUT", "/v1/databases/s/vectors", ["vectors": batch], as: admin)
                    // Rewriting an existing vector moves it to a new row: it must still be seen once.
                    _ = try? other.call(
                        "PATCH", "/v1/databases/s/vectors/a\(i % 500)", ["metadata": ["touched": i]], as: admin)
                    i += 1
                }
            }
            writer.start()
            var seen: [String] = []
            var cursor: Any = NSNull()
            for _ in 0..<200 {
                let page = try api.call(
                    "POST", "/v1/databases/s/vectors/scroll", ["limit": 37, "cursor": cursor], as: admin)
                #expect(page.status == 200)
                seen += (page.json?["vectors"] as? [[String: Any]] ?? []).map { $0["id"] as! String }
                guard let next = page.json?["next_cursor"] as? String else { break }
                cursor = next
            }
            stop.set()
            while writer.isExecuting { usleep(10_000) }
            #expect(Set(seen).count == seen.count, "an id was visited twice")
            #expect(Set(seen).isSuperset(of: (0..<500).map { "a\($0)" }))
            #expect(seen == seen.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}

/// A flag set by one thread and read by another.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
