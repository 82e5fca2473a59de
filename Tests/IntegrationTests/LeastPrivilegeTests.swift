import Foundation
import JadeAuth
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Least privilege, tried as an attacker holding a restricted credential would.
    @Suite struct LeastPrivilege {
        static let adminPassword = "admin-password-for-tests"

        /// An API key limited to `database:read` can read databases and nothing on its owner's
        /// account: no password change, no 2FA, no listing, creating or revoking keys.
        @Test func aRestrictedKeyCannotActOnItsOwnersAccount() throws {
            let server = try ServerProcess(workers: 2, environment: ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword])
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            #expect(
                try api.call("POST", "/v1/databases", ["name": "docs", "dimension": 2, "metric": "dot"], as: admin)
                    .status == 201)
            let created = try api.call(
                "POST", "/v1/api-keys", ["name": "reader", "permissions": ["database:read"]], as: admin)
            let key = APIClient.Credential.apiKey(try #require(created.json?["key"] as? String))
            let keyID = try #require(created.json?["id"] as? Int)
            // What the key is for works.
            #expect(try api.call("GET", "/v1/databases/docs", as: key).status == 200)
            #expect(try api.call("GET", "/v1/auth/me", as: key).status == 200)
            // Every account route is refused, and changes nothing.
            let attempts: [(String, String, [String: Any]?)] = [
                (
                    "POST", "/v1/auth/password",
                    ["current_password": Self.adminPassword, "new_password": "taken-over-1234"]
                ),
                ("POST", "/v1/auth/2fa/enroll", nil),
                ("POST", "/v1/auth/2fa/verify", ["code": "123456"]),
                ("DELETE", "/v1/auth/2fa", ["code": "123456"]),
                ("GET", "/v1/api-keys", nil),
                ("POST", "/v1/api-keys", ["name": "escalated"]),
                ("DELETE", "/v1/api-keys/\(keyID)", nil),
            ]
            for (method, path, body) in attempts {
                let reply = try api.call(method, path, body, as: key)
                #expect(reply.status == 403, "\(method) \(path): \(reply.status) \(reply.text)")
                #expect(reply.errorCode == "forbidden", "\(method) \(path)")
            }
            // The owner's password still works and the key still exists.
            _ = try api.login("admin", Self.adminPassword)
            let keys = try api.call("GET", "/v1/api-keys", as: admin)
            #expect((keys.json?["api_keys"] as? [[String: Any]])?.count == 1)
            // An unrestricted key keeps the account routes.
            let full = try api.call("POST", "/v1/api-keys", ["name": "full"], as: admin)
            let fullKey = APIClient.Credential.apiKey(try #require(full.json?["key"] as? String))
            #expect(try api.call("GET", "/v1/api-keys", as: fullKey).status == 200)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// One TOTP code raced in 20 parallel logins across workers yields exactly one session.
        @Test func aTOTPCodeWorksOnceWhateverTheConcurrency() throws {
            let server = try ServerProcess(
                workers: 2,
                environment: [
                    "JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword,
                    "JADEVECTORDB_AUTHENTICATION_MAX_CONCURRENT_HASHES": "8",
                ])
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            _ = try api.call("POST", "/v1/admin/users", ["username": "rita", "password": "rita-password-1"], as: admin)
            let rita = APIClient.Credential.bearer(try api.login("rita", "rita-password-1"))
            let uri = try #require(
                try api.call("POST", "/v1/auth/2fa/enroll", as: rita).json?["otpauth_uri"] as? String)
            let base32 = try #require(URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value)
            let secret = try #require(Integration.Auth.decodeBase32(base32))
            let now = Date().timeIntervalSince1970
            #expect(
                try api.call(
                    "POST", "/v1/auth/2fa/verify", ["code": TOTP.code(secret: secret, counter: TOTP.counter(at: now))],
                    as: rita
                ).status == 204)
            // A code of the next step, raced.
            let code = TOTP.code(secret: secret, counter: TOTP.counter(at: now) + 1)
            let lock = NSLock()
            var statuses: [Int] = []
            DispatchQueue.concurrentPerform(iterations: 20) { _ in
                let status =
                    (try? api.call(
                        "POST", "/v1/auth/login", ["username": "rita", "password": "rita-password-1", "totp": code]
                    ).status) ?? -1
                lock.withLock { statuses.append(status) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1, "\(statuses)")
            // The rest are refused: 401, and 403 once ten failures have blocked the address.
            #expect(statuses.filter { $0 == 401 || $0 == 403 }.count == 19, "\(statuses.sorted())")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
