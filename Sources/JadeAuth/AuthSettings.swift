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
        let a = config.authentication
        policy = PasswordPolicy(
            minimumLength: a.minPasswordLength, maximumBytes: a.maxPasswordBytes,
            requireStrong: a.requireStrongPasswords)
        hashing = PasswordHasher.Parameters(
            memoryKiB: UInt32(a.argon2MemoryKiB), iterations: UInt32(a.argon2Iterations),
            parallelism: UInt32(a.argon2Parallelism))
        maxConcurrentHashes = a.maxConcurrentHashes
        pepper = config.secrets.passwordPepper
        totpKey = config.secrets.totpEncryptionKey
        sessionTimeout = TimeInterval(a.sessionTimeout.components.seconds)
        slidingSessions = a.sessionSliding
        allowRegistration = a.allowRegistration
        maxFailedLoginsPerAccount = a.maxFailedLoginsPerAccount
        lockoutDuration = TimeInterval(a.lockoutDuration.components.seconds)
        passwordExpiry = a.passwordExpiryDays > 0 ? TimeInterval(a.passwordExpiryDays) * 86_400 : nil
        twoFactorMandatoryForAdmins = a.enableTwoFactor
        resetTokenLifetime = TimeInterval(a.passwordResetTokenTTL.components.seconds)
        resetDelivery = a.passwordResetDelivery
        let spool = a.passwordResetSpoolDirectory
        resetSpoolDirectory =
            spool.isEmpty ? (config.database.dataDirectory as NSString).appendingPathComponent("spool") : spool
        permissionCacheSize = config.cache.permissionCacheSize
        permissionCacheTTLSeconds = config.cache.permissionCacheTTLSeconds
    }
}
