import Foundation

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
        var object: [String: Any] = ["environment": environment.rawValue]
        object["config_dir"] = configDirectory ?? ""
        var vals: [String: Any] = [:]
        for (k, v) in values {
            switch v {
            case .int(let i): vals[k] = ["i": i]
            case .double(let d): vals[k] = ["d": d]
            case .bool(let b): vals[k] = ["b": b]
            case .string(let s): vals[k] = ["s": s]
            case .strings(let l): vals[k] = ["l": l]
            }
        }
        object["values"] = vals
        object["sources"] = sources
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    /// Reads what `serialized()` wrote.
    public static func deserialize(_ data: Data) -> ResolvedConfig? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let envName = object["environment"] as? String, let env = DeploymentEnvironment(rawValue: envName),
            let vals = object["values"] as? [String: [String: Any]]
        else { return nil }
        var values: [String: ConfigValue] = [:]
        for (k, box) in vals {
            if let i = box["i"] as? Int {
                values[k] = .int(i)
            } else if let d = box["d"] as? Double {
                values[k] = .double(d)
            } else if let b = box["b"] as? Bool {
                values[k] = .bool(b)
            } else if let s = box["s"] as? String {
                values[k] = .string(s)
            } else if let l = box["l"] as? [String] {
                values[k] = .strings(l)
            }
        }
        let dir = object["config_dir"] as? String
        return ResolvedConfig(
            environment: env, configDirectory: dir?.isEmpty == false ? dir : nil, values: values,
            sources: object["sources"] as? [String: String] ?? [:])
    }
}
