import JadeShared
import JadeStore
import Logging

/// The auth services of one process over one shared ``AuthCore``, for wiring: each consumer
/// keeps the services it uses.
public struct AuthServices: Sendable {
    public let core: AuthCore
    /// Logins, session and API-key verification, logout.
    public let authenticator: Authenticator
    /// Permission decisions and their cache.
    public let authorizer: Authorizer
    /// The caller's own account: registration, password, reset, two-factor, API keys.
    public let accounts: Accounts
    /// Users, roles, groups and ACLs.
    public let directory: Directory
    /// The audit log, read.
    public let auditTrail: AuditTrail
    /// Blocked client addresses.
    public let ipBlocks: IPBlockStore

    /// `lockouts` counts the accounts the failed-login policy locks (metrics).
    public init(
        pool: ResilientPool, settings: AuthSettings, epochs: EpochSource, logger: Logger, lockouts: MetricCounter? = nil
    ) {
        let core = AuthCore(pool: pool, settings: settings, epochs: epochs, logger: logger, lockouts: lockouts)
        self.core = core
        authenticator = Authenticator(core: core)
        authorizer = Authorizer(core: core)
        accounts = Accounts(core: core)
        directory = Directory(core: core)
        auditTrail = AuditTrail(core: core)
        ipBlocks = IPBlockStore(core: core)
    }

    public var settings: AuthSettings { core.settings }
    public var epochs: EpochSource { core.epochs }
}
