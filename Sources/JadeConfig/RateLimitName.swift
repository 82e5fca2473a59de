/// The rate limits the server applies, each with its `rate_limits.<name>` keys: the one list
/// the schema, the typed configuration and the request guard all derive from. A new limit is a
/// case here (with its defaults) and its use in the request guard.
public enum RateLimitName: String, CaseIterable, Sendable, Hashable {
    /// Login attempts per client address.
    case login
    /// Registrations per client address.
    case registration
    /// Authenticated API requests per API key (or per user for sessions).
    case api
    /// Password-reset requests per account name.
    case passwordReset = "password_reset"
    /// Every request of every client, over all workers (one shared word).
    case global
    /// Password-reset requests and confirmations per client address, taken before the
    /// per-account bucket so that one address cannot fill the table with made-up account names.
    case passwordResetAddress = "password_reset_address"

    /// `rate_limits.<name>.<field>`.
    public func key(_ field: String) -> String { "rate_limits.\(rawValue).\(field)" }

    /// The shipped limit and period (seconds); the burst defaults to 0 (equal to the limit).
    public var defaults: (limit: Int, periodSeconds: Int) {
        switch self {
        case .login: return (5, 60)
        case .registration: return (3, 3600)
        case .api: return (1000, 1)
        case .passwordReset: return (3, 3600)
        case .global: return (10_000, 1)
        case .passwordResetAddress: return (20, 3600)
        }
    }
}
