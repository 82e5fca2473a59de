import CJadeShm
import Testing

@testable import JadeShared

@Suite struct SharedSegmentTests {
    @Test func createAttachAndEpochs() throws {
        let segment = try SharedSegment.create()
        let other = try SharedSegment.attach(fd: segment.fd)
        let record = segment.record(3)
        record.claim(slot: 1, generation: 7)
        #expect(other.record(3).generation == 7)
        #expect(other.record(3).state == .starting)
        #expect(segment.recordCount == Int(JADE_MAX_RECORDS))
    }
}
