// jade-bench-vectors: the in-process side of scripts/bench-vectors.sh.
//
//   jade-bench-vectors load   --data DIR --store DIR      create "cos" and "l2" and upsert base.f32
//   jade-bench-vectors search --data DIR --store DIR --k K --rounds R --out FILE
//                                                         time queries.f32, one query at a time
//                                                         (best of R passes)
//   jade-bench-vectors memory --store DIR --hold S        search once per database, then report
//                                                         RSS / PSS while holding the mappings S seconds
//   jade-bench-vectors verify --data DIR --store DIR      after a kill -9 during load: whole batches only,
//                                                         values intact, search finds the last vector
//   jade-bench-vectors churn  --store DIR                 delete a third of "l2" one by one (times
//                                                         the automatic compaction)
//   jade-bench-vectors ann    --work DIR --n N --dim D --queries Q --m M --ef-construction E --efs 16,32
//                                                         HNSWGraph on DIR/base.f32 (L2), recall@10 against
//                                                         DIR/truth.i32 per ef; JSON on stdout (ann.py)
//   jade-bench-vectors batch  --data DIR --store DIR --k K --size B --rounds R
//                                                         queries.f32 one at a time, then in batches
//                                                         of B (search/batch), per database: ms per
//                                                         query of each, and whether every answer agrees
//
// DIR holds base.f32 and queries.f32 (raw little-endian float32 rows) and meta.json
// ({"n", "dim", "queries"}), written by bench.py. Each mode is meant to run in its own process:
// load and search share nothing but the data directory, as two workers would.
import Foundation
import JadeConfig
import JadeStore
import JadeVectors

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("jade-bench-vectors: \(message)\n".utf8))
    exit(2)
}

var options: [String: String] = [:]
let arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first else { fail("usage: jade-bench-vectors load|search|memory --data DIR --store DIR") }
var index = 1
while index + 1 < arguments.count {
    options[String(arguments[index].drop { $0 == "-" })] = arguments[index + 1]
    index += 2
}
func option(_ name: String) -> String {
    guard let value = options[name] else { fail("missing --\(name)") }
    return value
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func readMatrix(_ path: String, dim: Int) -> [[Float]] {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let floats = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    return stride(from: 0, to: floats.count, by: dim).map { Array(floats[$0..<($0 + dim)]) }
}

func meta(_ dir: String) -> [String: Int] {
    guard let data = FileManager.default.contents(atPath: dir + "/meta.json"),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Int]
    else { fail("cannot read \(dir)/meta.json") }
    return object
}

/// A store on `dir` (its own SQLite file and vectors directory), migrated.
func openStore(_ dir: String) throws -> VectorStore {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try "{}".write(toFile: dir + "/development.json", atomically: true, encoding: .utf8)
    let resolved = try ConfigLoader.load(environment: [
        "JADEVECTORDB_CONFIG_DIR": dir, "JADEVECTORDB_DATA_DIR": dir, "JADEVECTORDB_SECRETS_DIR": dir + "/secrets",
    ])
    let store = try Store.open(JadeConfiguration(resolved).database, readerCount: 2)
    try store.migrate(Schema(Schema.foundation, VectorSchema.migrations))
    return try VectorStore(store: store, directory: dir + "/vectors")
}

/// VmRSS, RssAnon, RssFile (status) and Pss (smaps_rollup), in MiB.
func memory() -> [String: Double] {
    var result: [String: Double] = [:]
    for file in ["/proc/self/status", "/proc/self/smaps_rollup"] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Double(parts[1]) else { continue }
            let key = String(parts[0].dropLast())
            if ["VmRSS", "RssAnon", "RssFile", "RssShmem", "Pss", "Pss_File", "Pss_Anon"].contains(key) {
                result[key] = kb / 1024
            }
        }
    }
    return result
}

func writeJSON(_ object: Any, to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    try data.write(to: URL(fileURLWithPath: path))
}

