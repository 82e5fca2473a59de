import Foundation
import JadeAuth
import JadeConfig
import JadeCore
import JadeShared
import JadeStore
import Logging
import Testing

@testable import JadeHTTP

/// The request guard's block list as two workers see it: one shared segment (the epoch), one
/// database, two guards.
@Suite struct RequestGuardTests {
    final class TwoWorkers {
        let directory = NSTemporaryDirectory() + "jadeguard-" + UUID().uuidString
        let store: Store
        let a: RequestGuard
        let b: RequestGuard

        init(environment: [String: String] = [:]) throws {
            let base = try AuthWorkerFixture(directory: directory, environment: environment)
            let (config, segment, auth) = (base.config, base.segment, base.auth)
            store = base.store
            a = RequestGuard(config: config, segment: segment, ipBlocks: auth.ipBlocks, logger: Logger(label: "a"))
            b = RequestGuard(config: config, segment: segment, ipBlocks: auth.ipBlocks, logger: Logger(label: "b"))
            a.refreshBlocks()
            b.refreshBlocks()
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func isBlocked(_ state: RequestGuard.BlockState) -> Bool {
        if case .blocked = state { return true }
        return false
    }

    static func isStale(_ state: RequestGuard.BlockState) -> Bool {
        if case .stale = state { return true }
        return false
    }

    @Test func aBlockOnOneWorkerMakesTheOtherWorkersListStale() throws {
        let w = try TwoWorkers()
        let ip = try #require(IPAddress("198.51.100.7"))
        if case .clear = w.b.blockState(ip) {} else { Issue.record("not clear at first") }
        _ = try w.a.block(ip, duration: 600, reason: "test", actor: "test", requestIP: nil)
        #expect(Self.isBlocked(w.a.blockState(ip)))
        // B never answers from its old list: it must read the new one first.
        #expect(Self.isStale(w.b.blockState(ip)))
        w.b.refreshBlocks()
        #expect(Self.isBlocked(w.b.blockState(ip)))
        #expect(try w.b.unblock(ip, actor: "test", requestIP: nil))
        #expect(Self.isStale(w.a.blockState(ip)))
        w.a.refreshBlocks()
        if case .clear = w.a.blockState(ip) {} else { Issue.record("still blocked after the unblock") }
    }

    @Test func failedLoginsOnOneWorkerBlockOnEvery() throws {
        let w = try TwoWorkers(environment: ["JADEVECTORDB_SECURITY_MAX_FAILED_LOGINS": "3"])
        let ip = try #require(IPAddress("203.0.113.9"))
        for _ in 0..<3 { w.a.loginFailed(ip) }
        #expect(Self.isBlocked(w.a.blockState(ip)))
        w.b.refreshBlocks()
        #expect(Self.isBlocked(w.b.blockState(ip)))
    }

    @Test func allowlistedAddressesAreNeverBlocked() throws {
        let w = try TwoWorkers(environment: ["JADEVECTORDB_SECURITY_IP_ALLOWLIST": "10.0.0.0/8"])
        let ip = try #require(IPAddress("10.1.2.3"))
        #expect(throws: APIError.self) { try w.a.block(ip, duration: 600, reason: "t", actor: "t", requestIP: nil) }
        for _ in 0..<20 { w.a.loginFailed(ip) }
        if case .clear = w.a.blockState(ip) {} else { Issue.record("an allowlisted address was blocked") }
    }
}
