/// A value held by one configuration key.
public enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    case strings([String])

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let v): return String(v)
        case .string(let v): return v
        case .strings(let v): return "[" + v.joined(separator: ",") + "]"
        }
    }

    /// The value as a JSON-compatible object.
    public var jsonObject: Any {
        switch self {
        case .int(let v): return v
        case .double(let v): return v
        case .bool(let v): return v
        case .string(let v): return v
        case .strings(let v): return v
        }
    }
}

/// The type and range a key accepts.
public enum ConfigKind: Sendable {
    case int(ClosedRange<Int>)
    case double(ClosedRange<Double>)
    case bool
    case string
    case oneOf([String])
    case strings
}

/// One configuration key: its dotted path (`server.port`), type, defaults and documentation.
public struct ConfigKey: Sendable {
    public let path: String
    public let kind: ConfigKind
    public let developmentDefault: ConfigValue?
    public let productionDefault: ConfigValue?
    /// Secrets are never logged, are redacted in dumps, and also read `<ENV>_FILE` and
    /// `/run/secrets/<env name in lower case>`.
    public let isSecret: Bool
    /// Extra environment variable names (the short forms such as `JADEVECTORDB_PORT`).
    public let aliases: [String]
    public let summary: String
    /// Read once at start: a reload keeps the running value (and logs that it did).
    public let restartOnly: Bool

    /// The environment variable that overrides the key: `JADEVECTORDB_` + path in upper case with
    /// `.` replaced by `_`.
    public var environmentName: String {
        "JADEVECTORDB_" + path.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    init(
        _ path: String, _ kind: ConfigKind, dev: ConfigValue?, prod: ConfigValue? = nil, secret: Bool = false,
        aliases: [String] = [], restartOnly: Bool = false, _ summary: String
    ) {
        self.path = path
        self.kind = kind
        self.developmentDefault = dev
        self.productionDefault = prod ?? dev
        self.isSecret = secret
        self.aliases = aliases
        self.summary = summary
        self.restartOnly = restartOnly
    }
}

/// Every key the server understands, read from the `@Setting` declarations of
/// `JadeConfiguration`'s sections and the rate limits of `RateLimitName`. A key not listed here
/// is an error in a file.
public enum ConfigSchema {
    public static let keys: [ConfigKey] = {
        let sections = JadeConfiguration.sectionKeys
        return sections.beforeRateLimits + rateLimits + sections.afterRateLimits
    }()

    public static let byPath: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })

    /// The keys a reload cannot change (sockets, data directory, shared-memory sizes).
    public static let restartOnlyKeys: [String] = keys.filter(\.restartOnly).map(\.path)

    static let rateLimits: [ConfigKey] = {
        RateLimitName.allCases.flatMap { rate in
            let (name, (limit, period)) = (rate.rawValue, rate.defaults)
            return [
                ConfigKey(
                    "rate_limits.\(name).limit", .int(1...100_000_000), dev: .int(limit),
                    "Requests allowed per period (\(name))."),
                ConfigKey(
                    "rate_limits.\(name).period_seconds", .int(1...86_400), dev: .int(period),
                    "Length of the period (\(name))."),
                ConfigKey(
                    "rate_limits.\(name).burst", .int(0...100_000_000), dev: .int(0),
                    "Bucket size (\(name)); 0 means equal to the limit."),
            ]
        }
    }()
}
