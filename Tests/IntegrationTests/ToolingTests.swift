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

        @Test func openAPIContractHoldsUnderSchemathesis() throws {
            let server = try ServerProcess(workers: 2)
            try server.waitHealthy()
            let result = try runCommand(
                [
                    Repository.root.appendingPathComponent("scripts/schemathesis.sh").path,
                    "http://127.0.0.1:\(server.port)",
                ],
                environment: ["ST_SEED": "1"], timeout: 600, executable: "/bin/bash")
            #expect(result.status == 0, "\(result.output)")
            server.signal(SIGTERM)
            #expect(try server.waitForExit() == 0)
        }
    }
}
