import CJadeShm
import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// The systemd notify protocol through libsystemd. Only the master notifies; without
/// NOTIFY_SOCKET every call is a no-op.
public struct SystemdNotifier {
    /// Watchdog interval requested by systemd (WATCHDOG_USEC for this pid), if any.
    public let watchdogInterval: UInt64?

    public init() {
        var usec: UInt64 = 0
        // unset_environment = 0: the master strips the variables from workers itself.
        watchdogInterval = sd_watchdog_enabled(0, &usec) > 0 ? usec : nil
    }

    /// Sends newline-separated `KEY=VALUE` assignments.
    public func send(_ assignments: [String]) {
        let text = assignments.map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n")
        _ = sd_notify(0, text)
    }

    public func ready(status: String) { send(["READY=1", "STATUS=\(status)", "MAINPID=\(getpid())"]) }

    /// RELOADING=1 with the monotonic timestamp systemd's notify-reload protocol requires.
    public func reloading(status: String) {
        let usec = jade_monotonic_ns() / 1000
        send(["RELOADING=1", "MONOTONIC_USEC=\(usec)", "STATUS=\(status)"])
    }

    public func stopping(status: String) { send(["STOPPING=1", "STATUS=\(status)"]) }
    public func status(_ text: String) { send(["STATUS=\(text)"]) }
    public func watchdog() { send(["WATCHDOG=1"]) }
}
