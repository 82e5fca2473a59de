import ArgumentParser
import JadeConfig

extension JadeCommand {
    /// `jadevectordb config-reference`: every configuration key as a Markdown table, rendered from
    /// the schema the server validates against (docs/operations_runbook.md embeds this output, and
    /// a test keeps the two identical).
    struct ConfigReference: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "config-reference",
            abstract: "Print every configuration key (type, defaults, environment variable) as Markdown.")

        func run() { print(Self.markdown(), terminator: "") }

        static func markdown() -> String {
            var out = "| key | type | development | production | environment variable | description |\n"
            out += "| --- | --- | --- | --- | --- | --- |\n"
            for key in ConfigSchema.keys {
                let env = ([key.environmentName] + key.aliases).map { "`\($0)`" }.joined(separator: ", ")
                let secretNote =
                    (key.isSecret ? " Secret: also `\(key.environmentName)_FILE`." : "")
                    + (key.restartOnly ? " Read at start only: a reload keeps the running value." : "")
                out +=
                    "| `\(key.path)` | \(kind(key.kind)) | \(value(key.developmentDefault, secret: key.isSecret)) | \(value(key.productionDefault, secret: key.isSecret)) | \(env) | \(escape(key.summary))\(secretNote) |\n"
            }
            return out
        }

        static func kind(_ kind: ConfigKind) -> String {
            switch kind {
            case .int(let range): return "int \(range.lowerBound)…\(range.upperBound)"
            case .double(let range): return "number \(range.lowerBound)…\(range.upperBound)"
            case .bool: return "bool"
            case .string: return "string"
            case .oneOf(let options): return options.joined(separator: " \\| ")
            case .strings: return "list of strings"
            }
        }

        static func value(_ value: ConfigValue?, secret: Bool) -> String {
            guard let value else { return "-" }
            if secret { return value == .string("") ? "(unset)" : "(set)" }
            let text = value.description
            return text.isEmpty ? "(empty)" : "`\(escape(text))`"
        }

        static func escape(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
    }
}
