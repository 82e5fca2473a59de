import Foundation
import JadeAuth
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Authentication and authorization against the real multi-worker server.
    @Suite struct Auth {
        static let adminPassword = "admin-password-for-tests"

        func start(workers: Int = 3, environment: [String: String] = [:]) throws -> (ServerProcess, APIClient) {
            var env = ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword]
            for (k, v) in environment { env[k] = v }
            let server = try ServerProcess(workers: workers, environment: env)
            try server.waitHealthy()
            return (server, APIClient(port: server.port))
        }

        @Test func registerLoginMeLogoutOnEveryWorker() throws {
            let (server, api) = try start()
            let created = try api.call(
                "POST", "/v1/auth/register", ["username": "alice", "password": "alice-password-1"])
            #expect(created.status == 201)
            #expect((created.json?["user"] as? [String: Any])?["roles"] as? [String] == [])
            #expect(
                try api.call("POST", "/v1/auth/register", ["username": "alice", "password": "alice-password-2"]).status
                    == 409)
            let weak = try api.call("POST", "/v1/auth/register", ["username": "weakling", "password": "short"])
            #expect(weak.status == 422)
            #expect(weak.errorCode == "weak_password")
            #expect(try api.call("POST", "/v1/auth/register", ["username": "x", "password": 5]).status == 400)

            let token = try api.login("alice", "alice-password-1")
            let me = try api.call("GET", "/v1/auth/me", as: .bearer(token))
            #expect(me.status == 200)
            #expect((me.json?["user"] as? [String: Any])?["username"] as? String == "alice")
            #expect(
                try api.statusOnEverySlot("GET", "/v1/auth/me", as: .bearer(token), workers: 3).values.allSatisfy {
                    $0 == 200
                })
            #expect(try api.call("POST", "/v1/auth/logout", as: .bearer(token)).status == 204)
            // The token stops working on every worker at once.
            #expect(
                try api.statusOnEverySlot("GET", "/v1/auth/me", as: .bearer(token), workers: 3).values.allSatisfy {
                    $0 == 401
                })
            // Malformed credentials never reach the database and get the same 401.
            let garbage = try api.call("GET", "/v1/auth/me", headers: ["Authorization": "Bearer ' OR 1=1 --"])
            #expect(garbage.status == 401)
            #expect(garbage.errorCode == "unauthenticated")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func unknownUserAndWrongPasswordLookTheSame() throws {
            let (server, api) = try start(workers: 2)
            let admin = try api.login("admin", Self.adminPassword)
            _ = admin
            let wrong = try api.call("POST", "/v1/auth/login", ["username": "admin", "password": "not-the-password"])
            let unknown = try api.call(
                "POST", "/v1/auth/login", ["username": "nobody-here", "password": "not-the-password"])
            #expect(wrong.status == 401 && unknown.status == 401)
            #expect(wrong.body == unknown.body)
            let resetKnown = try api.call("POST", "/v1/auth/password-reset/request", ["username": "admin"])
            let resetUnknown = try api.call("POST", "/v1/auth/password-reset/request", ["username": "nobody-here"])
            #expect(resetKnown.status == 202 && resetUnknown.status == 202)
            #expect(resetKnown.body == resetUnknown.body)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func revokedGrantIsRefusedByEveryWorkerOnTheNextRequest() throws {
            let (server, api) = try start()
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let created = try api.call(
                "POST", "/v1/admin/users", ["username": "mia", "password": "mia-password-1"], as: admin)
            let id = try #require((created.json?["user"] as? [String: Any])?["id"] as? Int)
            let mia = APIClient.Credential.bearer(try api.login("mia", "mia-password-1"))
            #expect(
                try api.statusOnEverySlot("GET", "/v1/admin/users", as: mia, workers: 3).values.allSatisfy { $0 == 403 }
            )
            // Grant users:manage through a custom role; every worker (caches warm with 403) sees it.
            #expect(
                try api.call(
                    "POST", "/v1/admin/roles", ["name": "managers", "permissions": ["users:manage"]], as: admin
                ).status == 201)
            #expect(try api.call("PUT", "/v1/admin/users/\(id)/roles/managers", as: admin).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/admin/users", as: mia, workers: 3).values.allSatisfy { $0 == 200 }
            )
            // Revoke the role's permission (a global change): the very next request is 403 everywhere.
            #expect(
                try api.call("DELETE", "/v1/admin/roles/managers/permissions/users:manage", as: admin).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/admin/users", as: mia, workers: 3).values.allSatisfy { $0 == 403 }
            )
            // Back through the role, then remove the role from the user (a per-user change).
            #expect(try api.call("PUT", "/v1/admin/roles/managers/permissions/users:manage", as: admin).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/admin/users", as: mia, workers: 3).values.allSatisfy { $0 == 200 }
            )
            #expect(try api.call("DELETE", "/v1/admin/users/\(id)/roles/managers", as: admin).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/admin/users", as: mia, workers: 3).values.allSatisfy { $0 == 403 }
            )
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func apiKeysWorkAndRevocationAndDeactivationAreImmediate() throws {
            let (server, api) = try start()
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let created = try api.call(
                "POST", "/v1/admin/users", ["username": "ned", "password": "ned-password-1", "roles": ["admin"]],
                as: admin)
            let id = try #require((created.json?["user"] as? [String: Any])?["id"] as? Int)
            let ned = APIClient.Credential.bearer(try api.login("ned", "ned-password-1"))
            let keyReply = try api.call("POST", "/v1/api-keys", ["name": "automation"], as: ned)
            #expect(keyReply.status == 201)
            let key = try #require(keyReply.json?["key"] as? String)
            let keyID = try #require(keyReply.json?["id"] as? Int)
            let listed = try api.call("GET", "/v1/api-keys", as: ned)
            #expect(!listed.text.contains(key))
            #expect(
                try api.statusOnEverySlot("GET", "/v1/admin/users", as: .apiKey(key), workers: 3).values.allSatisfy {
                    $0 == 200
                })
            #expect(try api.call("DELETE", "/v1/api-keys/\(keyID)", as: ned).status == 204)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/admin/users", as: .apiKey(key), workers: 3).values.allSatisfy {
                    $0 == 401
                })

            let second = try #require(
                try api.call("POST", "/v1/api-keys", ["name": "second"], as: ned).json?["key"] as? String)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/auth/me", as: .apiKey(second), workers: 3).values.allSatisfy {
                    $0 == 200
                })
            #expect(try api.call("PATCH", "/v1/admin/users/\(id)", ["active": false], as: admin).status == 200)
            #expect(
                try api.statusOnEverySlot("GET", "/v1/auth/me", as: .apiKey(second), workers: 3).values.allSatisfy {
                    $0 == 401
                })
            #expect(
                try api.statusOnEverySlot("GET", "/v1/auth/me", as: ned, workers: 3).values.allSatisfy { $0 == 401 })
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
            // Secrets and credentials never reach the log.
            for secret in [key, second, Self.adminPassword, "ned-password-1"] { #expect(!server.log.contains(secret)) }
        }

        @Test func lockoutAndCommandLineUnlock() throws {
            let (server, api) = try start(
                workers: 2, environment: ["JADEVECTORDB_AUTHENTICATION_MAX_FAILED_LOGINS_PER_ACCOUNT": "3"])
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            _ = try api.call("POST", "/v1/admin/users", ["username": "olga", "password": "olga-password-1"], as: admin)
            for _ in 0..<3 {
                #expect(
                    try api.call("POST", "/v1/auth/login", ["username": "olga", "password": "wrong-password"]).status
                        == 401)
            }
            #expect(
                try api.call("POST", "/v1/auth/login", ["username": "olga", "password": "olga-password-1"]).status
                    == 401)
            let unlock = try runCommand(
                ["admin", "unlock-user", "--username", "olga"],
                environment: ["JADEVECTORDB_DATA_DIR": server.dataDirectory])
            #expect(unlock.status == 0, "\(unlock.output)")
            _ = try api.login("olga", "olga-password-1")
            let audit = try api.call("GET", "/v1/admin/audit-log?type=account_locked", as: admin)
            #expect((audit.json?["events"] as? [Any])?.count == 1)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func passwordResetThroughTheDevelopmentSink() throws {
            let (server, api) = try start(workers: 2)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            _ = try api.call(
                "POST", "/v1/admin/users",
                ["username": "pat", "password": "pat-password-1", "email": "pat@example.com"], as: admin)
            let oldSession = APIClient.Credential.bearer(try api.login("pat", "pat-password-1"))
            #expect(try api.call("POST", "/v1/auth/password-reset/request", ["email": "pat@example.com"]).status == 202)
            var token: String?
            let deadline = Date().addingTimeInterval(5)
            while token == nil && Date() < deadline {
                if let line = server.log.split(separator: "\n").last(where: { $0.contains("reset_token") }),
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                {
                    token = object["reset_token"] as? String
                }
                usleep(50_000)
            }
            let reset = try #require(token)
            let confirm = try api.call(
                "POST", "/v1/auth/password-reset/confirm", ["token": reset, "new_password": "pat-password-2"])
            #expect(confirm.status == 204)
            #expect(
                try api.call(
                    "POST", "/v1/auth/password-reset/confirm", ["token": reset, "new_password": "pat-password-3"]
                ).status == 400)
            #expect(try api.call("GET", "/v1/auth/me", as: oldSession).status == 401)
            _ = try api.login("pat", "pat-password-2")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func twoFactorEnrolmentAndLogin() throws {
            let (server, api) = try start(workers: 2)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            _ = try api.call(
                "POST", "/v1/admin/users", ["username": "quinn", "password": "quinn-password-1"], as: admin)
            let quinn = APIClient.Credential.bearer(try api.login("quinn", "quinn-password-1"))
            let enrol = try api.call("POST", "/v1/auth/2fa/enroll", as: quinn)
            #expect(enrol.status == 201)
            let uri = try #require(enrol.json?["otpauth_uri"] as? String)
            let base32 = try #require(URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value)
            let secret = try #require(Self.decodeBase32(base32))
            let now = Date().timeIntervalSince1970
            let code = TOTP.code(secret: secret, counter: TOTP.counter(at: now))
            #expect(try api.call("POST", "/v1/auth/2fa/verify", ["code": code], as: quinn).status == 204)
            let needsCode = try api.call(
                "POST", "/v1/auth/login", ["username": "quinn", "password": "quinn-password-1"])
            #expect(needsCode.status == 401)
            #expect(needsCode.errorCode == "totp_required")
            // The code used for enrolment cannot be used again; the next step's code works.
            #expect(
                try api.call(
                    "POST", "/v1/auth/login", ["username": "quinn", "password": "quinn-password-1", "totp": code]
                ).status == 401)
            let next = TOTP.code(secret: secret, counter: TOTP.counter(at: now) + 1)
            _ = try api.login("quinn", "quinn-password-1", totp: next)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// The way back for a locked-out operator: `admin reset-2fa` for a lost device and
        /// `admin grant-role` for a lost administrator, honoured by every worker of the running
        /// server at once, each an audit event by `cli`.
        @Test func commandLineRecoveryOfTwoFactorAndAdministrator() throws {
            let (server, api) = try start(workers: 2)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            _ = try api.call("POST", "/v1/admin/users", ["username": "rita", "password": "rita-password-1"], as: admin)
            let rita = APIClient.Credential.bearer(try api.login("rita", "rita-password-1"))
            let enrol = try api.call("POST", "/v1/auth/2fa/enroll", as: rita)
            let uri = try #require(enrol.json?["otpauth_uri"] as? String)
            let base32 = try #require(URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value)
            let secret = try #require(Self.decodeBase32(base32))
            let code = TOTP.code(secret: secret, counter: TOTP.counter(at: Date().timeIntervalSince1970))
            #expect(try api.call("POST", "/v1/auth/2fa/verify", ["code": code], as: rita).status == 204)
            #expect(
                try api.call("POST", "/v1/auth/login", ["username": "rita", "password": "rita-password-1"]).errorCode
                    == "totp_required")
            // Not an administrator: the admin routes are refused on every worker.
            #expect(Set(try api.statusOnEverySlot("GET", "/v1/admin/users", as: rita, workers: 2).values) == [403])

            let cli = ["JADEVECTORDB_DATA_DIR": server.dataDirectory]
            let reset = try runCommand(["admin", "reset-2fa", "--username", "rita"], environment: cli)
            #expect(reset.status == 0, "\(reset.output)")
            // Her sessions ended (the server notices the command within a second); the
            // password alone logs in now.
            try waitUntil("the old session ends on every worker", timeout: 5) {
                Set(try api.statusOnEverySlot("GET", "/v1/auth/me", as: rita, workers: 2).values) == [401]
            }
            let fresh = APIClient.Credential.bearer(try api.login("rita", "rita-password-1"))
            let grant = try runCommand(
                ["admin", "grant-role", "--username", "rita", "--role", "admin"], environment: cli)
            #expect(grant.status == 0, "\(grant.output)")
            try waitUntil("every worker sees the new role", timeout: 5) {
                Set(try api.statusOnEverySlot("GET", "/v1/admin/users", as: fresh, workers: 2).values) == [200]
            }
            #expect(
                try runCommand(["admin", "grant-role", "--username", "rita", "--role", "no-such"], environment: cli)
                    .status == 1)
            #expect(try runCommand(["admin", "reset-2fa", "--username", "nobody"], environment: cli).status == 1)
            let audit = try api.call("GET", "/v1/admin/audit-log?type=totp_reset", as: admin)
            let events = try #require(audit.json?["events"] as? [[String: Any]])
            #expect(events.count == 1 && events.first?["actor"] as? String == "cli")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        @Test func bootstrapRules() throws {
            let dir = TemporaryDirectory()
            let production = try runCommand(
                ["serve"] + allowRootIfRoot,
                environment: [
                    "JADEVECTORDB_ENV": "production", "JADEVECTORDB_DATA_DIR": dir.path + "/prod",
                    "JADEVECTORDB_HOST": "127.0.0.1", "JADEVECTORDB_PORT": "0",
                    "JADEVECTORDB_TOTP_ENCRYPTION_KEY": "0123456789abcdef0123456789abcdef",
                ])
            #expect(production.status == 2)
            #expect(production.output.contains("JADEVECTORDB_ADMIN_PASSWORD"), "\(production.output)")
            let server = try ServerProcess(workers: 1, directory: dir)
            try server.waitHealthy()
            #expect(server.log.contains("created the bootstrap user"))
            let password = try String(
                contentsOfFile: server.dataDirectory + "/bootstrap-admin-password", encoding: .utf8
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try APIClient(port: server.port).login("admin", password)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        static func decodeBase32(_ text: String) -> Data? {
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
            var bits: UInt32 = 0
            var count = 0
            var out = Data()
            for c in text {
                guard let v = alphabet.firstIndex(of: c) else { return nil }
                bits = (bits << 5) | UInt32(v)
                count += 5
                if count >= 8 {
                    out.append(UInt8((bits >> UInt32(count - 8)) & 0xff))
                    count -= 8
                }
            }
            return out
        }
    }
}
