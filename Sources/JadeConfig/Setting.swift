import JadeCore

/// One configuration key declared where it is read: the key (path, type, range, defaults,
/// documentation) and the typed value of the configuration being built.
///
/// A section of `JadeConfiguration` declares its keys as `@Setting` properties, so a new key is
/// one line in its section and its use:
///
///     @Setting("server.backlog", 16...65535, dev: 1024, restartOnly: true, "Listen backlog.")
///     public var backlog: Int
///
/// The schema (`ConfigSchema.keys`) is read from the sections' declarations; a section built
/// inside `SettingSource.reading(_:_:)` holds the values of that configuration, one built outside it
/// holds the development defaults.
@propertyWrapper
public struct Setting<Value: Sendable>: Sendable {
    /// The key, as the loader, the validator and the config reference see it.
    public let key: ConfigKey
    public var wrappedValue: Value

    init(key: ConfigKey, read: (ConfigValue) -> Value?) {
        self.key = key
        let developmentDefault = key.developmentDefault.flatMap(read)
        guard let config = SettingSource.current else {
            // Only ever a schema bug, caught by the schema tests: every kind below has a default.
            guard let value = developmentDefault else { preconditionFailure("config key \(key.path) has no default") }
            wrappedValue = value
            return
        }
        // The loader gives every key a value of its kind; the default stands in for a value
        // of another kind, which only a schema bug could produce.
        let fallback = config.environment == .production ? key.productionDefault : key.developmentDefault
        if let loaded = config.values[key.path], let value = read(loaded) {
            wrappedValue = value
        } else if let value = fallback.flatMap(read) ?? developmentDefault {
            wrappedValue = value
        } else {
            preconditionFailure("config key \(key.path) has no default")
        }
    }
}

/// The configuration that sections built on this task read.
enum SettingSource {
    /// nil: sections hold the development defaults (how the schema reads the declarations).
    @TaskLocal static var current: ResolvedConfig?

    /// Builds sections of `config`: every `@Setting` initialized inside `body` reads it.
    static func reading<T>(_ config: ResolvedConfig, _ body: () -> T) -> T {
        $current.withValue(config, operation: body)
    }
}

/// What `ConfigSchema` reads from a section's `@Setting` properties.
protocol AnySetting {
    var key: ConfigKey { get }
}

extension Setting: AnySetting {}

/// A group of settings (`server.*`, `database.*`, ...): built only by `JadeConfiguration`.
public protocol ConfigSection: Sendable {
    init()
}

extension ConfigSection {
    /// The keys the section declares, in declaration order.
    static var declaredKeys: [ConfigKey] {
        Mirror(reflecting: Self()).children.compactMap { ($0.value as? AnySetting)?.key }
    }
}

// MARK: - The kinds of value a key can hold

extension Setting where Value == Int {
    /// An integer within `range`.
    public init(
        _ path: String, _ range: ClosedRange<Int>, dev: Int, prod: Int? = nil, aliases: [String] = [],
        restartOnly: Bool = false, _ summary: String
    ) {
        self.init(
            key: ConfigKey(
                path, .int(range), dev: .int(dev), prod: prod.map { .int($0) }, aliases: aliases,
                restartOnly: restartOnly, summary),
            read: { if case .int(let v) = $0 { v } else { nil } })
    }
}

extension Setting where Value == Int64 {
    /// A size given in MiB (`*_mb` keys), held in bytes.
    public init(
        _ path: String, mebibytes range: ClosedRange<Int>, dev: Int, restartOnly: Bool = false, _ summary: String
    ) {
        self.init(
            key: ConfigKey(path, .int(range), dev: .int(dev), restartOnly: restartOnly, summary),
            read: { if case .int(let v) = $0 { Int64(v) * 1_048_576 } else { nil } })
    }
}

extension Setting where Value == Duration {
    /// A whole number of `unit`s (`*_seconds`, `*_ms`, `*_days` keys), held as a `Duration`.
    public init(
        _ path: String, _ unit: TimeUnit, _ range: ClosedRange<Int>, dev: Int, prod: Int? = nil,
        restartOnly: Bool = false, _ summary: String
    ) {
        self.init(
            key: ConfigKey(
                path, .int(range), dev: .int(dev), prod: prod.map { .int($0) }, restartOnly: restartOnly, summary),
            read: { if case .int(let v) = $0 { unit.duration(v) } else { nil } })
    }
}

/// The unit of a duration key.
public enum TimeUnit: Sendable {
    case milliseconds, seconds, days

    func duration(_ count: Int) -> Duration {
        switch self {
        case .milliseconds: return .milliseconds(count)
        case .seconds: return .seconds(count)
        case .days: return .seconds(count * 86_400)
        }
    }
}

extension Setting where Value == Double {
    /// A number within `range`.
    public init(_ path: String, _ range: ClosedRange<Double>, dev: Double, _ summary: String) {
        self.init(
            key: ConfigKey(path, .double(range), dev: .double(dev), summary),
            read: {
                switch $0 {
                case .double(let v): v
                case .int(let v): Double(v)
                default: nil
                }
            })
    }
}

extension Setting where Value == Bool {
    /// `true` or `false`.
    public init(_ path: String, dev: Bool, prod: Bool? = nil, restartOnly: Bool = false, _ summary: String) {
        self.init(
            key: ConfigKey(
                path, .bool, dev: .bool(dev), prod: prod.map { .bool($0) }, restartOnly: restartOnly, summary),
            read: { if case .bool(let v) = $0 { v } else { nil } })
    }
}

extension Setting where Value == String {
    /// Any string; a secret is never logged and also read from `<ENV>_FILE` and Docker secrets.
    public init(
        _ path: String, dev: String, prod: String? = nil, secret: Bool = false, aliases: [String] = [],
        restartOnly: Bool = false, _ summary: String
    ) {
        self.init(
            key: ConfigKey(
                path, .string, dev: .string(dev), prod: prod.map { .string($0) }, secret: secret, aliases: aliases,
                restartOnly: restartOnly, summary),
            read: { if case .string(let v) = $0 { v } else { nil } })
    }

    /// One of `choices`.
    public init(
        _ path: String, oneOf choices: [String], dev: String, prod: String? = nil, aliases: [String] = [],
        _ summary: String
    ) {
        self.init(
            key: ConfigKey(
                path, .oneOf(choices), dev: .string(dev), prod: prod.map { .string($0) }, aliases: aliases, summary),
            read: { if case .string(let v) = $0 { v } else { nil } })
    }
}

extension Setting where Value == [CIDR] {
    /// A list of addresses and CIDR blocks (the validator refuses an entry that is neither).
    public init(_ path: String, cidrs dev: [String], _ summary: String) {
        self.init(
            key: ConfigKey(path, .strings, dev: .strings(dev), summary),
            read: { if case .strings(let v) = $0 { v.compactMap { CIDR($0) } } else { nil } })
    }
}

extension Setting where Value == [String] {
    /// A list of strings (a JSON array in files, comma-separated in the environment).
    public init(_ path: String, strings dev: [String], _ summary: String) {
        self.init(
            key: ConfigKey(path, .strings, dev: .strings(dev), summary),
            read: { if case .strings(let v) = $0 { v } else { nil } })
    }
}
