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

        /// A user whose only permission is `users:manage` cannot reach `admin` (or any permission
        /// it lacks) by any route, nor act on a user who holds more than it does; each refusal is
        /// a 403 and an audit event. What it does hold, it can still confer.
        @Test func usersManageCannotReachAdminByAnyRoute() throws {
            let server = try ServerProcess(workers: 2, environment: ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword])
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            #expect(
                try api.call(
                    "POST", "/v1/admin/roles", ["name": "user-managers", "permissions": ["users:manage"]], as: admin
                ).status == 201)
            let created = try api.call(
                "POST", "/v1/admin/users",
                ["username": "mgr", "password": "mgr-password-123", "roles": ["user-managers"]], as: admin)
            #expect(created.status == 201, "\(created.text)")
            let mgrID = try #require((created.json?["user"] as? [String: Any])?["id"] as? Int)
            #expect(
                try api.call("POST", "/v1/databases", ["name": "docs", "dimension": 2, "metric": "dot"], as: admin)
                    .status == 201)
            #expect(try api.call("POST", "/v1/admin/groups", ["name": "ops"], as: admin).status == 201)
            #expect(
                try api.call(
                    "PUT", "/v1/databases/docs/acl", ["principal": "group:ops", "permission": "database:admin"],
                    as: admin
                ).status == 204)
            let adminKey = try #require(
                try api.call("POST", "/v1/api-keys", ["name": "ops-key"], as: admin).json?["id"] as? Int)
            let mgr = APIClient.Credential.bearer(try api.login("mgr", "mgr-password-123"))

            let attempts: [(String, String, [String: Any]?)] = [
                ("PUT", "/v1/admin/users/\(mgrID)/roles/admin", nil),
                ("PUT", "/v1/admin/users/\(mgrID)/roles/editor", nil),
                ("POST", "/v1/admin/users", ["username": "evil", "password": "evil-password-123", "roles": ["admin"]]),
                ("PATCH", "/v1/admin/users/1", ["password": "taken-over-12345"]),
                ("PATCH", "/v1/admin/users/1", ["active": false]),
                ("DELETE", "/v1/admin/users/1", nil),
                ("DELETE", "/v1/admin/users/1/roles/admin", nil),
                ("PUT", "/v1/admin/groups/ops/members/\(mgrID)", nil),
                ("DELETE", "/v1/api-keys/\(adminKey)", nil),
                ("GET", "/v1/admin/audit-log", nil),
                ("PUT", "/v1/admin/roles/user-managers/permissions/admin", nil),
            ]
            for (method, path, body) in attempts {
                let reply = try api.call(method, path, body, as: mgr)
                #expect(reply.status == 403, "\(method) \(path): \(reply.status) \(reply.text)")
                #expect(reply.errorCode == "forbidden", "\(method) \(path)")
            }
            // Nothing changed: mgr is still no admin, admin still logs in, evil does not exist.
            #expect(try api.call("GET", "/v1/admin/audit-log", as: mgr).status == 403)
            _ = try api.login("admin", Self.adminPassword)
            let users = try api.call("GET", "/v1/admin/users", as: admin).json?["users"] as? [[String: Any]] ?? []
            #expect(!users.contains { $0["username"] as? String == "evil" })
            // Each refusal of a change is in the audit log (the role-permission route and the
            // audit log are admin routes: refused by policy before any change is considered).
            let refused = try api.call("GET", "/v1/admin/audit-log?type=privilege_refused", as: admin)
            let events = refused.json?["events"] as? [[String: Any]] ?? []
            #expect(events.count == attempts.count - 2, "\(refused.text)")
            #expect(events.allSatisfy { $0["actor"] as? String == "mgr" && $0["outcome"] as? String == "denied" })

            // What mgr holds, it can confer and use: a plain user, then that user managed.
            let plain = try api.call(
                "POST", "/v1/admin/users", ["username": "plain", "password": "plain-password-1"], as: mgr)
            #expect(plain.status == 201, "\(plain.text)")
            let plainID = try #require((plain.json?["user"] as? [String: Any])?["id"] as? Int)
            #expect(try api.call("PUT", "/v1/admin/users/\(plainID)/roles/user-managers", as: mgr).status == 204)
            #expect(
                try api.call("PATCH", "/v1/admin/users/\(plainID)", ["password": "plain-password-2"], as: mgr).status
                    == 200)
            // The admin, holding everything, may do all of the above.
            #expect(try api.call("PUT", "/v1/admin/groups/ops/members/\(mgrID)", as: admin).status == 204)
            // Now mgr holds database:admin on docs through ops: adding plain to ops is within reach.
            #expect(try api.call("PUT", "/v1/admin/groups/ops/members/\(plainID)", as: mgr).status == 204)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// A cached session or API key is refused on every worker from the second it expires,
        /// whatever the cache's TTL (300 s here).
        @Test func anExpiredCredentialIsRefusedByEveryWorkerAtOnce() throws {
            let server = try ServerProcess(
                workers: 2,
                environment: [
                    "JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword,
                    "JADEVECTORDB_AUTHENTICATION_SESSION_SLIDING": "false",
                ])
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let token = try api.login("admin", Self.adminPassword)
            let admin = APIClient.Credential.bearer(token)
            let key = try #require(
                try api.call("POST", "/v1/api-keys", ["name": "short"], as: admin).json?["key"] as? String)
            let session = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            // Both expire in 3 s (as a 60 s session would, used 3 s before its end); neither has
            // been used yet, so no worker has cached it.
            let expiry = Date().timeIntervalSince1970 + 3
            try runSQL(
                server.dataDirectory + "/jadevectordb.sqlite",
                """
                UPDATE sessions SET expires_at = \(expiry) WHERE id = (SELECT max(id) FROM sessions);
                UPDATE api_keys SET expires_at = \(expiry);
                """)
            for credential in [session, APIClient.Credential.apiKey(key)] {
                #expect(
                    try api.statusOnEverySlot("GET", "/v1/auth/me", as: credential, workers: 2).values.allSatisfy {
                        $0 == 200
                    })
            }
            let wait = expiry - Date().timeIntervalSince1970 + 0.05
            if wait > 0 { usleep(useconds_t(wait * 1_000_000)) }
            for credential in [session, APIClient.Credential.apiKey(key)] {
                let statuses = try api.statusOnEverySlot("GET", "/v1/auth/me", as: credential, workers: 2)
                #expect(statuses.values.allSatisfy { $0 == 401 }, "\(statuses)")
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// A password reset (by token or by an administrator) ends the outstanding reset tokens:
        /// an older link cannot undo the new password.
        @Test func aPasswordChangeEndsOutstandingResetTokens() throws {
            let server = try ServerProcess(workers: 1, environment: ["JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword])
            try server.waitHealthy()
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", Self.adminPassword))
            let created = try api.call(
                "POST", "/v1/admin/users", ["username": "sam", "password": "sam-password-123"], as: admin)
            let samID = try #require((created.json?["user"] as? [String: Any])?["id"] as? Int)
            #expect(
                try api.call("POST", "/v1/auth/password-reset/request", ["username": "sam"]).status == 202)
            var token: String?
            try waitUntil("the reset token in the log", timeout: 5) {
                if let line = server.log.split(separator: "\n").last(where: { $0.contains("reset_token") }),
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                {
                    token = object["reset_token"] as? String
                }
                return token != nil
            }
            #expect(
                try api.call("PATCH", "/v1/admin/users/\(samID)", ["password": "sam-password-456"], as: admin).status
                    == 200)
            let late = try api.call(
                "POST", "/v1/auth/password-reset/confirm", ["token": token!, "new_password": "sam-password-789"])
            #expect(late.status == 400, "\(late.text)")
            _ = try api.login("sam", "sam-password-456")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Under umask 000 the server still creates nothing readable by others; a generated
        /// bootstrap password goes to a 0600 file, never into the log.
        @Test func filesAreNotReadableByOthersWhateverTheUmask() throws {
            let server = try ServerProcess(
                workers: 1, launcher: ["/bin/sh", "-c", "umask 000; exec \"$0\" \"$@\""])
            try server.waitHealthy()
            let passwordFile = server.dataDirectory + "/bootstrap-admin-password"
            let password = try String(contentsOfFile: passwordFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(password.count >= 16)
            #expect(!server.log.contains(password), "the bootstrap password is in the log")
            #expect(server.log.contains("bootstrap-admin-password"))
            let api = APIClient(port: server.port)
            let admin = APIClient.Credential.bearer(try api.login("admin", password))
            #expect(
                try api.call("POST", "/v1/databases", ["name": "docs", "dimension": 2, "metric": "dot"], as: admin)
                    .status == 201)
            #expect(
                try api.call(
                    "PUT", "/v1/databases/docs/vectors", ["vectors": [["id": "a", "values": [1, 0]]]], as: admin
                ).status < 300)
            var checked = 0
            let files = try #require(FileManager.default.enumerator(atPath: server.dataDirectory))
            for case let name as String in files {
                var info = stat()
                guard stat(server.dataDirectory + "/" + name, &info) == 0 else { continue }
                #expect(info.st_mode & 0o007 == 0, "\(name) is mode \(String(info.st_mode & 0o777, radix: 8))")
                checked += 1
            }
            #expect(checked >= 4, "only \(checked) files")
            var info = stat()
            #expect(stat(passwordFile, &info) == 0 && info.st_mode & 0o777 == 0o600)
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// In production, root is refused (exit 2, before anything is created) unless
        /// `--allow-root` is given; `check-config` says the same.
        @Test(.enabled(if: geteuid() == 0, "only root can be refused for being root"))
        func productionRefusesRootWithoutAllowRoot() throws {
            let dir = TemporaryDirectory()
            let environment = [
                "JADEVECTORDB_ENV": "production", "JADEVECTORDB_DATA_DIR": dir.path + "/data",
                "JADEVECTORDB_HOST": "127.0.0.1", "JADEVECTORDB_PORT": "0",
                "JADEVECTORDB_TOTP_ENCRYPTION_KEY": "0123456789abcdef0123456789abcdef",
                "JADEVECTORDB_ADMIN_PASSWORD": "a-long-admin-password-1",
            ]
            for command in [["serve"], ["check-config"], ["backup", dir.path + "/backup"]] {
                let result = try runCommand(command, environment: environment)
                #expect(result.status == 2, "\(command): \(result.output)")
                #expect(result.output.contains("--allow-root"), "\(command): \(result.output)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/data"))
            let allowed = try runCommand(["check-config", "--allow-root"], environment: environment)
            #expect(allowed.status == 0, "\(allowed.output)")
        }

        /// `check-config` runs the checks `serve` makes before touching the data directory.
        @Test func checkConfigOKMeansServeStarts() throws {
            let dir = TemporaryDirectory()
            let production = [
                "JADEVECTORDB_ENV": "production", "JADEVECTORDB_DATA_DIR": dir.path + "/data",
                "JADEVECTORDB_HOST": "127.0.0.1", "JADEVECTORDB_PORT": "0",
                "JADEVECTORDB_TOTP_ENCRYPTION_KEY": "0123456789abcdef0123456789abcdef",
            ]
            // No bootstrap password for a first start in production.
            let noPassword = try runCommand(["check-config"] + allowRootIfRoot, environment: production)
            #expect(noPassword.status == 2)
            #expect(noPassword.output.contains("secrets.admin_password"), "\(noPassword.output)")
            let served = try runCommand(["serve"] + allowRootIfRoot, environment: production)
            #expect(served.status == 2)
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/data"), "serve created the data directory")
            // A data directory that cannot be created.
            try "".write(toFile: dir.path + "/file", atomically: true, encoding: .utf8)
            let blocked = try runCommand(
                ["check-config"], environment: ["JADEVECTORDB_DATA_DIR": dir.path + "/file/data"])
            #expect(blocked.status == 2)
            #expect(blocked.output.contains("storage.data_dir"), "\(blocked.output)")
            // Production always needs the TOTP key: any user may enrol in 2FA.
            var noKey = production
            noKey["JADEVECTORDB_TOTP_ENCRYPTION_KEY"] = nil
            noKey["JADEVECTORDB_AUTHENTICATION_ENABLE_TWO_FACTOR"] = "false"
            noKey["JADEVECTORDB_ADMIN_PASSWORD"] = "a-long-admin-password-1"
            let keyless = try runCommand(["check-config"] + allowRootIfRoot, environment: noKey)
            #expect(keyless.status == 2)
            #expect(keyless.output.contains("secrets.totp_encryption_key"), "\(keyless.output)")
        }

        /// Workers name themselves: `ps`, `pgrep jadevectordb` and `ss -p` show them.
        @Test func workersShowUpByName() throws {
            let server = try ServerProcess(workers: 2)
            try server.waitHealthy()
            let pids = server.workerPIDs()
            #expect(pids.count == 2)
            for pid in pids {
                let comm = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
                #expect(comm == "jadevectordb\n")
                let cmdline = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
                #expect(cmdline.hasPrefix("jadevectordb: worker "), "\(cmdline)")
                #expect(cmdline.contains(" gen 1"), "\(cmdline)")
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }

        /// Audit events older than `audit.retention_days` are deleted by the master.
        @Test func oldAuditEventsArePurged() throws {
            let directory = TemporaryDirectory()
            let first = try ServerProcess(workers: 1, directory: directory)
            try first.waitHealthy()
            first.signal(SIGTERM)
            #expect(try first.waitForExit() == 0)
            let database = first.dataDirectory + "/jadevectordb.sqlite"
            try runSQL(
                database,
                """
                INSERT INTO audit_log (at, type, outcome) VALUES ('2020-01-01T00:00:00.000Z', 'ancient', 'success');
                INSERT INTO audit_log (at, type, outcome)
                  VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-29 days'), 'recent', 'success');
                """)
            let server = try ServerProcess(
                workers: 1, environment: ["JADEVECTORDB_AUDIT_RETENTION_DAYS": "30"], directory: directory)
            try server.waitHealthy()
            try waitUntil("the master to purge the old event", timeout: 10) {
                server.log.contains("audit log purged")
            }
            #expect(server.log.contains("\"deleted\":\"1\""), "\(server.log)")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
