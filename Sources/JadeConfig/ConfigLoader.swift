import Foundation
import JadeCore

/// The deployment environment; selected by `JADEVECTORDB_ENV` (default development).
public enum DeploymentEnvironment: String, Sendable, CaseIterable {
    case development
    case production
}

/// One problem found while loading configuration.
public struct ConfigIssue: Sendable, CustomStringConvertible, Equatable {
    /// The key path (`server.port`), or the file or variable when no key applies.
    public let key: String
    /// Where the value came from: a file path or an environment variable.
    public let source: String
    /// The offending value as written (already redacted for secrets), if any.
    public let value: String?
    public let reason: String

    public var description: String {
        if let value { return "\(key) = \(value) (from \(source)): \(reason)" }
        return "\(key) (\(source)): \(reason)"
    }
}

/// Every problem found while loading configuration; loading reports all of them at once.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let issues: [ConfigIssue]
    public var description: String {
        "invalid configuration (\(issues.count) problem\(issues.count == 1 ? "" : "s")):\n"
            + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Loads configuration: built-in defaults for the environment, then the files of the config
/// directory (performance.json, logging.json, security_config.json, then development.json or
/// production.json), then `JADEVECTORDB_*` environment variables, then secrets from `*_FILE`
/// variables or the Docker secrets directory.
public enum ConfigLoader {
    /// Files read from the config directory, in order; later files override earlier ones.
    public static let sharedFiles = ["performance.json", "logging.json", "security_config.json"]

    /// Loads and validates. `environmentOverride` replaces `JADEVECTORDB_ENV` (check-config --env).
    public static func load(
        environment env: [String: String], environmentOverride: DeploymentEnvironment? = nil,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws(ConfigError) -> ResolvedConfig {
        var issues: [ConfigIssue] = []
        let deployment: DeploymentEnvironment
        if let environmentOverride {
            deployment = environmentOverride
        } else if let raw = env["JADEVECTORDB_ENV"], !raw.isEmpty {
            guard let parsed = DeploymentEnvironment(rawValue: raw) else {
                throw ConfigError(issues: [
                    ConfigIssue(
                        key: "environment", source: "JADEVECTORDB_ENV", value: raw,
                        reason: "must be development or production")
                ])
            }
            deployment = parsed
        } else {
            deployment = .development
        }

        var values: [String: ConfigValue] = [:]
        var sources: [String: String] = [:]
        for key in ConfigSchema.keys {
            if let v = deployment == .production ? key.productionDefault : key.developmentDefault {
                values[key.path] = v
                sources[key.path] = "default"
            }
        }

        // Config directory.
        let configDir: String
        if let explicit = env["JADEVECTORDB_CONFIG_DIR"], !explicit.isEmpty {
            configDir = explicit
        } else {
            let local = (workingDirectory as NSString).appendingPathComponent("config")
            configDir = isDirectory(local) ? local : "/etc/jadevectordb"
        }
        if !isDirectory(configDir) {
            throw ConfigError(issues: [
                ConfigIssue(
                    key: "config directory", source: "JADEVECTORDB_CONFIG_DIR", value: configDir,
                    reason: "is not a directory (set JADEVECTORDB_CONFIG_DIR, or run from a folder with config/)")
            ])
        }
        let files = sharedFiles + ["\(deployment.rawValue).json"]
        for name in files {
            let path = (configDir as NSString).appendingPathComponent(name)
            let required = name == "\(deployment.rawValue).json"
            guard FileManager.default.fileExists(atPath: path) else {
                if required {
                    issues.append(
                        ConfigIssue(
                            key: name, source: path, value: nil,
                            reason: "missing: the \(deployment.rawValue) environment needs this file"))
                }
                continue
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                issues.append(ConfigIssue(key: name, source: path, value: nil, reason: "cannot be read"))
                continue
            }
            let root: JSONValue
            do {
                root = try JSONParser.parse(data)
            } catch {
                issues.append(
                    ConfigIssue(key: name, source: path, value: nil, reason: "is not valid JSON (\(describe(error)))"))
                continue
            }
            guard case .object(let object) = root else {
                issues.append(ConfigIssue(key: name, source: path, value: nil, reason: "must be a JSON object"))
                continue
            }
            flatten(
                object, prefix: "", source: path, deployment: deployment, into: &values, sources: &sources,
                issues: &issues)
        }

        // Environment variables.
        let secretsDir = env["JADEVECTORDB_SECRETS_DIR"] ?? "/run/secrets"
        for key in ConfigSchema.keys {
            let names = [key.environmentName] + key.aliases
            var found = false
            for name in names {
                if let raw = env[name] {
                    apply(raw: raw, key: key, source: name, into: &values, sources: &sources, issues: &issues)
                    found = true
                    break
                }
            }
            guard key.isSecret, !found else { continue }
            for name in names {
                if let file = env[name + "_FILE"] {
                    if let text = readSecretFile(file) {
                        values[key.path] = .string(text)
                        sources[key.path] = name + "_FILE"
                    } else {
                        issues.append(
                            ConfigIssue(
                                key: key.path, source: name + "_FILE", value: file, reason: "file cannot be read"))
                    }
                    found = true
                    break
                }
            }
            guard !found else { continue }
            for name in names {
                let path = (secretsDir as NSString).appendingPathComponent(name.lowercased())
                if FileManager.default.fileExists(atPath: path), let text = readSecretFile(path) {
                    values[key.path] = .string(text)
                    sources[key.path] = path
                    break
                }
            }
        }

        let resolved = ResolvedConfig(
            environment: deployment, configDirectory: configDir, values: values, sources: sources)
        issues += ConfigValidator.crossCheck(resolved)
        if !issues.isEmpty { throw ConfigError(issues: issues) }
        return resolved
    }

    private static func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    private static func readSecretFile(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), var text = String(data: data, encoding: .utf8)
        else { return nil }
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }

    private static func describe(_ error: Error) -> String { String(describing: error) }

    private static func flatten(
        _ object: [String: JSONValue], prefix: String, source: String, deployment: DeploymentEnvironment,
        into values: inout [String: ConfigValue], sources: inout [String: String], issues: inout [ConfigIssue]
    ) {
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            if name.hasPrefix("_") { continue }  // "_comment" and friends
            let path = prefix.isEmpty ? name : prefix + "." + name
            if let key = ConfigSchema.byPath[path] {
                if key.isSecret && deployment == .production {
                    issues.append(
                        ConfigIssue(
                            key: path, source: source, value: "<redacted>",
                            reason:
                                "secrets may not be stored in config files in production; use \(key.aliases.first ?? key.environmentName) or its _FILE form"
                        ))
                    continue
                }
                if let converted = convert(json: value, kind: key.kind) {
                    values[path] = converted
                    sources[path] = source
                } else {
                    issues.append(
                        ConfigIssue(
                            key: path, source: source, value: key.isSecret ? "<redacted>" : value.display,
                            reason: expectation(key.kind)))
                }
            } else if case .object(let child) = value,
                ConfigSchema.keys.contains(where: { $0.path.hasPrefix(path + ".") })
            {
                flatten(
                    child, prefix: path, source: source, deployment: deployment, into: &values,
                    sources: &sources, issues: &issues)
            } else {
                issues.append(ConfigIssue(key: path, source: source, value: nil, reason: "unknown key"))
            }
        }
    }

    private static func apply(
        raw: String, key: ConfigKey, source: String, into values: inout [String: ConfigValue],
        sources: inout [String: String], issues: inout [ConfigIssue]
    ) {
        if let converted = convert(text: raw, kind: key.kind) {
            values[key.path] = converted
            sources[key.path] = source
        } else {
            issues.append(
                ConfigIssue(
                    key: key.path, source: source, value: key.isSecret ? "<redacted>" : "\"\(raw)\"",
                    reason: expectation(key.kind)))
        }
    }

    static func expectation(_ kind: ConfigKind) -> String {
        switch kind {
        case .int(let r): return "must be an integer from \(r.lowerBound) to \(r.upperBound)"
        case .double(let r): return "must be a number from \(r.lowerBound) to \(r.upperBound)"
        case .bool: return "must be true or false"
        case .string: return "must be a string"
        case .oneOf(let options): return "must be one of " + options.joined(separator: ", ")
        case .strings: return "must be a list of strings"
        }
    }

    static func convert(json: JSONValue, kind: ConfigKind) -> ConfigValue? {
        switch (kind, json) {
        case (.int(let r), .int(let i)): return r.contains(i) ? .int(i) : nil
        case (.int(let r), .double(let d)):
            guard d.rounded() == d, let i = Int(exactly: d), r.contains(i) else { return nil }
            return .int(i)
        case (.double(let r), .int(let i)): return r.contains(Double(i)) ? .double(Double(i)) : nil
        case (.double(let r), .double(let d)): return r.contains(d) ? .double(d) : nil
        case (.bool, .bool(let b)): return .bool(b)
        case (.string, .string(let s)): return .string(s)
        case (.oneOf(let options), .string(let s)): return options.contains(s) ? .string(s) : nil
        case (.strings, .array(let items)):
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { return nil }
                out.append(s)
            }
            return .strings(out)
        default: return nil
        }
    }

    static func convert(text: String, kind: ConfigKind) -> ConfigValue? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch kind {
        case .int(let r):
            guard let i = Int(trimmed), r.contains(i) else { return nil }
            return .int(i)
        case .double(let r):
            guard let d = Double(trimmed), d.isFinite, r.contains(d) else { return nil }
            return .double(d)
        case .bool:
            switch trimmed.lowercased() {
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: return nil
            }
        case .string: return .string(text)
        case .oneOf(let options): return options.contains(trimmed) ? .string(trimmed) : nil
        case .strings:
            if trimmed.isEmpty { return .strings([]) }
            return .strings(
                trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
    }
}
