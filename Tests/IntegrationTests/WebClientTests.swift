import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A test certificate authority and a server certificate for 127.0.0.1 that it signed, made
/// with the openssl command (P-256 keys, valid for two days).
struct TestCertificate {
    let caFile: String
    let certificateFile: String
    let keyFile: String

    init(in directory: String, name: String) throws {
        caFile = "\(directory)/\(name)-ca.pem"
        certificateFile = "\(directory)/\(name)-cert.pem"
        keyFile = "\(directory)/\(name)-key.pem"
        let caKey = "\(directory)/\(name)-ca.key"
        let request = "\(directory)/\(name).csr"
        let extensions = "\(directory)/\(name).ext"
        try "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".write(
            toFile: extensions, atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey,
                "-out", caFile, "-days", "2", "-subj", "/CN=JadeVectorDB test CA \(name)",
            ],
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile,
                "-out", request, "-subj", "/CN=127.0.0.1",
            ],
            [
                "x509", "-req", "-in", request, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-out",
                certificateFile, "-days", "2", "-extfile", extensions,
            ],
        ]
        for step in steps {
            let result = try runTool("/usr/bin/openssl", step)
            guard result.status == 0 else { throw TestFailure("openssl \(step[0]) failed: \(result.output)") }
        }
    }
}

extension Integration {
    /// TLS on the server's own port, CORS for browser pages, and JSON routes that refuse other
    /// content types without using a login attempt.
    @Suite struct WebClients {
        static let adminPassword = "Web-Clients-Passw0rd!"

        /// HTTPS status of `path` by curl trusting `caFile` (fresh connection); nil on any
        /// failure to connect or verify.
        static func httpsStatus(port: Int, path: String = "/health", caFile: String) throws -> Int? {
            let result = try runTool(
                "/usr/bin/curl",
                [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--cacert", caFile,
                    "https://127.0.0.1:\(port)\(path)",
                ])
            guard result.status == 0, let code = Int(result.output), code > 0 else { return nil }
            return code
        }

