import Crypto
import Foundation

/// Time-based one-time passwords (RFC 6238): HMAC-SHA1, 30-second steps, 6 digits.
public enum TOTP {
    public static let step: UInt64 = 30
    public static let digits = 6

    /// The code for time step `counter` (RFC 4226 dynamic truncation).
    public static func code(secret: Data, counter: UInt64, digits: Int = digits) -> String {
        var big = counter.bigEndian
        let message = Data(bytes: &big, count: 8)
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary =
            (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The time step of a Unix time.
    public static func counter(at unixTime: TimeInterval) -> UInt64 { UInt64(max(0, unixTime)) / step }

    /// Checks `code` at the current step ±1. Returns the matching step, which the caller stores
    /// so that a step is never accepted twice (`after`: the last accepted step).
    public static func verify(code: String, secret: Data, at unixTime: TimeInterval, after lastStep: UInt64?) -> UInt64?
    {
        guard code.count == digits, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber) else { return nil }
        let now = counter(at: unixTime)
        for candidate in [now &- 1, now, now + 1] {
            if let lastStep, candidate <= lastStep { continue }
            let expected = Self.code(secret: secret, counter: candidate)
            if Tokens.constantTimeEquals(Data(expected.utf8), Data(code.utf8)) { return candidate }
        }
        return nil
    }

    /// A new random 160-bit secret.
    public static func generateSecret() -> Data {
        var rng = SystemRandomNumberGenerator()
        return Data((0..<20).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// The `otpauth://` URI authenticator apps read.
    public static func provisioningURI(secret: Data, account: String, issuer: String = "JadeVectorDB") -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let label = (issuer + ":" + account).addingPercentEncoding(withAllowedCharacters: allowed) ?? account
        let issuerParam = issuer.addingPercentEncoding(withAllowedCharacters: allowed) ?? issuer
        return
            "otpauth://totp/\(label)?secret=\(base32(secret))&issuer=\(issuerParam)&algorithm=SHA1&digits=6&period=30"
    }

    /// RFC 4648 base32 without padding.
    public static func base32(_ data: Data) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var out = ""
        var buffer: UInt32 = 0
        var bits = 0
        for byte in data {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return out
    }
}

/// Encrypts small secrets at rest (TOTP seeds) with AES-GCM under a key derived from the
/// configured `secrets.totp_encryption_key`.
// @unchecked Sendable: immutable after init (the CryptoKit key type is not declared Sendable here).
public struct SecretBox: @unchecked Sendable {
    private let key: SymmetricKey

    public init(passphrase: String) {
        key = SymmetricKey(data: SHA256.hash(data: Data(("jadevectordb-totp:" + passphrase).utf8)))
    }

    public func seal(_ plaintext: Data) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: key).combined else {
            throw AuthError.internalFailure("AES-GCM produced no output")
        }
        return combined
    }

    public func open(_ sealed: Data) throws -> Data {
        try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key)
    }
}
