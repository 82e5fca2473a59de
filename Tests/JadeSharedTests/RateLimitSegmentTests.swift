import CJadeShm
import Testing

@testable import JadeShared

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct RateLimitSegmentTests {
    @Test func attachMapsTheWholeSegment() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 65_536)
        #expect(segment.size == jade_shm_total_size(65_536))
        #expect(segment.size > jade_shm_segment_size() + 65_536 * 64)
        let table = try RateLimitTable(segment: segment)
        #expect(table.statistics.capacity == 65_536)
        #expect(table.statistics.stripes == 1024)

        let worker = try SharedSegment.attach(fd: segment.fd)
        #expect(worker.size == segment.size)
        let workerTable = try RateLimitTable(segment: worker)
        #expect(workerTable.key(kind: "login", key: "a") == table.key(kind: "login", key: "a"))
        let rule = RateLimitRule(limit: 2, periodSeconds: 60)
        #expect(table.take(kind: "login", key: "a", rule: rule, now: t0).remaining == 1)
        #expect(workerTable.take(kind: "login", key: "a", rule: rule, now: t0).remaining == 0)
        #expect(!table.take(kind: "login", key: "a", rule: rule, now: t0).allowed)
    }

    @Test func numericKeysHashLikeTheirText() throws {
        let table = try RateLimitTable(segment: try SharedSegment.create(rateLimitCapacity: 1024))
        for n: Int64 in [0, 7, 42, 1_000_000, .max, -3, .min] {
            #expect(table.key(kind: "api", prefix: "user:", number: n) == table.key(kind: "api", key: "user:\(n)"))
            #expect(table.key(kind: "api", prefix: "key:", number: n) == table.key(kind: "api", key: "key:\(n)"))
        }
        #expect(table.key(kind: "api", prefix: "key:", number: 1) != table.key(kind: "api", key: "user:1"))

        // The cache answers the same keys, per prefix, also when it starts over.
        let cache = RateLimitKeyCache(table: table, kind: "api", prefixes: ["key:", "user:"], capacity: 3)
        for round in 0..<2 {
            for n: Int64 in [0, 1, 42, 1 << 62, -5] {
                #expect(cache.key(prefix: 0, number: n) == table.key(kind: "api", key: "key:\(n)"), "\(round)")
                #expect(cache.key(prefix: 1, number: n) == table.key(kind: "api", key: "user:\(n)"), "\(round)")
            }
        }
    }

    @Test func capacityIsRoundedToAPowerOfTwo() throws {
        #expect(jade_rl_normalize_capacity(1) == 16)
        #expect(jade_rl_normalize_capacity(1000) == 1024)
        #expect(jade_rl_normalize_capacity(1024) == 1024)
        #expect(jade_rl_normalize_capacity(100_000) == 131_072)
        #expect(jade_rl_normalize_capacity(1 << 30) == 1 << 24)
        let mib = Double(jade_rl_region_size(65_536)) / 1_048_576
        #expect(mib > 4.1 && mib < 4.2)
        #expect(RateLimitTable.keysPerMiB == 15_887)
    }

    @Test func segmentWithoutTable() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 0)
        #expect(segment.size == jade_shm_total_size(0))
        #expect(throws: SharedSegmentError.self) { try RateLimitTable(segment: segment) }
        let worker = try SharedSegment.attach(fd: segment.fd)
        #expect(worker.size == segment.size)
    }

    @Test func attachRejectsForeignMemory() throws {
        let zeros = [UInt8](repeating: 0, count: Int(jade_shm_segment_size()))
        let fd = jade_memfd_with_contents("not-a-segment", zeros, zeros.count)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(throws: SharedSegmentError.self) { try SharedSegment.attach(fd: fd) }
    }

    @Test func sipHashReferenceVectors() {
        // SipHash-2-4-128, key 00 01 ... 0f, message 00 01 ... (n-1) (the reference vectors).
        let expected: [Int: String] = [
            0: "a3817f04ba25a8e66df67214c7550293",
            1: "da87c1d86b99af44347659119b22fc45",
            7: "a1f1ebbed8dbc153c0b84aa61ff08239",
            8: "3b62a9ba6258f5610f83e264f31497b4",
            15: "5493e99933b0a8117e08ec0f97cfc3d9",
            16: "6ee2a4ca67b054bbfd3315bf85230577",
            63: "5150d1772f50834a503e069a973fbd7c",
        ]
        let message = [UInt8](0..<64)
        for (length, hex) in expected {
            var out: [UInt64] = [0, 0]
            jade_siphash24_128(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908, message, length, &out)
            let bytes = out.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
            let got = bytes.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
            #expect(got == hex, "length \(length)")
        }
    }
}
