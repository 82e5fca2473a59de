import Foundation
import JadeConfig

/// The authentication settings, from configuration.
public struct AuthSettings: Sendable {
    public var policy: PasswordPolicy
    public var hashing: PasswordHasher.Parameters
    public var maxConcurrentHashes: Int
    public var pepper: String
    public var totpKey: String
    public var sessionTimeout: TimeInterval
    public var slidingSessions: Bool
    public var allowRegistration: Bool
    public var maxFailedLoginsPerAccount: Int
    public var lockoutDuration: TimeInterval
    public var passwordExpiry: TimeInterval?
    public var twoFactorMandatoryForAdmins: Bool
    public var resetTokenLifetime: TimeInterval
    public var resetDelivery: String
    public var resetSpoolDirectory: String
    public var permissionCacheSize: Int
    public var permissionCacheTTLSeconds: Int

    public init(_ config: JadeConfiguration) {
        let c = config.resolved
        policy = PasswordPolicy(
            minimumLength: c.int("authentication.min_password_length"),
            maximumBytes: c.int("authentication.max_password_bytes"),
            requireStrong: c.bool("authentication.require_strong_passwords"))
        hashing = PasswordHasher.Parameters(
            memoryKiB: UInt32(c.int("authentication.argon2_memory_kib")),
            iterations: UInt32(c.int("authentication.argon2_iterations")),
            parallelism: UInt32(c.int("authentication.argon2_parallelism")))
        maxConcurrentHashes = c.int("authentication.max_concurrent_hashes")
        pepper = c.string("secrets.password_pepper")
        totpKey = c.string("secrets.totp_encryption_key")
        sessionTimeout = TimeInterval(c.int("authentication.session_timeout_seconds"))
        slidingSessions = c.bool("authentication.session_sliding")
        allowRegistration = c.bool("authentication.allow_registration")
        maxFailedLoginsPerAccount = c.int("authentication.max_failed_logins_per_account")
        lockoutDuration = TimeInterval(c.int("authentication.lockout_duration_seconds"))
        let days = c.int("authentication.password_expiry_days")
        passwordExpiry = days > 0 ? TimeInterval(days) * 86_400 : nil
        twoFactorMandatoryForAdmins = c.bool("authentication.enable_two_factor")
        resetTokenLifetime = TimeInterval(c.int("authentication.password_reset_token_ttl_seconds"))
        resetDelivery = c.string("authentication.password_reset_delivery")
        let spool = c.string("authentication.password_reset_spool_dir")
        resetSpoolDirectory =
            spool.isEmpty ? (config.database.dataDirectory as NSString).appendingPathComponent("spool") : spool
        permissionCacheSize = c.int("cache.permission_cache_size")
        permissionCacheTTLSeconds = c.int("cache.permission_cache_ttl_seconds")
    }
}
