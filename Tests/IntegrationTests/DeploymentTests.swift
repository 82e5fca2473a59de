import CJadeTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Integration {
    /// Deployment artefacts (Docker, systemd install, operations docs) and backup/restore,
    /// checked by real tools. No Docker engine runs here: the container files are linted and
    /// parsed, not built.
    @Suite struct Deployment {
        static func script(_ name: String) -> String { Repository.root.appendingPathComponent("scripts/\(name)").path }

        @Test func dockerfilePassesHadolint() throws {
            let result = try runCommand([Self.script("lint-docker.sh")], timeout: 300, executable: "/bin/bash")
            #expect(result.status == 0, "\(result.output)")
            let findings = result.output.split(separator: "\n").filter { !$0.hasPrefix("lint-docker.sh: installing") }
            #expect(findings.isEmpty, "\(result.output)")
        }

        /// The image's whole filesystem, as docker/Dockerfile assembles it onto `scratch`
        /// (docker/assemble-rootfs.sh), runs the server: chrooted into it as uid 999 with the
        /// image's environment and Docker-style secrets in /run/secrets, it becomes healthy, the
        /// image's HEALTHCHECK command passes, and SIGTERM stops it cleanly.
        @Test(.enabled(if: FaultInjection.canMount, "needs chroot and mounts for /proc and /dev (root)"))
        func imageFilesystemServesChrooted() throws {
            let dir = TemporaryDirectory()
            let rootfs = dir.path + "/rootfs"
            let assemble = Repository.root.appendingPathComponent("docker/assemble-rootfs.sh").path
            let built = try runCommand(
                [assemble, Repository.binary, Repository.configDirectory, rootfs], timeout: 120,
                executable: "/bin/bash")
            try #require(built.status == 0, "\(built.output)")
            // Docker provides /proc and /dev; here they are mounted for the duration of the test.
            #expect(try runCommand(["-t", "proc", "proc", rootfs + "/proc"], executable: "/bin/mount").status == 0)
            defer { _ = try? runCommand(["-l", rootfs + "/proc"], executable: "/bin/umount") }
            #expect(try runCommand(["--bind", "/dev", rootfs + "/dev"], executable: "/bin/mount").status == 0)
            defer { _ = try? runCommand(["-l", rootfs + "/dev"], executable: "/bin/umount") }
            for (name, value) in [
                ("admin_password", "image-admin-password-0123"), ("totp_encryption_key", "image-totp-key-0123456789"),
            ] {
                try value.write(toFile: rootfs + "/run/secrets/" + name, atomically: true, encoding: .utf8)
            }

            let port = Int(jt_free_port())
            // The Dockerfile's ENV, with a loopback address and a free port for the test.
            let environment = [
                "JADEVECTORDB_ENV": "production", "JADEVECTORDB_CONFIG_DIR": "/etc/jadevectordb",
                "JADEVECTORDB_DATA_DIR": "/data", "JADEVECTORDB_HOST": "127.0.0.1", "JADEVECTORDB_PORT": String(port),
                "JADEVECTORDB_WORKERS": "2",
                "JADEVECTORDB_ADMIN_PASSWORD_FILE": "/run/secrets/admin_password",
                "JADEVECTORDB_TOTP_ENCRYPTION_KEY_FILE": "/run/secrets/totp_encryption_key",
            ]
            let logPath = dir.path + "/server.log"
            let server = try startLogged(
                "/usr/sbin/chroot", ["--userspec=999:999", rootfs, "/usr/local/bin/jadevectordb", "serve"],
                environment: environment, logPath: logPath)
            defer {
                if server.isRunning {
                    kill(server.processIdentifier, SIGKILL)
                    server.waitUntilExit()
                }
            }
            var healthy = false
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && server.isRunning && !healthy {
                healthy = (try? httpRequest(port: port, "GET", "/health"))?.status == 200
                if !healthy { usleep(100_000) }
            }
            let serverLog = { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
            try #require(healthy, "not healthy in the image filesystem: \(serverLog().suffix(1500))")
            let api = APIClient(port: port)
            _ = try api.login("admin", "image-admin-password-0123")

            // The image's HEALTHCHECK: CMD ["/usr/local/bin/jadevectordb", "healthcheck"].
            var healthcheckEnvironment = environment
            healthcheckEnvironment["PATH"] = "/usr/local/bin"
            let check = try runCommand(
                ["--userspec=999:999", rootfs, "/usr/local/bin/jadevectordb", "healthcheck"],
                environment: healthcheckEnvironment, executable: "/usr/sbin/chroot")
            #expect(check.status == 0, "\(check.output)")

            kill(server.processIdentifier, SIGTERM)
            let stopBy = Date().addingTimeInterval(45)
            while server.isRunning && Date() < stopBy { usleep(50_000) }
            #expect(!server.isRunning)
            if !server.isRunning { #expect(server.terminationStatus == 0, "\(serverLog().suffix(1500))") }
        }

        @Test func composeFileHasTheRequiredKeysAndPaths() throws {
            let result = try runCommand([Self.script("check-compose.py")], executable: "/usr/bin/env")
            #expect(result.status == 0, "\(result.output)")
            #expect(!result.output.contains("problem:"), "\(result.output)")
        }

        @Test func systemdUnitScoresAtMostOnePointFive() throws {
            let unit = Repository.root.appendingPathComponent("systemd/jadevectordb.service").path
            let result = try runCommand(
                ["security", "--offline=true", "--no-pager", unit], executable: "/usr/bin/systemd-analyze")
            let line = try #require(
                result.output.split(separator: "\n").first { $0.contains("Overall exposure level") })
            let score = try #require(
                line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) })
            #expect(score <= 1.5, "\(line)")
        }

        @Test func installScriptDryRunAndTempRootAreIdempotent() throws {
            let root = TemporaryDirectory()
            let install = Self.script("install.sh")
            let dry = try runCommand(
                [install, "--prefix", root.path, "--binary", Repository.binary, "--dry-run"], executable: "/bin/bash")
            #expect(dry.status == 0, "\(dry.output)")
            #expect(dry.output.contains("dry run: nothing changed"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)

            let first = try runCommand(
                [install, "--prefix", root.path, "--binary", Repository.binary], executable: "/bin/bash")
            #expect(first.status == 0, "\(first.output)")
            let expected = [
                "usr/local/bin/jadevectordb", "etc/jadevectordb/production.json", "etc/jadevectordb/logging.json",
                "etc/systemd/system/jadevectordb.service", "etc/systemd/system/jadevectordb.socket",
            ]
            for file in expected {
                #expect(FileManager.default.fileExists(atPath: root.path + "/" + file), "\(file) not installed")
            }
            var st = stat()
            #expect(stat(root.path + "/usr/local/bin/jadevectordb", &st) == 0 && st.st_mode & 0o777 == 0o755)

            // An operator's edit survives a second run; nothing else changes.
            let edited = root.path + "/etc/jadevectordb/logging.json"
            try "{\"logging\": {\"level\": \"debug\"}}\n".write(toFile: edited, atomically: true, encoding: .utf8)
            let second = try runCommand(
                [install, "--prefix", root.path, "--binary", Repository.binary], executable: "/bin/bash")
            #expect(second.status == 0, "\(second.output)")
            #expect(try String(contentsOfFile: edited, encoding: .utf8).contains("debug"))
            #expect(FileManager.default.fileExists(atPath: edited + ".dist"))
            let changes = second.output.split(separator: "\n").filter { $0.hasPrefix("+ install -m") }
            #expect(changes.count == 1, "\(second.output)")  // only logging.json.dist
            // The installed configuration is valid for the installed binary.
            let check = try runCommand(
                ["check-config", "--env", "development"],
                environment: ["JADEVECTORDB_CONFIG_DIR": root.path + "/etc/jadevectordb"],
                executable: root.path + "/usr/local/bin/jadevectordb")
            #expect(check.status == 0, "\(check.output)")
        }

        @Test func runbookConfigReferenceMatchesTheSchema() throws {
            let generated = try runCommand(["config-reference"])
            #expect(generated.status == 0)
            let runbook = try String(
                contentsOfFile: Repository.root.appendingPathComponent("docs/operations_runbook.md").path,
                encoding: .utf8)
            let begin = "<!-- config-reference:begin (generated by `jadevectordb config-reference`) -->\n"
            let end = "<!-- config-reference:end -->"
            let start = try #require(runbook.range(of: begin))
            let stop = try #require(runbook.range(of: end))
            let embedded = String(runbook[start.upperBound..<stop.lowerBound])
            #expect(
                embedded == generated.output,
                "docs/operations_runbook.md's table is stale: regenerate it with `jadevectordb config-reference`")
        }

        @Test func troubleshootingGuideListsEveryErrorCodeTheServerSends() throws {
            let guide = try String(
                contentsOfFile: Repository.root.appendingPathComponent("docs/troubleshooting_guide.md").path,
                encoding: .utf8)
            let pattern = try NSRegularExpression(
                pattern: #"(?:APIError\(|\.error\()\s*\.[a-zA-Z]+,\s*(?:code:\s*)?"([a-z_]+)""#)
            var codes = Set<String>()
            let sources = Repository.root.appendingPathComponent("Sources")
            for case let file as String in FileManager.default.enumerator(atPath: sources.path)!
            where file.hasSuffix(".swift") {
                let text = try String(contentsOfFile: sources.path + "/" + file, encoding: .utf8)
                for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    codes.insert(String(text[Range(match.range(at: 1), in: text)!]))
                }
            }
            #expect(codes.count >= 15)
            for code in codes.sorted() {
                #expect(guide.contains("| `\(code)` |"), "docs/troubleshooting_guide.md does not explain \(code)")
            }
        }

        @Test func documentedRunnableCommandsWork() throws {
            let port = Int(jt_free_port())
            let result = try runCommand(
                [Self.script("run-doc-blocks.py"), Repository.binary, String(port)], timeout: 300,
                executable: "/usr/bin/env")
            #expect(result.status == 0, "\(result.output)")
        }

        @Test func healthcheckCommandReportsLiveness() throws {
            let server = try ServerProcess(workers: 1)
            try server.waitHealthy()
            let ok = try runCommand(["healthcheck", "--port", String(server.port)])
            #expect(ok.status == 0, "\(ok.output)")
            let ready = try runCommand(["healthcheck"], environment: ["JADEVECTORDB_PORT": String(server.port)])
            #expect(ready.status == 0, "\(ready.output)")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
            let down = try runCommand(["healthcheck", "--port", String(server.port), "--timeout", "1"])
            #expect(down.status == 1)
            #expect(down.output.contains("answered nothing"), "\(down.output)")
        }
    }
}
