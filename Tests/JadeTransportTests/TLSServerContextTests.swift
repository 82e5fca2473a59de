import Foundation
import JadeTransport
import Testing

/// The checks made on the TLS files before any worker serves them.
@Suite struct TLSServerContextTests {
    /// Runs openssl; nil when it is not installed.
    func openssl(_ arguments: [String]) throws -> Bool? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test func loadsAMatchingPairAndNamesWhatIsWrongOtherwise() throws {
        let directory = NSTemporaryDirectory() + "jade-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["a", "b"] {
            let made = try openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem", "-days", "1", "-subj", "/CN=\(name)",
            ])
            try #require(made == true, "openssl is needed to make test certificates")
        }
        try TLSServerContext.validate(certificateFile: "\(directory)/a.pem", privateKeyFile: "\(directory)/a.key")
        func problem(_ certificate: String, _ key: String) -> String? {
            do {
                try TLSServerContext.validate(certificateFile: certificate, privateKeyFile: key)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let mismatched = problem("\(directory)/a.pem", "\(directory)/b.key")
        #expect(mismatched?.contains("does not fit") == true, "\(mismatched ?? "accepted")")
        let swapped = problem("\(directory)/a.key", "\(directory)/a.pem")
        #expect(swapped?.contains("server.tls.certificate_file") == true, "\(swapped ?? "accepted")")
        let missing = problem("\(directory)/a.pem", "\(directory)/none.key")
        #expect(missing?.contains("server.tls.private_key_file") == true, "\(missing ?? "accepted")")
    }
}
