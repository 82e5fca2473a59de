import Foundation
import JadeCore

/// The flat, validated result of loading: every key's value and where it came from.
public struct ResolvedConfig: Sendable {
    public let environment: DeploymentEnvironment
    public let configDirectory: String?
    public let values: [String: ConfigValue]
    public let sources: [String: String]

    public init(
        environment: DeploymentEnvironment, configDirectory: String?, values: [String: ConfigValue],
        sources: [String: String]
    ) {
        self.environment = environment
        self.configDirectory = configDirectory
        self.values = values
        self.sources = sources
    }

    public func int(_ path: String) -> Int {
        if case .int(let v) = values[path] { return v }
        preconditionFailure("config key \(path) is not an int")
    }
    public func double(_ path: String) -> Double {
        switch values[path] {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: preconditionFailure("config key \(path) is not a number")
        }
    }
    public func bool(_ path: String) -> Bool {
        if case .bool(let v) = values[path] { return v }
        preconditionFailure("config key \(path) is not a bool")
    }
    public func string(_ path: String) -> String {
        if case .string(let v) = values[path] { return v }
        preconditionFailure("config key \(path) is not a string")
    }
    public func strings(_ path: String) -> [String] {
        if case .strings(let v) = values[path] { return v }
        preconditionFailure("config key \(path) is not a list")
    }

    /// Every key with its value and source, secrets shown as `<redacted>` (or `<unset>`).
    public func redactedDump() -> [String: Any] {
        var out: [String: Any] = ["environment": environment.rawValue]
        var keys: [String: Any] = [:]
        for key in ConfigSchema.keys {
            guard let v = values[key.path] else { continue }
            let shown: Any
            if key.isSecret {
                shown = (v == .string("")) ? "<unset>" : "<redacted>"
            } else {
                shown = v.jsonObject
            }
            keys[key.path] = ["value": shown, "source": sources[key.path] ?? "default"]
        }
        out["keys"] = keys
        return out
    }

    /// The whole configuration, secrets included, as JSON: handed from the master to its
    /// workers through an inherited memfd, never through argv or the environment.
    public func serialized() -> Data {
        var vals: [String: JSONValue] = [:]
        for (k, v) in values {
            switch v {
            case .int(let i): vals[k] = .object(["i": .int(i)])
            case .double(let d): vals[k] = .object(["d": .double(d)])
            case .bool(let b): vals[k] = .object(["b": .bool(b)])
            case .string(let s): vals[k] = .object(["s": .string(s)])
            case .strings(let l): vals[k] = .object(["l": .array(l.map { .string($0) })])
            }
        }
        let object = JSONValue.object([
            "environment": .string(environment.rawValue), "config_dir": .string(configDirectory ?? ""),
            "values": .object(vals), "sources": .object(sources.mapValues { .string($0) }),
        ])
        return Data(object.text.utf8)
    }

    /// Reads what `serialized()` wrote.
    public static func deserialize(_ data: Data) -> ResolvedConfig? {
        guard case .object(let object)? = try? JSONParser.parse(data),
            case .string(let envName)? = object["environment"], let env = DeploymentEnvironment(rawValue: envName),
            case .object(let vals)? = object["values"]
        else { return nil }
        var values: [String: ConfigValue] = [:]
        for (k, box) in vals {
            guard case .object(let field) = box, let (tag, value) = field.first else { continue }
            switch (tag, value) {
            case ("i", .int(let i)): values[k] = .int(i)
            // An integral double is written without a fraction and read back as an integer.
            case ("d", .double(let d)): values[k] = .double(d)
            case ("d", .int(let i)): values[k] = .double(Double(i))
            case ("b", .bool(let b)): values[k] = .bool(b)
            case ("s", .string(let s)): values[k] = .string(s)
            case ("l", .array(let items)):
                values[k] = .strings(items.compactMap { if case .string(let s) = $0 { return s } else { return nil } })
            default: continue
            }
        }
        var sources: [String: String] = [:]
        if case .object(let map)? = object["sources"] {
            for (k, v) in map { if case .string(let s) = v { sources[k] = s } }
        }
        var dir: String?
        if case .string(let d)? = object["config_dir"], !d.isEmpty { dir = d }
        return ResolvedConfig(environment: env, configDirectory: dir, values: values, sources: sources)
    }
}
