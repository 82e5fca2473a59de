/// Prometheus text exposition, format 0.0.4.
public enum MetricsExposition {
    /// The Content-Type of a scrape.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `name="value",...` with values escaped (backslash, double quote, newline).
    static func labelText(_ labels: MetricLabels) -> String {
        var out = ""
        for (i, (name, value)) in labels.enumerated() {
            if i > 0 { out += "," }
            out += name
            out += "=\""
            for c in value.unicodeScalars {
                switch c {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(c)
                }
            }
            out += "\""
        }
        return out
    }

    /// A sample value: integers without a fraction, others in Swift's shortest form.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func seconds(nanoseconds: UInt64) -> String { format(Double(nanoseconds) / 1e9) }

    /// Renders every family of `registry`, reading recorded series from `values` (the sum of
    /// the blocks, indexed like the registry's block) and evaluating collectors.
    public static func render(_ registry: MetricsRegistry, values: UnsafeBufferPointer<UInt64>) -> String {
        var out = ""
        out.reserveCapacity(64 * 1024)
        for family in registry.families {
            var lines: [String] = []
            if let collect = family.collector {
                for (labels, value) in collect() {
                    let text = labelText(labels)
                    lines.append(family.name + (text.isEmpty ? "" : "{" + text + "}") + " " + format(value))
                }
            } else {
                for series in family.series where series.index < values.count {
                    let braces = series.labels.isEmpty ? "" : "{" + series.labels + "}"
                    switch family.kind {
                    case .counter, .gauge:
                        lines.append(family.name + braces + " " + String(values[series.index]))
                    case .histogram:
                        let b = family.buckets!
                        let prefix = series.labels.isEmpty ? "{" : "{" + series.labels + ","
                        var cumulative: UInt64 = 0
                        for (i, le) in b.labels.enumerated() {
                            cumulative &+= values[series.index + i]
                            lines.append(family.name + "_bucket" + prefix + "le=\"" + le + "\"} " + String(cumulative))
                        }
                        cumulative &+= values[series.index + b.count]
                        lines.append(family.name + "_bucket" + prefix + "le=\"+Inf\"} " + String(cumulative))
                        lines.append(
                            family.name + "_sum" + braces + " "
                                + seconds(nanoseconds: values[series.index + b.count + 1]))
                        lines.append(family.name + "_count" + braces + " " + String(cumulative))
                    }
                }
            }
            if lines.isEmpty { continue }
            out += "# HELP " + family.name + " " + family.help + "\n"
            out += "# TYPE " + family.name + " " + family.kind.rawValue + "\n"
            for line in lines {
                out += line
                out += "\n"
            }
        }
        return out
    }

    /// Renders `registry` from its own block only (a process without a shared segment).
    public static func renderLocal(_ registry: MetricsRegistry) -> String {
        render(registry, values: UnsafeBufferPointer(start: registry.block, count: registry.used))
    }
}
