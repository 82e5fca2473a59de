import CJadeShm
import Foundation
import JadeCore
import JadeShared
import Synchronization

/// Permission epochs: counters that every change to grants or credentials bumps, so a cached
/// decision stamped with an older value is a miss. In the server they live in shared memory
/// and every worker sees a bump at once.
public protocol EpochSource: AnyObject, Sendable {
    func globalEpoch() -> UInt64
    func userEpoch(_ userID: Int64) -> UInt64
    func bumpGlobal()
    func bumpUser(_ userID: Int64)
    /// Both epochs for `userID`, as one stamp (a requirement so that shared-memory epochs can
    /// read both words directly: this runs on every cached lookup).
    func stamp(_ userID: Int64) -> EpochStamp
}

extension EpochSource {
    /// Reads the stamp for `userID`. Must be taken before the database read it will guard.
    public func stamp(_ userID: Int64) -> EpochStamp { EpochStamp(global: globalEpoch(), user: userEpoch(userID)) }
}

/// Epochs in the worker's shared-memory segment.
// @unchecked Sendable: the epochs are words in shared memory, read and written with C atomics.
public final class SharedEpochs: EpochSource, @unchecked Sendable {
    let segment: SharedSegment
    /// Read with the C inline helpers: no calls into JadeShared on every cached lookup.
    private let base: UnsafeMutablePointer<jade_shm_segment_t>
    public init(_ segment: SharedSegment) {
        self.segment = segment
        base = segment.cSegment
    }
    public func stamp(_ userID: Int64) -> EpochStamp {
        EpochStamp(
            global: jade_load_u64(jade_global_epoch(base)),
            user: jade_load_u64(jade_user_epoch(base, UInt64(bitPattern: userID))))
    }
    public func globalEpoch() -> UInt64 { segment.globalEpoch }
    public func userEpoch(_ userID: Int64) -> UInt64 { segment.userEpoch(userID) }
    public func bumpGlobal() { segment.bumpGlobalEpoch() }
    public func bumpUser(_ userID: Int64) { segment.bumpUserEpoch(userID) }
}

/// Epochs private to one process (tests, command-line tools).
public final class LocalEpochs: EpochSource, Sendable {
    private let epochs = Mutex<(global: UInt64, users: [Int64: UInt64])>((0, [:]))
    public init() {}
    public func globalEpoch() -> UInt64 { epochs.withLock { $0.global } }
    public func userEpoch(_ userID: Int64) -> UInt64 { epochs.withLock { $0.users[userID] ?? 0 } }
    public func bumpGlobal() { epochs.withLock { $0.global += 1 } }
    public func bumpUser(_ userID: Int64) { epochs.withLock { $0.users[userID, default: 0] += 1 } }
}
