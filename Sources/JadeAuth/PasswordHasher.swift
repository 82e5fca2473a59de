import CArgon2
import Crypto
import Foundation

/// Argon2id password hashing in PHC string form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so
/// parameters can be raised later: `needsRehash` tells a login to store a fresh hash. An
/// optional pepper (a server secret) is mixed in with HMAC-SHA256 before hashing. The number of
/// hashes computed at once is bounded, so a burst of logins cannot take every core.
// @unchecked Sendable: immutable parameters; the concurrency gate is a semaphore.
public final class PasswordHasher: @unchecked Sendable {
    public struct Parameters: Sendable, Equatable {
        public var memoryKiB: UInt32
        public var iterations: UInt32
        public var parallelism: UInt32

        /// OWASP's minimum for Argon2id: 19 MiB, 2 iterations, 1 lane.
        public static let owaspMinimum = Parameters(memoryKiB: 19_456, iterations: 2, parallelism: 1)

        public init(memoryKiB: UInt32, iterations: UInt32, parallelism: UInt32) {
            self.memoryKiB = memoryKiB
            self.iterations = iterations
            self.parallelism = parallelism
        }
    }

    public let parameters: Parameters
    private let pepper: SymmetricKey?
    private let slots: DispatchSemaphore
    /// A hash of a random password, verified against when the user does not exist, so unknown
    /// and known users take the same time.
    private var dummyHash = ""

    public init(parameters: Parameters, pepper: String, maxConcurrent: Int) {
        self.parameters = parameters
        self.pepper = pepper.isEmpty ? nil : SymmetricKey(data: Data(pepper.utf8))
        self.slots = DispatchSemaphore(value: max(1, maxConcurrent))
        self.dummyHash = (try? hash(Tokens.generate(.session))) ?? ""
    }

    private func prepared(_ password: String) -> [UInt8] {
        guard let pepper else { return Array(password.utf8) }
        // Hex of the HMAC: printable, fixed length, no NUL bytes.
        return Array(
            HMAC<SHA256>.authenticationCode(for: Data(password.utf8), using: pepper).map { String(format: "%02x", $0) }
                .joined().utf8)
    }

    /// Hashes a password with the configured parameters and a random 16-byte salt.
    public func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<16 { salt[i] = rng.next() }
        let input = prepared(password)
        let length = argon2_encodedlen(
            parameters.iterations, parameters.memoryKiB, parameters.parallelism, 16, 32, Argon2_id)
        var encoded = [CChar](repeating: 0, count: length + 1)
        slots.wait()
        defer { slots.signal() }
        let rc = argon2id_hash_encoded(
            parameters.iterations, parameters.memoryKiB, parameters.parallelism, input, input.count, salt, 16, 32,
            &encoded, encoded.count)
        guard rc == ARGON2_OK.rawValue else {
            throw AuthError.internalFailure("argon2: \(String(cString: argon2_error_message(rc)))")
        }
        // The encoded hash is NUL-terminated within the buffer.
        return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True when `password` matches the PHC string `encoded`.
    public func verify(_ password: String, against encoded: String) -> Bool {
        guard encoded.hasPrefix("$argon2id$") else { return false }
        let input = prepared(password)
        slots.wait()
        defer { slots.signal() }
        return argon2id_verify(encoded, input, input.count) == ARGON2_OK.rawValue
    }

    /// Spends the time of one verification without a real hash (unknown users).
    public func verifyDummy(_ password: String) {
        _ = verify(password, against: dummyHash)
    }

    /// True when `encoded` was made with weaker parameters than the configured ones.
    public func needsRehash(_ encoded: String) -> Bool {
        guard let p = Self.parameters(of: encoded) else { return true }
        return p.memoryKiB < parameters.memoryKiB || p.iterations < parameters.iterations
            || p.parallelism < parameters.parallelism
    }

    /// Parses `m=…,t=…,p=…` out of a PHC string.
    static func parameters(of encoded: String) -> Parameters? {
        let parts = encoded.split(separator: "$")
        guard parts.count >= 5, parts[0] == "argon2id" else { return nil }
        var m: UInt32?
        var t: UInt32?
        var p: UInt32?
        for field in parts[2].split(separator: ",") {
            let kv = field.split(separator: "=")
            guard kv.count == 2, let v = UInt32(kv[1]) else { return nil }
            switch kv[0] {
            case "m": m = v
            case "t": t = v
            case "p": p = v
            default: break
            }
        }
        guard let m, let t, let p else { return nil }
        return Parameters(memoryKiB: m, iterations: t, parallelism: p)
    }
}
