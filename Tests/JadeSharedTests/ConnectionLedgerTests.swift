import CJadeShm
import Foundation
import Testing

@testable import JadeShared

/// The ledger of per-address connection slots a worker holds, as its master reads it.
@Suite struct ConnectionLedgerTests {
    @Test func recordsClearsAndListsWhatIsStillHeld() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 1024)
        let table = try RateLimitTable(segment: segment)
        let ledger = try ConnectionLedger.create(capacity: 4)
        let a = table.key(kind: "connections", key: "192.0.2.1")
        let b = table.key(kind: "connections", key: "192.0.2.2")
        let first = try #require(ledger.record(a))
        let second = try #require(ledger.record(a))
        let third = try #require(ledger.record(b))
        #expect(Set([first, second, third]).count == 3)
        ledger.clear(second)
        // The master's view through its own mapping of the same memfd.
        let master = try ConnectionLedger(fd: dup(ledger.fd))
        #expect(
            master.recordedKeys().sorted { $0.raw.primary < $1.raw.primary }
                == [a, b].sorted { $0.raw.primary < $1.raw.primary })
        // Full: a fifth slot is held unrecorded; a cleared entry is reused.
        #expect(ledger.record(b) != nil && ledger.record(b) != nil)
        #expect(ledger.record(b) == nil)
        ledger.clear(first)
        #expect(ledger.record(b) == first)
    }

    @Test func onlyALedgerMemfdIsTakenAsInherited() throws {
        let ledger = try ConnectionLedger.create(capacity: 2)
        #expect(ConnectionLedger.inherited(fd: dup(ledger.fd)) != nil)
        // Any other descriptor (a file the process opened itself) is left alone.
        let path = NSTemporaryDirectory() + "ledger-test-\(getpid())"
        _ = FileManager.default.createFile(atPath: path, contents: Data(count: 4096))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = open(path, O_RDWR)
        defer { close(file) }
        #expect(ConnectionLedger.inherited(fd: file) == nil)
        #expect(ConnectionLedger.inherited(fd: 987) == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(count: 4096))
    }
}
