/// The password rules from configuration. Violations name the rule (answered as 422).
public struct PasswordPolicy: Sendable {
    public var minimumLength: Int
    public var maximumBytes: Int
    public var requireStrong: Bool

    public init(minimumLength: Int, maximumBytes: Int, requireStrong: Bool) {
        self.minimumLength = minimumLength
        self.maximumBytes = maximumBytes
        self.requireStrong = requireStrong
    }

    /// Returns nil when acceptable, else the reason.
    public func violation(password: String, username: String) -> String? {
        if password.count < minimumLength { return "must be at least \(minimumLength) characters long" }
        if password.utf8.count > maximumBytes { return "must be at most \(maximumBytes) bytes long" }
        if password.lowercased() == username.lowercased() { return "must not be the username" }
        if requireStrong {
            if Self.common.contains(password.lowercased()) { return "is one of the most common passwords" }
            if Set(password).count < 4 { return "must contain at least 4 different characters" }
        }
        return nil
    }

    /// The most common leaked passwords (and their obvious variants), refused when strong
    /// passwords are required.
    static let common: Set<String> = [
        "123456", "123456789", "12345678", "password", "qwerty", "123123", "12345", "1234567", "111111", "1234567890",
        "abc123", "password1", "iloveyou", "1q2w3e4r", "000000", "qwerty123", "zaq12wsx", "dragon", "sunshine",
        "princess", "letmein", "654321", "monkey", "27653", "1qaz2wsx", "123321", "qwertyuiop", "superman",
        "asdfghjkl", "password123", "welcome", "welcome1", "admin", "admin123", "administrator", "passw0rd",
        "p@ssw0rd", "p@ssword", "changeme", "secret", "football", "baseball", "master", "shadow", "michael",
        "trustno1", "whatever", "starwars", "charlie", "jennifer", "hunter2", "qwerty1234", "123qwe", "1qazxsw2",
        "password12", "password1234", "passwordpassword", "correcthorsebatterystaple", "letmein123",
        "welcome123", "changeme123", "qwertyqwerty", "1234512345", "123456123456", "adminadmin", "rootroot",
        "jadevectordb", "vectordatabase", "abcdefghijkl", "aaaaaaaaaaaa", "111111111111", "123456789012",
    ]
}
