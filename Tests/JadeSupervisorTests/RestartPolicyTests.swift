import Testing

@testable import JadeSupervisor

/// When the master restarts a worker and when it gives up.
@Suite struct RestartPolicyTests {
    static let ms: UInt64 = 1_000_000

    @Test func aWorkerThatKeepsDyingSoonAfterItsStartWaitsLongerEachTime() {
        var policy = RestartPolicy()
        var delays: [UInt64] = []
        for _ in 0..<10 {
            guard case .restart(let delay) = policy.servingWorkerDied(slot: 0, servedNanoseconds: 1_000 * Self.ms)
            else {
                Issue.record("a worker that served was not restarted")
                return
            }
            delays.append(delay / Self.ms)
        }
        #expect(delays == [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000])
        // One that served long enough starts the count again, without delay beyond the first.
        #expect(
            policy.servingWorkerDied(slot: 0, servedNanoseconds: 60_000 * Self.ms)
                == .restart(afterNanoseconds: 50 * Self.ms))
        #expect(
            policy.servingWorkerDied(slot: 0, servedNanoseconds: 1 * Self.ms)
                == .restart(afterNanoseconds: 100 * Self.ms))
    }

    @Test func slotsAreCountedApart() {
        var policy = RestartPolicy()
        for _ in 0..<4 { _ = policy.servingWorkerDied(slot: 0, servedNanoseconds: 0) }
        #expect(policy.servingWorkerDied(slot: 1, servedNanoseconds: 0) == .restart(afterNanoseconds: 100 * Self.ms))
        for _ in 0..<4 { _ = policy.bootFailed(slot: 0) }
        #expect(policy.bootFailed(slot: 1) == .restart(afterNanoseconds: 200 * Self.ms))
    }

    @Test func bootFailuresGiveUpAtTheLimitUnlessAWorkerBecameReady() {
        var policy = RestartPolicy()
        var decisions: [RestartPolicy.Decision] = []
        for _ in 0..<RestartPolicy.maxBootFailures { decisions.append(policy.bootFailed(slot: 2)) }
        #expect(
            decisions == [
                .restart(afterNanoseconds: 200 * Self.ms), .restart(afterNanoseconds: 400 * Self.ms),
                .restart(afterNanoseconds: 800 * Self.ms), .restart(afterNanoseconds: 1600 * Self.ms), .giveUp,
            ])
        // A ready worker forgives the slot's failures; so does a new generation.
        var forgiving = RestartPolicy()
        for _ in 0..<4 { _ = forgiving.bootFailed(slot: 0) }
        forgiving.workerReady(slot: 0)
        #expect(forgiving.bootFailures(slot: 0) == 0)
        for _ in 0..<4 { _ = forgiving.bootFailed(slot: 0) }
        forgiving.newGeneration()
        #expect(forgiving.bootFailed(slot: 0) == .restart(afterNanoseconds: 200 * Self.ms))
    }
}
