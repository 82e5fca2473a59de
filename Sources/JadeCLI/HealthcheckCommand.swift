import ArgumentParser
import Foundation
import JadeConfig
import JadeTransport

#if canImport(Glibc)
    import Glibc
#endif

extension JadeCommand {
    /// `jadevectordb healthcheck`: GET /health on the local server, for container health checks
    /// (no curl in the image), over HTTPS when `server.tls.*` is set. Exit 0 on 200, 1 otherwise.
    struct Healthcheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the local server's /health (exit 0 on 200, 1 otherwise); for container health checks.")

        @OptionGroup var environment: EnvironmentOption

        @Option(name: .long, help: "Port to ask; default: server.port from the configuration.")
        var port: Int?

        @Option(name: .long, help: "Path to ask, /health (liveness) or /health/db (readiness).")
        var path = "/health"

        @Option(name: .long, help: "Seconds to wait for the answer.")
        var timeout = 3

        func run() throws {
            var target = port
            var host = "127.0.0.1"
            // The port speaks HTTPS when the configuration gives it a certificate.
            let (resolved, _) = try environment.load(refusingRoot: false)
            let server = JadeConfiguration(resolved).server
            if target == nil {
                target = server.port
                if server.host == "::1" || server.host == "::" { host = "::1" }
                if server.host != "0.0.0.0" && server.host != "::" && !server.host.isEmpty { host = server.host }
            }
            let status =
                server.tlsEnabled
                ? TLSHealthProbe.status(host: host, port: target!, path: path, timeoutSeconds: timeout)
                : HealthProbe.status(host: host, port: target!, path: path, timeoutSeconds: timeout)
            guard status == 200 else {
                FileHandle.standardError.write(
                    Data(
                        "jadevectordb: \(path) on \(host):\(target!) answered \(status.map(String.init) ?? "nothing")\n"
                            .utf8))
                throw ExitCode(1)
            }
            print("healthy: \(path) on \(host):\(target!) answered 200")
        }
    }
}

/// A minimal HTTP/1.1 GET over a blocking socket with a deadline; returns the status code.
enum HealthProbe {
    static func status(host: String, port: Int, path: String, timeoutSeconds: Int) -> Int? {
        var storage = sockaddr_storage()
        var length: socklen_t
        let family: Int32
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { return nil }
            withUnsafeBytes(of: address) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            family = AF_INET6
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
            withUnsafeBytes(of: address) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            family = AF_INET
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var deadline = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &deadline, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while reply.count < 12 {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            reply += buffer[0..<n]
        }
        // "HTTP/1.1 200 ..."
        let line = String(decoding: reply.prefix(12), as: UTF8.self)
        guard line.hasPrefix("HTTP/1."), line.count >= 12 else { return nil }
        return Int(line.dropFirst(9).prefix(3))
    }
}
