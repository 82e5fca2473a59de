import CJadeTestSupport
import Foundation

/// A test failure with a message.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A parsed HTTP response.
struct HTTPReply {
    let status: Int
    /// Header names in lower case.
    let headers: [String: String]
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
}

/// A blocking HTTP/1.1 connection to 127.0.0.1 for tests, with keep-alive.
final class HTTPConnection {
    let fd: Int32
    private var buffer = Data()

    /// Connects to 127.0.0.1:`port`, from the loopback address `source` when given (any of
    /// 127.0.0.0/8 works without setup: tests play many clients that way), with a receive buffer
    /// of `receiveBuffer` bytes when given (a client that reads slowly).
    init(port: Int, source: String? = nil, receiveBuffer: Int32 = 0, timeoutMilliseconds: Int32 = 5000) throws {
        let fd =
            source == nil && receiveBuffer == 0
            ? jt_connect(Int32(port), timeoutMilliseconds)
            : jt_connect_ex(Int32(port), source, receiveBuffer, timeoutMilliseconds)
        guard fd >= 0 else { throw TestFailure("connect to \(port) failed: \(String(cString: strerror(-fd)))") }
        self.fd = fd
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Data(text.utf8)) }

    func send(_ data: Data) throws {
        let rc = data.withUnsafeBytes { jt_send_all(fd, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw TestFailure("send failed: \(String(cString: strerror(-rc)))") }
    }

    /// Sends a request and reads its response.
    func request(
        _ method: String = "GET", _ path: String, headers: [String: String] = [:], body: Data? = nil,
        timeoutMilliseconds: Int32 = 10000
    ) throws -> HTTPReply {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var data = Data(head.utf8)
        if let body { data.append(body) }
        try send(data)
        return try readResponse(timeoutMilliseconds: timeoutMilliseconds)
    }

    private func fill(timeoutMilliseconds: Int32) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = jt_recv(fd, &chunk, chunk.count, timeoutMilliseconds)
        if n == 0 { return false }
        guard n > 0 else { throw TestFailure("recv failed: \(String(cString: strerror(Int32(-n))))") }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Reads one response (Content-Length framed).
    func readResponse(timeoutMilliseconds: Int32 = 10000) throws -> HTTPReply {
        let separator = Data("\r\n\r\n".utf8)
        while buffer.range(of: separator) == nil {
            guard try fill(timeoutMilliseconds: timeoutMilliseconds) else {
                throw TestFailure("connection closed before a response (\(buffer.count) bytes buffered)")
            }
        }
        let end = buffer.range(of: separator)!
        let headText = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
        buffer.removeSubrange(buffer.startIndex..<end.upperBound)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw TestFailure("bad status line: \(headText)")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < length {
            guard try fill(timeoutMilliseconds: timeoutMilliseconds) else { throw TestFailure("body cut short") }
        }
        let body = buffer.prefix(length)
        buffer.removeFirst(length)
        return HTTPReply(status: status, headers: headers, body: Data(body))
    }

    /// True when the server closed the connection (EOF) within the timeout.
    func waitForClose(timeoutMilliseconds: Int32 = 5000) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(Double(timeoutMilliseconds) / 1000)
        while Date() < deadline {
            let n = jt_recv(fd, &chunk, chunk.count, 200)
            if n == 0 || (n < 0 && n != -Int(ETIMEDOUT)) { return true }
        }
        return false
    }
}

/// One request on a fresh connection (from the loopback address `source` when given).
func httpRequest(
    port: Int, _ method: String = "GET", _ path: String, headers: [String: String] = [:], body: Data? = nil,
    source: String? = nil
) throws -> HTTPReply {
    let connection = try HTTPConnection(port: port, source: source)
    return try connection.request(method, path, headers: headers, body: body)
}
