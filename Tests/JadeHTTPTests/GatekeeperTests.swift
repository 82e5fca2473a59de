import Foundation
import JadeAuth
import JadeConfig
import JadeCore
import JadeShared
import JadeStore
import JadeTransport
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import JadeHTTP

/// The gatekeeper on its own: credentials read from the head, decisions answered from the
/// caches on the event loop or from the database on the thread pool, revocations, restricted
/// keys and the per-credential limit.
@Suite(.serialized) struct GatekeeperTests {
    /// One worker's gatekeeper over a fresh database: a loop, a thread pool, the auth services.
    final class Fixture {
        let directory = NSTemporaryDirectory() + "jadegate-" + UUID().uuidString
        let store: Store
        let auth: AuthServices
        let gatekeeper: Gatekeeper
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 1)

        init(environment: [String: String] = [:]) throws {
            let base = try AuthWorkerFixture(directory: directory, environment: environment)
            let (config, segment) = (base.config, base.segment)
            store = base.store
            auth = base.auth
            let requestGuard = RequestGuard(
                config: config, segment: segment, ipBlocks: auth.ipBlocks, logger: Logger(label: "guard"))
            pool.start()
            gatekeeper = Gatekeeper(
                authenticator: auth.authenticator, authorizer: auth.authorizer, threadPool: pool,
                requestGuard: requestGuard)
        }

        deinit {
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// A user holding `roles`, logged in: the session token and the user's id.
        func session(_ name: String, roles: [String]) throws -> (token: String, id: Int64) {
            let user = try auth.directory.createUser(
                username: name, password: "\(name)-password-1", email: nil, roles: roles, actor: .system("test"),
                ip: nil)
            let login = try auth.authenticator.login(
                username: name, password: "\(name)-password-1", totp: nil, ip: nil)
            return (login.token, user.id)
        }

        func request(_ headers: [(String, String)], database: String? = nil) -> RequestContext {
            RequestContext(
                head: HTTPRequestHead(
                    version: .http1_1, method: .GET, uri: "/x", headers: HTTPHeaders(headers)),
                path: "/x", query: nil, body: nil, parameters: database.map { ["name": $0] } ?? [:],
                requestID: "r-1", eventLoop: group.next(), clientAddress: IPAddress("127.0.0.1"),
                connectionPeer: nil, startedAt: .now(), principal: nil, threadPool: pool)
        }
    }

    /// How a decision came: on the loop from the caches, or later from the database.
    enum Outcome {
        case allowedAtOnce(Principal, RateLimitDecision?)
        case allowedLater(Principal, RateLimitDecision?)
        case refused(HTTPResponse, atOnce: Bool)

        var status: UInt {
            switch self {
            case .allowedAtOnce, .allowedLater: return 200
            case .refused(let response, _): return response.status.code
            }
        }

        var code: String? {
            guard case .refused(let response, _) = self,
                case .object(let body)? = try? JSONParser.parse(Data(response.body.readableBytesView)),
                case .object(let error)? = body["error"], case .string(let code)? = error["code"]
            else { return nil }
            return code
        }
    }

    func admit(_ f: Fixture, _ policy: AccessPolicy, _ headers: [(String, String)], database: String? = nil) throws
        -> Outcome
    {
        switch f.gatekeeper.admit(policy, f.request(headers, database: database)) {
        case .allowed(let principal, let decision): return .allowedAtOnce(principal, decision)
        case .denied(let response): return .refused(response, atOnce: true)
        case .pending(let future):
            switch try future.wait() {
            case .success(let (principal, decision)): return .allowedLater(principal, decision)
            case .failure(let error): return .refused(error.response, atOnce: false)
            }
        }
    }

    static func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

    @Test func aMissingOrMalformedCredentialIsRefusedOnTheLoop() throws {
        let f = try Fixture()
        for headers in [
            [], [("Authorization", "Bearer")], [("Authorization", "Basic dXNlcjpwYXNz")],
            [("Authorization", "Bearer not-a-token")], [("X-API-Key", "jvdb_short")],
        ] as [[(String, String)]] {
            let outcome = try admit(f, .authenticated(allowing: []), headers)
            guard case .refused(_, atOnce: true) = outcome else {
                Issue.record("\(headers) was not refused on the loop")
                continue
            }
            #expect(outcome.status == 401 && outcome.code == "unauthenticated", "\(headers)")
        }
        // A well-formed token nobody issued goes to the database, and is refused there.
        let unknown = try admit(f, .authenticated(allowing: []), Self.bearer(Tokens.generate(.session)))
        #expect(unknown.status == 401)
    }

