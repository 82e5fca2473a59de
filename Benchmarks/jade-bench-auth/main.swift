// Micro-benchmarks of authentication and authorization (issue 3), in one process on a fresh
// database: cached permission check, uncached check against SQLite, API-key authentication on a
// warm cache, Argon2id hash time at the configured parameters. Run: scripts/bench-auth.sh
import Foundation
import JadeAuth
import JadeConfig
import JadeShared
import JadeStore
import Logging

func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Runs `body` `batches` times `perBatch` times; returns per-call nanoseconds (median, p95) of batches.
func measure(_ name: String, batches: Int, perBatch: Int, _ body: () throws -> Void) rethrows {
    var samples: [Double] = []
    for _ in 0..<batches {
        let start = nanoseconds()
        for _ in 0..<perBatch { try body() }
        samples.append(Double(nanoseconds() - start) / Double(perBatch))
    }
    samples.sort()
    let median = samples[samples.count / 2]
    let p95 = samples[min(samples.count - 1, samples.count * 95 / 100)]
    print(
        name.padding(toLength: 46, withPad: " ", startingAt: 0)
            + String(format: "median %12.1f ns   p95 %12.1f ns", median, p95))
}

let dir = NSTemporaryDirectory() + "jade-bench-auth-" + UUID().uuidString
try FileManager.default.createDirectory(atPath: dir + "/config", withIntermediateDirectories: true)
try "{}".write(toFile: dir + "/config/development.json", atomically: true, encoding: .utf8)
defer { try? FileManager.default.removeItem(atPath: dir) }
let config = JadeConfiguration(
    try ConfigLoader.load(environment: [
        "JADEVECTORDB_CONFIG_DIR": dir + "/config", "JADEVECTORDB_DATA_DIR": dir + "/data",
    ]))
try DataDirectory.prepare(config.database.dataDirectory)
let store = try Store.open(config.database, readerCount: 2)
try store.migrate(Schema(Schema.foundation, AuthSchema.migrations))
// The epochs live in a shared-memory segment, as in a worker.
let epochs = SharedEpochs(try SharedSegment.create())
let auth = AuthServices(
    pool: store.pool, settings: AuthSettings(config), epochs: epochs, logger: Logger(label: "bench"))
let admin = Principal(userID: 0, username: "bench", credential: .session(id: 0), restriction: nil)
let user = try auth.accounts.register(username: "reader", password: "reader-password", email: nil, ip: nil)
try auth.directory.setACL(
    database: "docs", principal: "user:\(user.id)", permission: .databaseRead, granted: true, actor: admin, ip: nil)
let token = try auth.authenticator.login(username: "reader", password: "reader-password", totp: nil, ip: nil).token
let principal = try auth.authenticator.authenticate(.session(token), ip: nil)
let (key, _) = try auth.accounts.createAPIKey(principal, name: "bench", expiresInDays: nil, permissions: nil, ip: nil)
_ = try auth.authenticator.authenticate(.apiKey(key), ip: nil)
_ = try auth.authorizer.authorize(principal, .databaseRead, database: "docs")

var sink = 0
measure("cached permission check", batches: 200, perBatch: 10_000) {
    if auth.authorizer.cachedDecision(principal, .databaseRead, database: "docs") == true { sink &+= 1 }
}
measure("uncached permission check (SQLite)", batches: 200, perBatch: 20) {
    if try! auth.authorizer.authorize(principal, .databaseRead, database: "docs") { sink &+= 1 }
}
measure("API key authentication, warm cache", batches: 200, perBatch: 2_000) {
    if auth.authenticator.cachedPrincipal(for: .apiKey(key)) != nil { sink &+= 1 }
}
measure("session authentication, warm cache", batches: 200, perBatch: 2_000) {
    if auth.authenticator.cachedPrincipal(for: .session(token)) != nil { sink &+= 1 }
}
measure("API key authentication, cache miss (SQLite)", batches: 200, perBatch: 20) {
    if (try? auth.authenticator.authenticate(.apiKey(key), ip: nil)) != nil { sink &+= 1 }
}
measure("session authentication, cache miss (SQLite)", batches: 200, perBatch: 20) {
    if (try? auth.authenticator.authenticate(.session(token), ip: nil)) != nil { sink &+= 1 }
}
let hasher = auth.core.hasher
let p = hasher.parameters
measure("Argon2id hash (m=\(p.memoryKiB) KiB, t=\(p.iterations), p=\(p.parallelism))", batches: 10, perBatch: 1) {
    _ = try! hasher.hash("correct horse battery staple")
}
print("(checksum \(sink))")
