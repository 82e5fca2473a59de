import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// The artefacts operators use, checked by the real tools.
    @Suite struct Tooling {
        @Test func systemdUnitsVerifyWithoutAnyWarning() throws {
            let dir = TemporaryDirectory()
            var files: [String] = []
            for name in ["jadevectordb.service", "jadevectordb.socket"] {
                let source = Repository.root.appendingPathComponent("systemd/\(name)").path
                var text = try String(contentsOfFile: source, encoding: .utf8)
                // ExecStart is checked for existence: point it at the binary under test.
                text = text.replacingOccurrences(of: "/usr/local/bin/jadevectordb", with: Repository.binary)
                let dest = dir.path + "/" + name
                try text.write(toFile: dest, atomically: true, encoding: .utf8)
                files.append(dest)
            }
            let result = try runCommand(["verify"] + files, executable: "/usr/bin/systemd-analyze")
            #expect(result.status == 0)
            #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(result.output)")
        }

        /// docs/openapi.yaml against the real server, twice: without a credential (every protected
        /// route must answer 401) and as an administrator (the handlers run). Schemathesis's random
        /// failed logins and its pace would otherwise get 127.0.0.1 blocked and rate limited, and
        /// 403 `ip_blocked` / 429 would shadow every handler: the server runs with 127.0.0.1 on the
        /// allowlist and limits far above what one run sends.
        @Test func openAPIContractHoldsUnderSchemathesis() throws {
            let adminPassword = "schemathesis-admin-password-1"
            var environment = [
                "JADEVECTORDB_ADMIN_PASSWORD": adminPassword,
                "JADEVECTORDB_SECURITY_IP_ALLOWLIST": "127.0.0.1/32",
            ]
            for limit in ["LOGIN", "REGISTRATION", "PASSWORD_RESET", "API", "GLOBAL"] {
                environment["JADEVECTORDB_RATE_LIMITS_\(limit)_LIMIT"] = "1000000"
                environment["JADEVECTORDB_RATE_LIMITS_\(limit)_BURST"] = "1000000"
            }
            let server = try ServerProcess(workers: 2, environment: environment)
            try server.waitHealthy()
            // Logged in before either run, so that nothing a run does to the account's login
            // (failed attempts, a lockout) can keep the authenticated run from starting.
            let token = try APIClient(port: server.port).login("admin", adminPassword)
            let script = Repository.root.appendingPathComponent("scripts/schemathesis.sh").path
            // Bounded: 25 generated cases per operation and phase keep both runs within about
            // two minutes on two cores.
            let common = ["ST_SEED": "1", "ST_MAX_EXAMPLES": "25"]
            let runs: [(String, [String: String])] = [
                ("unauthenticated", [:]), ("authenticated", ["ST_AUTH_TOKEN": token]),
            ]
            for (run, extra) in runs {
                let result = try runCommand(
                    [script, "http://127.0.0.1:\(server.port)"], environment: common.merging(extra) { $1 },
                    timeout: 300, executable: "/bin/bash")
                #expect(result.status == 0, "\(run) run:\n\(result.output)")
            }
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
