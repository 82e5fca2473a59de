/// Who a request acts as, once its credential has been verified.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        case session(id: Int64)
        /// An API key; `permissions` (nil: all of the owner's) masks what the owner may do.
        case apiKey(id: Int64, permissions: Set<Permission>?)
    }

    /// Why a session may do only a few things.
    public enum Restriction: String, Sendable, Equatable {
        /// The password expired: only a password change (and me, logout).
        case passwordExpired = "password_expired"
        /// Two-factor enrolment is mandatory for this administrator first.
        case twoFactorEnrollment = "two_factor_enrollment_required"
    }

    public let userID: Int64
    public let username: String
    public let credential: Credential
    public let restriction: Restriction?

    public init(userID: Int64, username: String, credential: Credential, restriction: Restriction?) {
        self.userID = userID
        self.username = username
        self.credential = credential
        self.restriction = restriction
    }

    /// The user id of ``system(_:)`` principals (SQLite row ids start at 1: no user has it).
    public static let systemUserID: Int64 = 0

    /// The operator at the command line (or the server bootstrapping itself): not a user, bound
    /// by no grant (it holds the database file). Never produced from a request's credential.
    public static func system(_ name: String) -> Principal {
        Principal(userID: systemUserID, username: name, credential: .session(id: 0), restriction: nil)
    }

    /// The mask of an API key, if any.
    public var keyPermissions: Set<Permission>? {
        if case .apiKey(_, let permissions) = credential { return permissions }
        return nil
    }
}

/// Where a credential came from in the request.
public enum PresentedCredential: Sendable, Equatable {
    case session(String)
    case apiKey(String)

    /// Parses `Authorization: Bearer …` / `Authorization: ApiKey …` or `X-API-Key: …`.
    /// Nil when absent; throws when present but malformed (never reaches the database).
    public static func parse(authorization: String?, apiKeyHeader: String?) throws -> PresentedCredential? {
        // Byte-level (no Foundation string bridging): this runs on every authenticated request.
        if let authorization {
            let bytes = authorization.utf8
            guard let space = bytes.firstIndex(of: UInt8(ascii: " ")) else { throw AuthError.unauthenticated }
            let scheme = Substring(bytes[..<space])
            let value = trimmed(Substring(bytes[bytes.index(after: space)...]))
            guard !value.isEmpty else { throw AuthError.unauthenticated }
            let bearer = equalsIgnoringCase(scheme, "bearer")
            if bearer, Tokens.isWellFormed(value, .session) { return .session(String(value)) }
            if bearer || equalsIgnoringCase(scheme, "apikey"), Tokens.isWellFormed(value, .apiKey) {
                return .apiKey(String(value))
            }
            throw AuthError.unauthenticated
        }
        if let apiKeyHeader {
            let value = trimmed(apiKeyHeader[...])
            guard Tokens.isWellFormed(value, .apiKey) else { throw AuthError.unauthenticated }
            return .apiKey(String(value))
        }
        return nil
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> Substring {
        let utf8 = text.utf8
        guard let first = utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = utf8.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return text[text.endIndex...] }
        return Substring(utf8[first...last])
    }

    /// ASCII case-insensitive equality with a lower-case `name`.
    static func equalsIgnoringCase(_ text: Substring, _ name: StaticString) -> Bool {
        let utf8 = text.utf8
        guard utf8.count == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { expected in
            var i = 0
            for byte in utf8 {
                let lower = (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
                if lower != expected[i] { return false }
                i += 1
            }
            return true
        }
    }

    var token: String {
        switch self {
        case .session(let t), .apiKey(let t): return t
        }
    }
}
