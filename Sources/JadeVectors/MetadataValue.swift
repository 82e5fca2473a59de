/// One metadata value: metadata is flat, so only strings, numbers and booleans.
public enum MetadataValue: Sendable, Hashable {
    case string(String)
    /// A finite number; JSON has no integers apart from doubles, and neither do we.
    case number(Double)
    case bool(Bool)
}

/// Metadata of one vector: a flat object of keys to values.
public typealias Metadata = [String: MetadataValue]

extension MetadataValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .string(let s): return "\"\(s)\""
        case .number(let d): return "\(d)"
        case .bool(let b): return "\(b)"
        }
    }
}
