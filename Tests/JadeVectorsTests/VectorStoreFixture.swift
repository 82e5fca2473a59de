import Foundation
import JadeConfig
import JadeStore

@testable import JadeVectors

/// A temporary data directory with a migrated SQLite database and its vectors directory.
/// `open()` gives a new, independent Store (its own GRDB pool) and VectorStore on the same files,
/// which is how another worker process sees them.
final class VectorStoreFixture {
    let path: String
    let settings: JadeConfiguration.Database
    let store: Store
    let vectors: VectorStore
    var directory: String { path + "/vectors" }

    init(
        policy: CompactionPolicy = .default, queryTimeout: UInt64? = nil, hooks: PoolHooks = PoolHooks(),
        changeEpoch: VectorStore.ChangeEpoch? = nil, queryCache: QueryCache? = nil, automaticIndexing: Bool = false
    ) throws {
        path = NSTemporaryDirectory() + "jadevectors-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try "{}".write(toFile: path + "/development.json", atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(environment: [
            "JADEVECTORDB_CONFIG_DIR": path, "JADEVECTORDB_DATA_DIR": path,
            "JADEVECTORDB_SECRETS_DIR": path + "/secrets",
        ])
        settings = JadeConfiguration(config).database
        store = try Store.open(settings, readerCount: 2, hooks: hooks, queryTimeout: queryTimeout)
        try store.migrate(Schema(Schema.foundation, VectorSchema.migrations))
        vectors = try VectorStore(
            store: store, directory: path + "/vectors", compactionPolicy: policy, changeEpoch: changeEpoch,
            queryCache: queryCache, automaticIndexing: automaticIndexing)
    }

    /// Another "process": its own pool on the same database and segment files.
    func open(
        policy: CompactionPolicy = .default, changeEpoch: VectorStore.ChangeEpoch? = nil, queryCache: QueryCache? = nil,
        automaticIndexing: Bool = false
    ) throws -> VectorStore {
        let other = try Store.open(settings, readerCount: 2)
        return try VectorStore(
            store: other, directory: directory, compactionPolicy: policy, changeEpoch: changeEpoch,
            queryCache: queryCache, automaticIndexing: automaticIndexing)
    }

    /// Segment files currently in the vectors directory.
    func segmentFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &self) } }
}

/// Reference scores in double precision.
enum Reference {
    static func score(_ metric: VectorMetric, _ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0, l2 = 0.0
        for i in a.indices {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y
            na += x * x
            nb += y * y
            l2 += (x - y) * (x - y)
        }
        switch metric {
        case .dot: return dot
        case .cosine: return na == 0 || nb == 0 ? 0 : dot / (na.squareRoot() * nb.squareRoot())
        case .euclidean: return l2.squareRoot()
        }
    }
}
