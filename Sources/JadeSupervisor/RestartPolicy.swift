/// When the master restarts a worker that exited on its own, and when it gives up: a worker
/// that served is always restarted, after a delay that doubles while it keeps dying soon after
/// its start; a worker that never became ready is restarted a few times, then the server stops
/// (or a reload is abandoned, the old workers serving on).
struct RestartPolicy: Sendable {
    /// Consecutive boot failures of one slot that end the attempt.
    static let maxBootFailures = 5
    /// A worker that dies within this time of becoming ready counts as a crash loop.
    static let shortLife: UInt64 = 10_000_000_000
    /// The longest wait before a restart.
    static let maxDelay: UInt64 = 10_000_000_000

    enum Decision: Equatable, Sendable {
        /// Start a new worker in the slot after this many nanoseconds.
        case restart(afterNanoseconds: UInt64)
        /// Stop trying: the slot's workers keep failing at boot.
        case giveUp
    }

    private var bootFailures: [Int: Int] = [:]
    private var recentCrashes: [Int: Int] = [:]

    /// A worker that had served died after `servedNanoseconds` of service.
    mutating func servingWorkerDied(slot: Int, servedNanoseconds: UInt64) -> Decision {
        let crashes = servedNanoseconds < Self.shortLife ? (recentCrashes[slot] ?? 0) + 1 : 0
        recentCrashes[slot] = crashes
        return .restart(afterNanoseconds: min(50_000_000 << UInt64(min(crashes, 8)), Self.maxDelay))
    }

    /// A worker died before it was ready.
    mutating func bootFailed(slot: Int) -> Decision {
        let failures = (bootFailures[slot] ?? 0) + 1
        bootFailures[slot] = failures
        if failures >= Self.maxBootFailures { return .giveUp }
        return .restart(afterNanoseconds: min(100_000_000 << UInt64(failures), Self.maxDelay))
    }

    /// Boot failures of `slot` so far.
    func bootFailures(slot: Int) -> Int { bootFailures[slot] ?? 0 }

    /// A worker of `slot` became ready: its earlier boot failures are forgiven.
    mutating func workerReady(slot: Int) { bootFailures[slot] = 0 }

    /// A new generation starts (or a failed one is abandoned): boot failures count afresh.
    mutating func newGeneration() { bootFailures = [:] }
}
