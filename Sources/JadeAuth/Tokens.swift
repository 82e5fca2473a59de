import Crypto
import Foundation

/// Random credentials and their stored form. Session tokens and API keys are 256-bit random
/// values, shown once, stored only as SHA-256, and recognisable by prefix:
/// `jvs_` + 43 base64url characters (sessions), `jvk_` + 43 (API keys), `jvr_` + 43 (resets).
public enum Tokens {
    public enum Kind: String, Sendable {
        case session = "jvs_"
        case apiKey = "jvk_"
        case passwordReset = "jvr_"
    }

    static let bodyLength = 43

    /// A new random token of `kind`.
    public static func generate(_ kind: Kind) -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<32 { bytes[i] = rng.next() }
        return kind.rawValue + base64URL(bytes)
    }

    /// True when `token` has the exact shape of a `kind` token (checked before any lookup, so
    /// garbage never reaches the database).
    public static func isWellFormed(_ token: Substring, _ kind: Kind) -> Bool {
        let utf8 = token.utf8
        guard utf8.count == 4 + bodyLength, token.hasPrefix(kind.rawValue) else { return false }
        for c in utf8.dropFirst(4) {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// SHA-256 of the token: what the database stores and looks up.
    public static func digest(_ token: some StringProtocol) -> Data { tokenDigest(token).data }

    /// SHA-256 of the token as a value (no allocation): the credential cache's key.
    public static func tokenDigest(_ token: some StringProtocol) -> TokenDigest {
        // Hash the UTF-8 bytes in place when they are contiguous (native strings): no copy.
        if let digest = token.utf8.withContiguousStorageIfAvailable({ SHA256.hash(data: UnsafeRawBufferPointer($0)) }) {
            return TokenDigest(digest)
        }
        return TokenDigest(SHA256.hash(data: Data(token.utf8)))
    }

    /// Unpadded base64url.
    public static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
            of: "/", with: "_"
        )
        .replacingOccurrences(of: "=", with: "")
    }

    /// Constant-time comparison of two byte strings.
    public static func constantTimeEquals(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }
}

/// A SHA-256 digest held in four words: hashed and compared without allocating (Foundation's
/// `Data` as a dictionary key costs an allocation and dynamic exclusivity checks per lookup).
public struct TokenDigest: Hashable, Sendable {
    let w0: UInt64
    let w1: UInt64
    let w2: UInt64
    let w3: UInt64

    init(_ digest: SHA256.Digest) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        digest.withUnsafeBytes { bytes in
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<32])) }
        }
        (w0, w1, w2, w3) = words
    }

    /// The 32 bytes, in digest order (what the database stores).
    public var data: Data {
        var words = (w0, w1, w2, w3)
        return withUnsafeBytes(of: &words) { Data($0) }
    }

    /// One word of a cryptographic digest is as good a hash input as all four (the dictionary
    /// seeds its hasher; equality still compares every word).
    public func hash(into hasher: inout Hasher) { hasher.combine(w0) }
}
