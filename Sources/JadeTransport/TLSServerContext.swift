import NIOCore
import NIOSSL

/// The TLS side of the server's own port (`server.tls.*`): a PEM certificate chain and its
/// private key, served with TLS 1.2 and 1.3 only.
///
/// Built once per worker at start: a reload (SIGHUP) starts new workers, which read the files
/// again, while the old ones finish their connections with the context they started with. So a
/// renewed certificate is served from the reload on and no connection is dropped. The master
/// builds one too before it starts a generation (``validate(certificateFile:privateKeyFile:)``),
/// so that a broken renewal is refused while the old workers keep serving.
public enum TLSServerContext {
    /// A problem with the certificate or key files, worded for the operator.
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The server context for the PEM files, or a ``LoadError`` naming the file and the reason
    /// (unreadable, not PEM, no certificate, a key that does not match the certificate).
    public static func make(certificateFile: String, privateKeyFile: String) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw LoadError(
                description: "server.tls.certificate_file \(certificateFile): cannot read a PEM certificate (\(error))")
        }
        guard !chain.isEmpty else {
            throw LoadError(description: "server.tls.certificate_file \(certificateFile): holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
        } catch {
            throw LoadError(
                description: "server.tls.private_key_file \(privateKeyFile): cannot read a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw LoadError(
                description:
                    "server.tls: the private key in \(privateKeyFile) does not fit the certificate in \(certificateFile) (\(error))"
            )
        }
    }

    /// Loads the files and discards the context: the check `serve`, `check-config` and a reload
    /// make before any worker depends on them.
    public static func validate(certificateFile: String, privateKeyFile: String) throws {
        _ = try make(certificateFile: certificateFile, privateKeyFile: privateKeyFile)
    }

    /// The handler that terminates TLS on one connection (put first in its pipeline).
    static func handler(_ context: NIOSSLContext) -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: context)
    }
}
