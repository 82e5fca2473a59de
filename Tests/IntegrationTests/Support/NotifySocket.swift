import CJadeTestSupport
import Foundation

/// A NOTIFY_SOCKET the test owns: collects the server's sd_notify datagrams with their sender pid.
final class NotifySocket {
    struct Message {
        let text: String
        let sender: pid_t
        let at: Date
        var assignments: [String: String] {
            var out: [String: String] = [:]
            for line in text.split(separator: "\n") {
                if let eq = line.firstIndex(of: "=") {
                    out[String(line[..<eq])] = String(line[line.index(after: eq)...])
                }
            }
            return out
        }
    }

    let path: String
    private let fd: Int32
    private(set) var messages: [Message] = []

    init(directory: String) throws {
        path = directory + "/notify.sock"
        let fd = jt_notify_open(path)
        guard fd >= 0 else { throw TestFailure("notify socket: \(String(cString: strerror(-fd)))") }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Receives datagrams for up to `timeout` seconds, until `predicate` matches one; returns it.
    @discardableResult
    func wait(timeout: TimeInterval, for predicate: (Message) -> Bool) throws -> Message {
        if let found = messages.first(where: predicate) { return found }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let m = receive(timeoutMilliseconds: 100) {
                if predicate(m) { return m }
            }
        }
        throw TestFailure(
            "no matching notification within \(timeout) s; got: \(messages.map(\.text).joined(separator: " | "))")
    }

    /// Receives one datagram, if any arrives in time; it is also kept in `messages`.
    func receive(timeoutMilliseconds: Int32) -> Message? {
        var buffer = [CChar](repeating: 0, count: 4096)
        var sender: pid_t = 0
        let n = jt_notify_recv(fd, &buffer, buffer.count, timeoutMilliseconds, &sender)
        guard n > 0 else { return nil }
        let message = Message(text: String(cString: buffer), sender: sender, at: Date())
        messages.append(message)
        return message
    }

    /// Drops what was received so far, reading everything pending first.
    func drain() {
        while receive(timeoutMilliseconds: 0) != nil {}
        messages.removeAll()
    }
}
