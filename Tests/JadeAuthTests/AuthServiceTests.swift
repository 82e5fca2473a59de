import Foundation
import JadeConfig
import JadeStore
import Logging
import Testing

@testable import JadeAuth

/// An AuthServices over a fresh database in a temporary directory.
final class AuthFixture {
    let directory: String
    let store: Store
    let auth: AuthServices
    let epochs = LocalEpochs()

    init(environment: [String: String] = [:]) throws {
        directory = NSTemporaryDirectory() + "jadeauth-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configDir = directory + "/config"
        try FileManager.default.createDirectory(atPath: configDir, withIntermediateDirectories: true)
        try "{}".write(toFile: configDir + "/development.json", atomically: true, encoding: .utf8)
        var env = ["JADEVECTORDB_CONFIG_DIR": configDir, "JADEVECTORDB_DATA_DIR": directory + "/data"]
        for (k, v) in environment { env[k] = v }
        let config = JadeConfiguration(try ConfigLoader.load(environment: env))
        try DataDirectory.prepare(config.database.dataDirectory)
        store = try Store.open(config.database, readerCount: 2)
        try store.migrate(Schema(Schema.foundation, AuthSchema.migrations))
        auth = AuthServices(
            pool: store.pool, settings: AuthSettings(config), epochs: epochs, logger: Logger(label: "test"))
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func principal(_ token: String) throws -> Principal {
        try auth.authenticator.authenticate(.session(token), ip: nil)
    }
}

@Suite struct AuthServiceTests {
    @Test func loginLogoutAndUniformFailures() throws {
        let f = try AuthFixture()
        _ = try f.auth.accounts.register(username: "alice", password: "alice-password", email: "a@example.com", ip: nil)
        #expect(throws: AuthError.conflict("username is taken")) {
            try f.auth.accounts.register(username: "ALICE", password: "alice-password", email: nil, ip: nil)
        }
        #expect(throws: AuthError.unauthenticated) {
            try f.auth.authenticator.login(username: "alice", password: "nope", totp: nil, ip: nil)
        }
        #expect(throws: AuthError.unauthenticated) {
            try f.auth.authenticator.login(username: "nobody", password: "nope", totp: nil, ip: nil)
        }
        let result = try f.auth.authenticator.login(username: "alice", password: "alice-password", totp: nil, ip: nil)
        let p = try f.principal(result.token)
        #expect(p.username == "alice")
        #expect(f.auth.authenticator.cachedPrincipal(for: .session(result.token)) == p)
        try f.auth.authenticator.logout(p, ip: nil)
        #expect(f.auth.authenticator.cachedPrincipal(for: .session(result.token)) == nil)
        #expect(throws: AuthError.unauthenticated) { try f.principal(result.token) }
    }

    @Test func accountsLockAfterTheThreshold() throws {
        let f = try AuthFixture(environment: ["JADEVECTORDB_AUTHENTICATION_MAX_FAILED_LOGINS_PER_ACCOUNT": "3"])
        _ = try f.auth.accounts.register(username: "bob", password: "bob-password-1", email: nil, ip: nil)
        for _ in 0..<3 { _ = try? f.auth.authenticator.login(username: "bob", password: "wrong", totp: nil, ip: nil) }
        #expect(throws: AuthError.unauthenticated) {
            try f.auth.authenticator.login(username: "bob", password: "bob-password-1", totp: nil, ip: nil)
        }
        try f.auth.directory.unlockUser(username: "bob", actor: "test", ip: nil)
        _ = try f.auth.authenticator.login(username: "bob", password: "bob-password-1", totp: nil, ip: nil)
    }

    @Test func revokedGrantsAreNeverServedFromCache() throws {
        let f = try AuthFixture()
        let admin = Principal(userID: 0, username: "root", credential: .session(id: 0), restriction: nil)
        let user = try f.auth.accounts.register(username: "carol", password: "carol-password", email: nil, ip: nil)
        let token = try f.auth.authenticator.login(username: "carol", password: "carol-password", totp: nil, ip: nil)
            .token
        let carol = try f.principal(token)
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "docs") == false)
        // Grant through a role, a group ACL and a user ACL in turn; revoke; never a stale answer.
        try f.auth.directory.setUserRole(userID: user.id, role: "viewer", assigned: true, actor: admin, ip: nil)
        #expect(f.auth.authorizer.cachedDecision(carol, .databaseRead, database: "docs") == nil)
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "docs"))
        #expect(f.auth.authorizer.cachedDecision(carol, .databaseRead, database: "docs") == true)
        try f.auth.directory.setUserRole(userID: user.id, role: "viewer", assigned: false, actor: admin, ip: nil)
        #expect(f.auth.authorizer.cachedDecision(carol, .databaseRead, database: "docs") == nil)
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "docs") == false)

        try f.auth.directory.createGroup(name: "team", actor: admin, ip: nil)
        try f.auth.directory.setGroupMember(group: "team", userID: user.id, member: true, actor: admin, ip: nil)
        try f.auth.directory.setACL(
            database: "docs", principal: "group:team", permission: .databaseWrite, granted: true,
            actor: admin, ip: nil)
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "docs"))
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "other") == false)
        try f.auth.directory.setACL(
            database: "docs", principal: "group:team", permission: .databaseWrite, granted: false,
            actor: admin, ip: nil)
        #expect(f.auth.authorizer.cachedDecision(carol, .databaseRead, database: "docs") == nil)
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "docs") == false)

        try f.auth.directory.setACL(
            database: "docs", principal: "user:\(user.id)", permission: .databaseRead, granted: true,
            actor: admin, ip: nil)
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "docs"))
        _ = try f.auth.directory.updateUser(
            id: user.id, active: false, email: .none, password: nil, actor: admin, ip: nil)
        #expect(f.auth.authorizer.cachedDecision(carol, .databaseRead, database: "docs") == nil)
        #expect(throws: AuthError.unauthenticated) { try f.principal(token) }
        #expect(try f.auth.authorizer.authorize(carol, .databaseRead, database: "docs") == false)
    }

    @Test func apiKeysAreMaskedAndRevocable() throws {
        let f = try AuthFixture()
        let admin = Principal(userID: 0, username: "root", credential: .session(id: 0), restriction: nil)
        let user = try f.auth.accounts.register(username: "dave", password: "dave-password", email: nil, ip: nil)
        try f.auth.directory.setUserRole(userID: user.id, role: "editor", assigned: true, actor: admin, ip: nil)
        let session = try f.principal(
            try f.auth.authenticator.login(username: "dave", password: "dave-password", totp: nil, ip: nil).token)
        let (key, info) = try f.auth.accounts.createAPIKey(
            session, name: "reader", expiresInDays: 30, permissions: [.databaseRead], ip: nil)
        let viaKey = try f.auth.authenticator.authenticate(.apiKey(key), ip: nil)
        #expect(try f.auth.authorizer.authorize(viaKey, .databaseRead, database: "x"))
        #expect(try f.auth.authorizer.authorize(viaKey, .databaseWrite, database: "x") == false)  // masked
        #expect(try f.auth.authorizer.authorize(session, .databaseWrite, database: "x"))
        #expect(try f.auth.accounts.listAPIKeys(userID: user.id).map(\.prefix) == [String(key.prefix(12))])
        try f.auth.accounts.revokeAPIKey(session, id: info.id, mayManageUsers: false, ip: nil)
        #expect(f.auth.authenticator.cachedPrincipal(for: .apiKey(key)) == nil)
        #expect(throws: AuthError.unauthenticated) { try f.auth.authenticator.authenticate(.apiKey(key), ip: nil) }
    }

    @Test func passwordResetIsSingleUse() throws {
        let f = try AuthFixture(environment: ["JADEVECTORDB_AUTHENTICATION_PASSWORD_RESET_DELIVERY": "spool"])
        _ = try f.auth.accounts.register(
            username: "erin", password: "erin-password", email: "erin@example.com", ip: nil)
        try f.auth.accounts.requestPasswordReset(username: nil, email: "erin@example.com", ip: nil)
        try f.auth.accounts.requestPasswordReset(username: "ghost", email: nil, ip: nil)  // no error, nothing sent
        let spool = f.auth.settings.resetSpoolDirectory
        let files = try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasSuffix(".json") }
        #expect(files.count == 1)
        let message =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: spool + "/" + files[0])))
            as! [String: Any]
        let token = message["token"] as! String
        try f.auth.accounts.confirmPasswordReset(token: token, newPassword: "erin-new-password", ip: nil)
        #expect(throws: AuthError.invalid("the reset token is invalid or expired")) {
            try f.auth.accounts.confirmPasswordReset(token: token, newPassword: "erin-other-password", ip: nil)
        }
        _ = try f.auth.authenticator.login(username: "erin", password: "erin-new-password", totp: nil, ip: nil)
    }
}