do {
    switch mode {
    case "load":
        let data = option("data")
        let info = meta(data)
        let dim = info["dim"]!
        let base = readMatrix(data + "/base.f32", dim: dim)
        let store = try openStore(option("store"))
        var timings: [String: Double] = [:]
        for (name, metric) in [("cos", VectorMetric.cosine), ("l2", .euclidean)] {
            if try store.database(named: name) != nil { try store.deleteDatabase(named: name) }
            try store.createDatabase(name: name, dimension: dim, metric: metric)
            let start = now()
            let batch = 5_000
            for first in stride(from: 0, to: base.count, by: batch) {
                let records = (first..<min(first + batch, base.count)).map {
                    VectorRecord(id: "\($0)", values: base[$0])
                }
                try store.upsert(database: name, vectors: records)
            }
            timings[name] = now() - start
        }
        print(
            String(
                format: "loaded %d vectors of dimension %d into cos in %.2f s and l2 in %.2f s (batches of 5,000)",
                base.count, dim, timings["cos"]!, timings["l2"]!))

    case "search":
        let data = option("data")
        let info = meta(data)
        let dim = info["dim"]!
        let k = Int(options["k"] ?? "10")!
        let rounds = Int(options["rounds"] ?? "3")!
        let queries = readMatrix(data + "/queries.f32", dim: dim)
        let store = try openStore(option("store"))
        var report: [String: Any] = [:]
        for name in ["cos", "l2"] {
            // The first search maps the segment and reads every row's id from SQLite.
            var start = now()
            _ = try store.search(database: name, query: queries[0], k: k)
            let firstMs = (now() - start) * 1000
            // Warm-up pass over the data (page cache), not timed.
            for q in queries.prefix(20) { _ = try store.search(database: name, query: q, k: k) }
            // Best of `rounds` passes over the queries (by mean), against noise from other work.
            var times: [Double] = []
            var ids: [[Int]] = []
            for _ in 0..<rounds {
                var pass: [Double] = []
                ids = []
                for q in queries {
                    start = now()
                    let hits = try store.search(database: name, query: q, k: k)
                    pass.append(now() - start)
                    ids.append(hits.map { Int($0.id)! })
                }
                if times.isEmpty || pass.reduce(0, +) < times.reduce(0, +) { times = pass }
            }
            let sorted = times.sorted()
            report[name] = [
                "mean_ms": times.reduce(0, +) / Double(times.count) * 1000, "p50_ms": sorted[sorted.count / 2] * 1000,
                "p99_ms": sorted[sorted.count * 99 / 100] * 1000, "first_search_ms": firstMs, "ids": ids,
            ]
        }
        // The fixed cost of a search (SQLite version check, validation, answer) on a one-row database.
        if try store.database(named: "tiny") == nil {
            try store.createDatabase(name: "tiny", dimension: dim, metric: .euclidean)
            try store.upsert(database: "tiny", vectors: [VectorRecord(id: "0", values: queries[0])])
        }
        _ = try store.search(database: "tiny", query: queries[0], k: k)
        let start = now()
        for q in queries { _ = try store.search(database: "tiny", query: q, k: k) }
        report["fixed_overhead_ms"] = (now() - start) / Double(queries.count) * 1000
        report["memory_mib"] = memory()
        report["mapped_mib"] = Double(try store.stats().mappedBytes) / 1_048_576
        try writeJSON(report, to: option("out"))

    case "ann":
        let work = option("work")
        let n = Int(option("n"))!
        let dim = Int(option("dim"))!
        let queryCount = Int(option("queries"))!
        let base = readMatrix(work + "/base.f32", dim: dim)
        let queries = readMatrix(work + "/queries.f32", dim: dim)
        guard base.count == n, queries.count == queryCount,
            let truthData = FileManager.default.contents(atPath: work + "/truth.i32")
        else { fail("work directory does not hold \(n) vectors, \(queryCount) queries and truth.i32") }
        let truth = truthData.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        let before = memory()["VmRSS"] ?? 0
        let graph = HNSWGraph(
            dimension: dim, distance: .squaredEuclidean, m: Int(option("m"))!,
            efConstruction: Int(option("ef-construction"))!)
        var start = now()
        for vector in base { graph.add(vector) }
        let built = now() - start
        let grown = (memory()["VmRSS"] ?? 0) - before
        var points: [[Double]] = []
        for ef in option("efs").split(separator: ",").map({ Int($0)! }) {
            start = now()
            let answers = queries.map { graph.search($0, k: 10, ef: ef).map(\.node) }
            let perQuery = (now() - start) / Double(queries.count)
            var hits = 0
            for (i, answer) in answers.enumerated() {
                let found = Set(answer)
                hits += (0..<10).filter { found.contains(truth[i * 10 + $0]) }.count
            }
            points.append([Double(ef), Double(hits) / Double(queries.count * 10), perQuery * 1000])
        }
        try writeJSON(
            [
                "build_vps": Double(n) / built, "rss_growth_mib": grown,
                "index_mib": Double(graph.memoryBytes) / 1_048_576, "points": points,
            ], to: "/dev/stdout")

    case "batch":
        let data = option("data")
        let dim = meta(data)["dim"]!
        let k = Int(options["k"] ?? "10")!
        let size = Int(options["size"] ?? "100")!
        let rounds = Int(options["rounds"] ?? "3")!
        let queries = readMatrix(data + "/queries.f32", dim: dim)
        let store = try openStore(option("store"))
        for name in ["cos", "l2"] {
            for q in queries.prefix(20) { _ = try store.search(database: name, query: q, k: k) }
            var single = Double.infinity
            var batched = Double.infinity
            var differ = 0
            for _ in 0..<rounds {
                var start = now()
                let one = try queries.map { try store.search(database: name, SearchRequest(query: $0, k: k)) }
                single = min(single, now() - start)
                start = now()
                var many: [[SearchHit]] = []
                for first in stride(from: 0, to: queries.count, by: size) {
                    let group = queries[first..<min(first + size, queries.count)].map { SearchRequest(query: $0, k: k) }
                    many += try store.search(database: name, batch: group)
                }
                batched = min(batched, now() - start)
                differ = zip(one, many).filter { $0 != $1 }.count
            }
            let n = Double(queries.count)
            print(
                String(
                    format: "%@: single %.3f ms/query, batches of %d %.3f ms/query (%.1fx); %d of %d answers differ",
                    name, single / n * 1000, size, batched / n * 1000, single / batched, differ, queries.count))
        }

    case "memory":
        let store = try openStore(option("store"))
        let hold = Double(options["hold"] ?? "3")!
        for name in ["cos", "l2"] {
            guard let info = try store.database(named: name) else { fail("no database \(name): run load first") }
            _ = try store.search(database: name, query: [Float](repeating: 0.5, count: info.dimension), k: 10)
        }
        let mapped = Double(try store.stats().mappedBytes) / 1_048_576
        // Measured halfway, while a peer started at the same time still holds its mappings.
        Thread.sleep(forTimeInterval: hold / 2)
        let m = memory()
        defer { Thread.sleep(forTimeInterval: hold / 2) }
        print(
            String(
                format: "pid %d: mapped %.1f MiB; RSS %.1f MiB (anon %.1f + file %.1f); PSS %.1f MiB",
                getpid(), mapped, m["VmRSS"] ?? 0, m["RssAnon"] ?? 0, m["RssFile"] ?? 0, m["Pss"] ?? 0))

    case "churn":
        // Deletes every third vector of "l2", one transaction each; the delete that crosses the
        // compaction threshold rewrites the segment, and its latency is the stall writers see.
        let store = try openStore(option("store"))
        guard let info = try store.database(named: "l2") else { fail("no database l2: run load first") }
        var latencies: [Double] = []
        let start = now()
        for i in stride(from: 0, to: info.vectorCount, by: 3) {
            let t = now()
            try store.delete(database: "l2", id: "\(i)")
            latencies.append(now() - t)
        }
        let total = now() - start
        let sorted = latencies.sorted()
        print(
            String(
                format:
                    "deleted %d of %d vectors one by one in %.2f s: median %.3f ms, slowest %.1f ms (the automatic compaction)",
                latencies.count, info.vectorCount, total, sorted[sorted.count / 2] * 1000, sorted.last! * 1000))

    case "verify":
        // After a crash (kill -9 during load): every database holds whole batches only, each
        // vector has the values it was loaded with, and search finds the last one.
        let data = option("data")
        let dim = meta(data)["dim"]!
        let base = readMatrix(data + "/base.f32", dim: dim)
        let store = try openStore(option("store"))
        for info in try store.listDatabases() where info.name == "cos" || info.name == "l2" {
            let count = info.vectorCount
            guard count % 5_000 == 0 else { fail("\(info.name): \(count) vectors, not whole batches") }
            for i in Array(stride(from: 0, to: count, by: 997)) + (count > 0 ? [count - 1] : []) {
                guard try store.get(database: info.name, id: "\(i)")?.values == base[i] else {
                    fail("\(info.name): vector \(i) lost or changed")
                }
            }
            guard try store.get(database: info.name, id: "\(count)") == nil else {
                fail("\(info.name): vector \(count) present past the committed count")
            }
            if count > 0 {
                let hit = try store.search(database: info.name, query: base[count - 1], k: 1)
                guard hit.first?.id == "\(count - 1)" else { fail("\(info.name): search misses vector \(count - 1)") }
            }
            print("\(info.name): \(count) vectors, consistent")
        }

    default:
        fail("unknown mode \(mode)")
    }
} catch {
    fail("\(error)")
}
