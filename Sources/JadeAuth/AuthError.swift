/// Failures of authentication and authorization, each with the API's error code.
public enum AuthError: Error, Equatable, CustomStringConvertible {
    /// Missing, malformed, unknown, expired or revoked credentials; or a failed login. One
    /// message for all, so nothing leaks about which.
    case unauthenticated
    /// Login needs a TOTP code.
    case totpRequired
    /// The password has expired: only a password change is allowed.
    case passwordExpired
    /// Two-factor enrolment is mandatory for this account before anything else.
    case twoFactorEnrollmentRequired
    /// Authenticated but not allowed.
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case invalid(String)
    case weakPassword(String)
    case registrationDisabled
    case internalFailure(String)

    public var description: String {
        switch self {
        case .unauthenticated: return "unauthenticated"
        case .totpRequired: return "totp_required"
        case .passwordExpired: return "password_expired"
        case .twoFactorEnrollmentRequired: return "two_factor_enrollment_required"
        case .forbidden(let m): return "forbidden: \(m)"
        case .notFound(let m): return "not found: \(m)"
        case .conflict(let m): return "conflict: \(m)"
        case .invalid(let m): return "invalid: \(m)"
        case .weakPassword(let m): return "weak password: \(m)"
        case .registrationDisabled: return "registration disabled"
        case .internalFailure(let m): return "internal: \(m)"
        }
    }
}
