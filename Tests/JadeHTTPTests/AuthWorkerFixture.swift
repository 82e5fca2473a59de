import Foundation
import JadeAuth
import JadeConfig
import JadeShared
import JadeStore
import Logging

/// What one worker's auth layer stands on, over a fresh database in `directory`: the
/// configuration (development defaults and `environment`), the store with the auth tables,
/// a shared segment and the auth services using its epochs.
struct AuthWorkerFixture {
    let config: JadeConfiguration
    let store: Store
    let segment: SharedSegment
    let auth: AuthServices

    init(directory: String, environment: [String: String]) throws {
        let configDir = directory + "/config"
        try FileManager.default.createDirectory(atPath: configDir, withIntermediateDirectories: true)
        try "{}".write(toFile: configDir + "/development.json", atomically: true, encoding: .utf8)
        var env = ["JADEVECTORDB_CONFIG_DIR": configDir, "JADEVECTORDB_DATA_DIR": directory + "/data"]
        for (k, v) in environment { env[k] = v }
        config = JadeConfiguration(try ConfigLoader.load(environment: env))
        try DataDirectory.prepare(config.database.dataDirectory)
        store = try Store.open(config.database, readerCount: 2)
        try store.migrate(Schema(Schema.foundation, AuthSchema.migrations))
        segment = try SharedSegment.create(rateLimitCapacity: 1024)
        auth = AuthServices(
            pool: store.pool, settings: AuthSettings(config), epochs: SharedEpochs(segment),
            logger: Logger(label: "test"))
    }
}