        /// The port speaks HTTPS only, with the configured certificate; `healthcheck` asks over
        /// HTTPS; TLS 1.1 is refused; a renewed certificate is served after SIGHUP while
        /// clients keep calling, and not one of their requests fails.
        @Test func httpsWithRenewalOnReloadUnderLoad() throws {
            let directory = TemporaryDirectory()
            let first = try TestCertificate(in: directory.path, name: "first")
            let second = try TestCertificate(in: directory.path, name: "second")
            let certificate = directory.path + "/server-cert.pem"
            let key = directory.path + "/server-key.pem"
            try FileManager.default.copyItem(atPath: first.certificateFile, toPath: certificate)
            try FileManager.default.copyItem(atPath: first.keyFile, toPath: key)
            let tlsEnvironment = [
                "JADEVECTORDB_SERVER_TLS_CERTIFICATE_FILE": certificate,
                "JADEVECTORDB_SERVER_TLS_PRIVATE_KEY_FILE": key,
            ]
            let server = try ServerProcess(
                workers: 2,
                environment: tlsEnvironment.merging([
                    "JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword,
                    "JADEVECTORDB_SERVER_REQUEST_TIMEOUT_SECONDS": "2",
                ]) { $1 })
            try waitUntil("HTTPS /health answers", timeout: 20) {
                try Self.httpsStatus(port: server.port, caFile: first.caFile) == 200
            }
            // No plain HTTP on a TLS port.
            let plain = try? httpRequest(port: server.port, "GET", "/health")
            #expect(plain == nil || plain?.status != 200)
            // A client that opens a connection and never completes the handshake (here: half a
            // ClientHello) is closed when the request timeout runs out.
            let stalled = try HTTPConnection(port: server.port)
            try stalled.send(Data([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))
            #expect(stalled.waitForClose(timeoutMilliseconds: 6000))
            // Not trusted by a client that does not know the issuer.
            #expect(try Self.httpsStatus(port: server.port, caFile: second.caFile) == nil)
            // The container health check speaks HTTPS when the configuration has a certificate.
            let probe = try runCommand(["healthcheck", "--port", String(server.port)], environment: tlsEnvironment)
            #expect(probe.status == 0, "\(probe.output)")

            // TLS 1.1 offered (security level 0 so that this client offers it at all): the
            // server answers with a protocol_version alert; TLS 1.2 completes.
            let old = try runTool(
                "/usr/bin/openssl",
                ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                input: "", timeout: 10)
            #expect(old.status != 0)
            #expect(old.output.lowercased().contains("protocol version"), "\(old.output)")
            let current = try runTool(
                "/usr/bin/openssl",
                ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_2", "-CAfile", first.caFile],
                input: "", timeout: 10)
            #expect(current.output.contains("Verify return code: 0"), "\(current.output)")

            // Clients trusting both issuers call without pause while the certificate is renewed.
            let bundle = directory.path + "/both-ca.pem"
            try
                (String(contentsOfFile: first.caFile, encoding: .utf8)
                + String(contentsOfFile: second.caFile, encoding: .utf8)).write(
                    toFile: bundle, atomically: true, encoding: .utf8)
            let url = "https://127.0.0.1:\(server.port)/health"
            let stop = DispatchSemaphore(value: 0)
            let codes = LockedCodes()
            let loaders = DispatchGroup()
            for _ in 0..<2 {
                loaders.enter()
                Thread.detachNewThread {
                    defer { loaders.leave() }
                    let deadline = Date().addingTimeInterval(40)
                    while stop.wait(timeout: .now()) == .timedOut && Date() < deadline {
                        // 20 requests on one keep-alive connection per curl run.
                        let arguments =
                            ["-s", "-w", "%{http_code}\\n", "--max-time", "10", "--cacert", bundle]
                            + (0..<20).flatMap { _ in ["-o", "/dev/null", url] }
                        guard let result = try? runTool("/usr/bin/curl", arguments, timeout: 15) else {
                            codes.add(["run-failed"])
                            continue
                        }
                        codes.add(result.output.split(separator: "\n").map(String.init))
                        if result.status != 0 { codes.add(["curl-exit-\(result.status)"]) }
                    }
                }
            }
            try waitUntil("load running", timeout: 10) { codes.count >= 20 }
            // Renewal as certbot does it: the new files put in place (renamed over the old
            // ones), then SIGHUP.
            for (source, target) in [(second.certificateFile, certificate), (second.keyFile, key)] {
                try FileManager.default.copyItem(atPath: source, toPath: target + ".new")
                #expect(rename(target + ".new", target) == 0)
            }
            let before = codes.count
            server.signal(SIGHUP)
            // New connections get the renewed certificate once the new workers serve, and the
            // old one no more once the old workers have gone.
            try waitUntil("the renewed certificate is served", timeout: 20) {
                try Self.httpsStatus(port: server.port, caFile: second.caFile) == 200
            }
            try waitUntil("the old certificate is no longer served", timeout: 30) {
                try (0..<6).allSatisfy { _ in try Self.httpsStatus(port: server.port, caFile: first.caFile) == nil }
            }
            try waitUntil("load after the reload", timeout: 10) { codes.count >= before + 100 }
            stop.signal()
            stop.signal()
            #expect(loaders.wait(timeout: .now() + 30) == .success)
            let all = codes.all
            let failed = all.filter { $0 != "200" }
            #expect(all.count >= before + 100)
            #expect(failed.isEmpty, "\(failed.count) of \(all.count) requests failed: \(Set(failed.prefix(20)))")
        }

        /// CORS per the contract: preflights and simple requests from listed and unlisted
        /// origins, errors readable by a listed page; and no CORS header at all when off.
        @Test func corsAnswersListedOriginsOnly() throws {
            let listed = "https://app.example.com"
            let server = try ServerProcess(
                workers: 1,
                environment: [
                    "JADEVECTORDB_SERVER_CORS_ALLOWED_ORIGINS": "\(listed),http://localhost:3000",
                    "JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword,
                ])
            try server.waitHealthy()
            func preflight(_ origin: String, _ path: String = "/v1/databases") throws -> HTTPReply {
                try httpRequest(
                    port: server.port, "OPTIONS", path,
                    headers: [
                        "Origin": origin, "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "authorization, content-type",
                    ])
            }
            let allowed = try preflight(listed)
            #expect(allowed.status == 204, "\(allowed.status) \(allowed.text)")
            #expect(allowed.headers["access-control-allow-origin"] == listed)
            let methods = allowed.headers["access-control-allow-methods"] ?? ""
            #expect(methods.contains("POST") && methods.contains("GET"), "\(methods)")
            let requestHeaders = (allowed.headers["access-control-allow-headers"] ?? "").lowercased()
            #expect(requestHeaders.contains("authorization") && requestHeaders.contains("content-type"))
            #expect(allowed.headers["access-control-max-age"] != nil)
            #expect(allowed.headers["vary"] == "Origin")
            // Origins compare by scheme, host and port: case does not matter, the port does.
            #expect(try preflight("HTTPS://APP.EXAMPLE.COM").status == 204)
            #expect(try preflight("http://localhost:3000").status == 204)
            for stranger in [
                "https://evil.example.com", "http://app.example.com", "https://app.example.com:8443", "null",
            ] {
                let refused = try preflight(stranger)
                #expect(refused.status == 403, "\(stranger)")
                #expect(refused.errorCode == "forbidden")
                #expect(refused.headers["access-control-allow-origin"] == nil)
            }
            #expect(try preflight(listed, "/v1/no-such-route").status == 404)

            // Simple requests: the header for a listed origin only, on errors too.
            let health = try httpRequest(port: server.port, "GET", "/health/db", headers: ["Origin": listed])
            #expect(health.headers["access-control-allow-origin"] == listed)
            #expect(health.headers["access-control-expose-headers"]?.contains("Retry-After") == true)
            let denied = try httpRequest(port: server.port, "GET", "/v1/databases", headers: ["Origin": listed])
            #expect(denied.status == 401)
            #expect(denied.headers["access-control-allow-origin"] == listed)
            let foreign = try httpRequest(
                port: server.port, "GET", "/health/db", headers: ["Origin": "https://evil.example.com"])
            #expect(foreign.status == 200)
            #expect(foreign.headers["access-control-allow-origin"] == nil)
            #expect(foreign.headers["vary"] == "Origin")
            // An authenticated call from a listed page works and is readable.
            let token = try APIClient(port: server.port).login("admin", Self.adminPassword)
            let databases = try httpRequest(
                port: server.port, "GET", "/v1/databases",
                headers: ["Origin": listed, "Authorization": "Bearer \(token)"])
            #expect(databases.status == 200)
            #expect(databases.headers["access-control-allow-origin"] == listed)

            // Off (the default): OPTIONS is an ordinary 405 and nothing says CORS.
            let off = try ServerProcess(workers: 1)
            try off.waitHealthy()
            let plain = try httpRequest(
                port: off.port, "OPTIONS", "/v1/databases",
                headers: ["Origin": listed, "Access-Control-Request-Method": "POST"])
            #expect(plain.status == 405)
            #expect(plain.headers.keys.allSatisfy { !$0.hasPrefix("access-control-") })
            #expect(plain.headers["vary"] == nil)
        }

        /// A login sent as a form (curl -d) or with no content type is 415 and does not use one
        /// of the address's login attempts: after many of them, the real login still works.
        @Test func wrongContentTypeIs415WithoutUsingALoginAttempt() throws {
            let server = try ServerProcess(
                workers: 2,
                environment: [
                    "JADEVECTORDB_ADMIN_PASSWORD": Self.adminPassword,
                    "JADEVECTORDB_RATE_LIMITS_LOGIN_LIMIT": "3", "JADEVECTORDB_RATE_LIMITS_LOGIN_BURST": "3",
                ])
            try server.waitHealthy()
            let form = Data("username=admin&password=\(Self.adminPassword)".utf8)
            let json = try JSONSerialization.data(withJSONObject: ["username": "admin", "password": Self.adminPassword])
            for attempt in 0..<8 {
                let headers = attempt % 2 == 0 ? ["Content-Type": "application/x-www-form-urlencoded"] : [:]
                let reply = try httpRequest(
                    port: server.port, "POST", "/v1/auth/login", headers: headers, body: attempt % 2 == 0 ? form : json)
                #expect(reply.status == 415, "\(reply.status) \(reply.text)")
                #expect(reply.errorCode == "unsupported_media_type")
                #expect(reply.headers["retry-after"] == nil)
            }
            // JSON with parameters is JSON.
            let login = try httpRequest(
                port: server.port, "POST", "/v1/auth/login",
                headers: ["Content-Type": "application/json; charset=utf-8"], body: json)
            #expect(login.status == 200, "\(login.status) \(login.text)")
            // The limit itself still holds for real attempts.
            var statuses: [Int] = []
            for _ in 0..<4 {
                statuses.append(
                    try APIClient(port: server.port).call(
                        "POST", "/v1/auth/login", ["username": "admin", "password": "wrong-password-1"]
                    ).status)
            }
            #expect(statuses.contains(429), "\(statuses)")
        }
    }
}

/// Response codes collected by load threads.
final class LockedCodes: @unchecked Sendable {
    private let lock = NSLock()
    private var codes: [String] = []

    func add(_ more: [String]) { lock.withLock { codes += more } }
    var count: Int { lock.withLock { codes.count } }
    var all: [String] { lock.withLock { codes } }
}