    @Test func theFirstRequestAsksTheDatabaseAndTheNextIsAnsweredFromTheCaches() throws {
        let f = try Fixture()
        let (token, _) = try f.session("reader", roles: ["viewer"])
        let first = try admit(f, .global(.databaseRead), Self.bearer(token))
        guard case .allowedLater(let principal, _) = first else {
            Issue.record("first request: \(first)")
            return
        }
        #expect(principal.username == "reader")
        let second = try admit(f, .global(.databaseRead), Self.bearer(token))
        guard case .allowedAtOnce = second else {
            Issue.record("second request was not answered from the caches: \(second)")
            return
        }
        // A permission the user lacks is refused (and the refusal is cached too).
        for _ in 0..<2 {
            let refused = try admit(f, .global(.databasesCreate), Self.bearer(token))
            #expect(refused.status == 403 && refused.code == "forbidden")
        }
    }

    @Test func aRevokedRoleIsNeverServedFromTheCache() throws {
        let f = try Fixture()
        let (token, id) = try f.session("editor1", roles: ["editor"])
        for _ in 0..<2 { #expect(try admit(f, .global(.databasesCreate), Self.bearer(token)).status == 200) }
        try f.auth.directory.setUserRole(
            userID: id, role: "editor", assigned: false, actor: .system("test"), ip: nil)
        let after = try admit(f, .global(.databasesCreate), Self.bearer(token))
        #expect(after.status == 403, "a revoked grant was served: \(after)")
        // Deactivation ends the credential itself.
        _ = try f.auth.directory.updateUser(
            id: id, active: false, email: nil, password: nil, actor: .system("test"), ip: nil)
        #expect(try admit(f, .authenticated(allowing: []), Self.bearer(token)).status == 401)
    }

    @Test func aKeyWithAPermissionListReachesOnlyItsPermissionsAndNeverTheAccount() throws {
        let f = try Fixture()
        let (token, _) = try f.session("owner", roles: ["editor"])
        let owner = try f.auth.authenticator.authenticate(.session(token), ip: nil)
        let (key, _) = try f.auth.accounts.createAPIKey(
            owner, name: "read only", expiresInDays: nil, permissions: [.databaseRead], ip: nil)
        let headers = [("X-API-Key", key)]
        #expect(try admit(f, .global(.databaseRead), headers).status == 200)
        #expect(try admit(f, .database(.databaseRead, parameter: "name"), headers, database: "films").status == 200)
        #expect(try admit(f, .global(.databasesCreate), headers).status == 403)
        #expect(try admit(f, .database(.databaseWrite, parameter: "name"), headers, database: "films").status == 403)
        let account = try admit(f, .account(allowing: []), headers)
        #expect(account.status == 403 && account.code == "forbidden")
        // The owner's session still reaches the account.
        #expect(try admit(f, .account(allowing: []), Self.bearer(token)).status == 200)
    }

    @Test func thePerCredentialLimitRefusesWithRetryAfter() throws {
        let f = try Fixture(environment: [
            "JADEVECTORDB_RATE_LIMITS_API_LIMIT": "3", "JADEVECTORDB_RATE_LIMITS_API_PERIOD_SECONDS": "3600",
        ])
        let (token, _) = try f.session("busy", roles: ["viewer"])
        var statuses: [UInt] = []
        var lastRemaining: Int?
        for _ in 0..<5 {
            let outcome = try admit(f, .global(.databaseRead), Self.bearer(token))
            statuses.append(outcome.status)
            switch outcome {
            case .allowedAtOnce(_, let d), .allowedLater(_, let d): lastRemaining = d?.remaining
            case .refused(let response, _):
                #expect(outcome.code == "rate_limited")
                #expect(response.headers.contains { $0.0.lowercased() == "retry-after" })
            }
        }
        #expect(statuses == [200, 200, 200, 429, 429])
        #expect(lastRemaining == 0)
        // Another user has a bucket of their own.
        let (other, _) = try f.session("calm", roles: ["viewer"])
        #expect(try admit(f, .global(.databaseRead), Self.bearer(other)).status == 200)
    }
}
