import ArgumentParser
import Foundation
import JadeAuth
import JadeConfig
import JadeCore
import JadeStore
import Logging

#if canImport(Glibc)
    import Glibc
#endif

extension JadeCommand {
    /// `jadevectordb admin …`: user maintenance directly on the database (the server may run;
    /// it notices within a second and drops its caches).
    struct Admin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage users and blocked addresses directly in the database.",
            discussion: """
                Locked out? `unblock-ip` lifts an IP block, `unlock-user` clears a failed-login \
                lockout, `reset-password` sets a new password, `reset-2fa` turns off two-factor \
                authentication for a lost device, and `grant-role --role admin` restores an \
                administrator. Each is an audit event with the actor `cli`; a running server \
                applies it within a second.
                """,
            subcommands: [
                CreateUser.self, ResetPassword.self, ListUsers.self, UnlockUser.self, ListBlocks.self, UnblockIP.self,
                Reset2FA.self, GrantRole.self,
            ])
    }

    /// Opens the store and an AuthServices for a maintenance command.
    struct AdminContext {
        let auth: AuthServices
        let store: Store

        init(_ environment: EnvironmentOption) throws {
            let (resolved, _) = try environment.load()
            let config = JadeConfiguration(resolved)
            do {
                try DataDirectory.prepare(config.database.dataDirectory)
                store = try Store.open(config.database, readerCount: 1)
                try store.migrate(ServerSchema.full)
            } catch {
                FileHandle.standardError.write(Data("jadevectordb: \(error)\n".utf8))
                throw ExitCode(1)
            }
            var settings = AuthSettings(config)
            settings.maxConcurrentHashes = 1
            auth = AuthServices(
                pool: store.pool, settings: settings, epochs: LocalEpochs(), logger: Logger(label: "jadevectordb.admin")
            )
        }

        /// Runs `body`, reporting API-style errors as one line with exit 1, then tells running
        /// servers to drop their caches.
        func perform(_ body: () throws -> Void) throws {
            do {
                try body()
                try Store.bumpChangeCounter(store.pool)
            } catch let error as AuthError {
                FileHandle.standardError.write(Data("jadevectordb: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    /// Reads a password from standard input (first line), or generates one.
    static func readPassword(fromStandardInput: Bool) -> (String, generated: Bool) {
        if fromStandardInput, let line = Swift.readLine(strippingNewline: true), !line.isEmpty { return (line, false) }
        return (String(Tokens.generate(.session).dropFirst(4).prefix(24)), true)
    }

    struct CreateUser: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-user", abstract: "Create a user.")
        @OptionGroup var environment: EnvironmentOption
        @Option(help: "The username.") var username: String
        @Option(help: "An email address.") var email: String?
        @Option(name: .customLong("role"), help: "A role to assign (repeatable), e.g. admin, editor, viewer.")
        var roles: [String] = []
        @Flag(help: "Read the password from the first line of standard input (default: generate and print one).")
        var passwordStdin = false

        func run() throws {
            let context = try AdminContext(environment)
            let (password, generated) = readPassword(fromStandardInput: passwordStdin)
            try context.perform {
                let user = try context.auth.directory.createUser(
                    username: username, password: password, email: email, roles: roles, actor: .system("cli"), ip: nil)
                print("created user \(user.username) (id \(user.id))" + (generated ? " with password \(password)" : ""))
            }
        }
    }

    struct ResetPassword: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-password", abstract: "Set a user's password and end their sessions.")
        @OptionGroup var environment: EnvironmentOption
        @Option(help: "The username.") var username: String
        @Flag(help: "Read the new password from standard input (default: generate and print one).")
        var passwordStdin = false

        func run() throws {
            let context = try AdminContext(environment)
            let (password, generated) = readPassword(fromStandardInput: passwordStdin)
            try context.perform {
                guard
                    let user = try context.auth.directory.listUsers().first(where: {
                        $0.username.lowercased() == username.lowercased()
                    })
                else { throw AuthError.notFound("no user \(username)") }
                _ = try context.auth.directory.updateUser(
                    id: user.id, active: nil, email: .none, password: password, actor: .system("cli"), ip: nil)
                print("password of \(user.username) reset" + (generated ? " to \(password)" : ""))
            }
        }
    }

    struct ListUsers: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list-users", abstract: "List users.")
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let context = try AdminContext(environment)
            for u in try context.auth.directory.listUsers() {
                let flags = [u.active ? "active" : "inactive", u.locked ? "locked" : nil, u.totpEnabled ? "2fa" : nil]
                    .compactMap { $0 }.joined(separator: ",")
                print("\(u.id)\t\(u.username)\t\(u.email ?? "-")\t\(flags)\troles=\(u.roles.joined(separator: ","))")
            }
        }
    }

    /// `admin list-blocks`: the addresses blocked now (for an operator locked out of the API).
    struct ListBlocks: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list-blocks", abstract: "List blocked IP addresses (ip, until, created by, reason).")
        @OptionGroup var environment: EnvironmentOption

        func run() throws {
            let context = try AdminContext(environment)
            let blocks = try context.auth.ipBlocks.activeIPBlocks()
            if blocks.isEmpty { print("no address is blocked") }
            for b in blocks {
                let until = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: b.until))
                print("\(b.ip)\t\(until)\t\(b.createdBy)\t\(b.reason)")
            }
        }
    }

    /// `admin unblock-ip`: lifts a block directly in the database; running servers apply it
    /// within a second (the master relays the change to every worker).
    struct UnblockIP: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unblock-ip", abstract: "Lift the block of an IP address.")
        @OptionGroup var environment: EnvironmentOption
        @Argument(help: "The blocked address (IPv4 or IPv6).") var ip: String

        func run() throws {
            guard let address = IPAddress(ip) else {
                FileHandle.standardError.write(Data("jadevectordb: \(ip) is not an IPv4 or IPv6 address\n".utf8))
                throw ExitCode(2)
            }
            let context = try AdminContext(environment)
            var removed = false
            try context.perform { removed = try context.auth.ipBlocks.unblockIP(address, actor: "cli", requestIP: nil) }
            guard removed else {
                FileHandle.standardError.write(Data("jadevectordb: \(address) is not blocked\n".utf8))
                throw ExitCode(1)
            }
            print("unblocked \(address)")
        }
    }

    struct UnlockUser: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unlock-user", abstract: "Clear a lockout.")
        @OptionGroup var environment: EnvironmentOption
        @Option(help: "The username.") var username: String

        func run() throws {
            let context = try AdminContext(environment)
            try context.perform {
                try context.auth.directory.unlockUser(username: username, actor: "cli", ip: nil)
                print("unlocked \(username)")
            }
        }
    }

    /// `admin reset-2fa`: two-factor authentication off for a user who lost the device.
    struct Reset2FA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-2fa",
            abstract: "Turn off a user's two-factor authentication (lost device), clear a lockout, end their sessions."
        )
        @OptionGroup var environment: EnvironmentOption
        @Option(help: "The username.") var username: String

        func run() throws {
            let context = try AdminContext(environment)
            try context.perform {
                try context.auth.directory.resetTwoFactor(username: username, actor: "cli")
                print("two-factor authentication of \(username) turned off; log in with the password, then enrol again")
            }
        }
    }

    /// `admin grant-role`: a role for a user, without needing a user who may grant it (the way
    /// back when no administrator is left).
    struct GrantRole: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grant-role",
            abstract: "Give a user a role (admin when none is left) and reactivate the account."
        )
        @OptionGroup var environment: EnvironmentOption
        @Option(help: "The username.") var username: String
        @Option(help: "The role (built in: admin, editor, viewer).") var role: String

        func run() throws {
            let context = try AdminContext(environment)
            try context.perform {
                try context.auth.directory.grantRoleAsOperator(username: username, role: role, actor: "cli")
                print("\(username) has role \(role)")
            }
        }
    }
}
