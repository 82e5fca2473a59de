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

    /// The mask of an API key, if any.
    var keyPermissions: Set<Permission>? {
        if case .apiKey(_, let permissions) = credential { return permissions }
        return nil
    }
}

/// Where a credential came from in the request.
public enum PresentedCredential: Sendable {
    case session(String)
    case apiKey(String)

    /// Parses `Authorization: Bearer …` / `Authorization: ApiKey …` or `X-API-Key: …`.
    /// Nil when absent; throws when present but malformed (never reaches the database).
    public static func parse(authorization: String?, apiKeyHeader: String?) throws -> PresentedCredential? {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2 else { throw AuthError.unauthenticated }
            let scheme = parts[0].lowercased()
            let value = parts[1].trimmingCharacters(in: .whitespaces)[...]
            if scheme == "bearer", Tokens.isWellFormed(value, .session) { return .session(String(value)) }
            if scheme == "apikey" || scheme == "bearer", Tokens.isWellFormed(value, .apiKey) {
                return .apiKey(String(value))
            }
            throw AuthError.unauthenticated
        }
        if let apiKeyHeader {
            let value = apiKeyHeader.trimmingCharacters(in: .whitespaces)[...]
            guard Tokens.isWellFormed(value, .apiKey) else { throw AuthError.unauthenticated }
            return .apiKey(String(value))
        }
        return nil
    }

    var token: String {
        switch self {
        case .session(let t), .apiKey(let t): return t
        }
    }
}
