import Foundation
import JadeCore
import Testing

@testable import JadeAuth

@Suite struct AuthPrimitivesTests {
    @Test func argon2idRoundTripAndRehash() throws {
        let weak = PasswordHasher(parameters: .owaspMinimum, pepper: "", maxConcurrent: 1)
        let hash = try weak.hash("correct horse battery")
        #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(weak.verify("correct horse battery", against: hash))
        #expect(!weak.verify("correct horse batterY", against: hash))
        #expect(!weak.needsRehash(hash))
        let stronger = PasswordHasher(
            parameters: .init(memoryKiB: 19_456, iterations: 3, parallelism: 1), pepper: "", maxConcurrent: 1)
        #expect(stronger.needsRehash(hash))
        #expect(stronger.verify("correct horse battery", against: hash))  // old hashes still verify
        let peppered = PasswordHasher(parameters: .owaspMinimum, pepper: "server-secret", maxConcurrent: 1)
        let pepperedHash = try peppered.hash("correct horse battery")
        #expect(peppered.verify("correct horse battery", against: pepperedHash))
        #expect(!weak.verify("correct horse battery", against: pepperedHash))
    }

    @Test(arguments: [
        (59.0, "94287082"), (1_111_111_109.0, "07081804"), (1_111_111_111.0, "14050471"),
        (1_234_567_890.0, "89005924"), (2_000_000_000.0, "69279037"), (20_000_000_000.0, "65353130"),
    ])
    func totpMatchesRFC6238(time: Double, expected: String) {
        let secret = Data("12345678901234567890".utf8)
        #expect(TOTP.code(secret: secret, counter: TOTP.counter(at: time), digits: 8) == expected)
    }

    @Test func totpAcceptsNeighbouringStepsOnceEach() {
        let secret = TOTP.generateSecret()
        let now = 1_700_000_000.0
        let code = TOTP.code(secret: secret, counter: TOTP.counter(at: now - 30))
        let step = TOTP.verify(code: code, secret: secret, at: now, after: nil)
        #expect(step == TOTP.counter(at: now - 30))
        #expect(TOTP.verify(code: code, secret: secret, at: now, after: step) == nil)  // no reuse
        let old = TOTP.code(secret: secret, counter: TOTP.counter(at: now - 90))
        #expect(TOTP.verify(code: old, secret: secret, at: now, after: nil) == nil)
        #expect(TOTP.verify(code: "12345", secret: secret, at: now, after: nil) == nil)
        #expect(TOTP.base32(Data("foobar".utf8)) == "MZXW6YTBOI")
        #expect(
            TOTP.provisioningURI(secret: secret, account: "bob").hasPrefix("otpauth://totp/JadeVectorDB%3Abob?secret="))
    }

    @Test func secretBoxRoundTrips() throws {
        let box = SecretBox(passphrase: "k")
        let sealed = try box.seal(Data("seed".utf8))
        #expect(try box.open(sealed) == Data("seed".utf8))
        #expect(throws: (any Error).self) { try SecretBox(passphrase: "other").open(sealed) }
    }

    @Test func passwordPolicyNamesTheRule() {
        let policy = PasswordPolicy(minimumLength: 12, maximumBytes: 64, requireStrong: true)
        #expect(policy.violation(password: "short", username: "bob")?.contains("at least 12") == true)
        #expect(policy.violation(password: "password1234", username: "bob")?.contains("common") == true)
        #expect(policy.violation(password: "bobthebuilder", username: "BobTheBuilder")?.contains("username") == true)
        #expect(
            policy.violation(password: String(repeating: "x", count: 65), username: "bob")?.contains("64 bytes") == true
        )
        #expect(policy.violation(password: "aaaaaaaaaaaaab", username: "bob")?.contains("different") == true)
        #expect(policy.violation(password: "tulip-anchor-47-orbit", username: "bob") == nil)
    }

    @Test func tokensHaveAStrictShape() throws {
        let token = Tokens.generate(.session)
        #expect(Tokens.isWellFormed(token[...], .session))
        #expect(!Tokens.isWellFormed(token[...], .apiKey))
        #expect(!Tokens.isWellFormed(token.dropLast(), .session))
        #expect(!Tokens.isWellFormed(("jvs_" + String(repeating: "!", count: 43))[...], .session))
        #expect(Tokens.generate(.session) != token)
        #expect(throws: AuthError.unauthenticated) {
            try PresentedCredential.parse(authorization: "Bearer nope", apiKeyHeader: nil)
        }
        #expect(try PresentedCredential.parse(authorization: nil, apiKeyHeader: nil) == nil)
    }

    @Test func lruEvictsExpiresAndHonoursStamps() {
        let cache = LRUCache<Int, String>(capacity: 2, ttlSeconds: 10)
        let s0 = EpochStamp(global: 0, user: 0)
        cache.set("a", for: 1, stamp: s0, now: 0)
        cache.set("b", for: 2, stamp: s0, now: 0)
        #expect(cache.value(for: 1, stamp: s0, now: 1) == "a")  // 1 is now most recent
        cache.set("c", for: 3, stamp: s0, now: 1)  // evicts 2
        #expect(cache.value(for: 2, stamp: s0, now: 1) == nil)
        #expect(cache.value(for: 3, stamp: s0, now: 1) == "c")
        #expect(cache.evictions == 1)
        #expect(cache.value(for: 1, stamp: EpochStamp(global: 0, user: 1), now: 2) == nil)  // stale epoch
        #expect(cache.value(for: 1, stamp: s0, now: 2) == nil)  // and the stale entry is gone
        #expect(cache.value(for: 3, stamp: s0, now: 10_000_000_001) == nil)  // expired
        #expect(cache.hits == 2)
    }

    @Test func permissionsImplyTheWeakerOnes() {
        #expect(Permission.admin.implies(.databaseWrite))
        #expect(Permission.databaseAdmin.implies(.databaseRead))
        #expect(Permission.databaseWrite.implies(.databaseRead))
        #expect(!Permission.databaseRead.implies(.databaseWrite))
        #expect(!Permission.usersManage.implies(.metricsRead))
    }
}
