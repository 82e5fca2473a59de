import Foundation
import Synchronization

/// Where the master's database duties run (WAL checkpoints, the admin CLI's change counter,
/// audit purges): one serial queue off the signal loop, so that reaping, liveness checks and
/// the watchdog never wait for SQLite (a checkpoint of a large WAL, a disk that stalls).
final class MaintenanceQueue: Sendable {
    private let queue = DispatchQueue(label: "jadevectordb.maintenance")
    /// Duties queued or running: a duty is not queued again until its last run ended, so a
    /// slow disk skips rounds instead of piling them up.
    private let inFlight = InFlight()

    final class InFlight: Sendable {
        let names = Mutex<Set<String>>([])
    }

    /// Runs `work` on the queue unless the previous run of `name` has not ended.
    func run(_ name: String, _ work: @escaping @Sendable () -> Void) {
        guard inFlight.names.withLock({ $0.insert(name).inserted }) else { return }
        queue.async { [inFlight] in
            work()
            inFlight.names.withLock { _ = $0.remove(name) }
        }
    }

    /// Waits until every duty queued so far has run (before the store closes).
    func drain() { queue.sync {} }
}

/// The admin CLI's change counter as last seen by the master (read and written by its duty).
final class SeenCounter: Sendable {
    private let value: Mutex<Int>
    init(_ initial: Int) { value = Mutex(initial) }

    /// Records `counter`; true when it differs from the last one seen.
    func changed(to counter: Int) -> Bool {
        value.withLock { seen in
            guard seen != counter else { return false }
            seen = counter
            return true
        }
    }
}
