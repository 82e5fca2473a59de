import JadeCore

/// A condition on a vector's metadata (the API's filters).
///
/// `{"key": value}` is equality; `{"key": {"$op": operand, ...}}` applies operators (all must
/// hold); the keys of one object must all match; `{"$or": [filter, ...]}` and
/// `{"$not": filter}` combine filters. A comparison with a missing key, or with a value of
/// another type, does not match, whatever the operator (`$ne` and `$nin` included: use `$not`
/// to match a missing key). Strings order by their UTF-8 bytes, numbers numerically; booleans
/// only compare for (in)equality.
public indirect enum VectorFilter: Sendable, Hashable {
    /// Every filter holds (one JSON object's keys).
    case all([VectorFilter])
    /// At least one filter holds.
    case any([VectorFilter])
    /// The filter does not hold.
    case not(VectorFilter)
    /// The metadata has `key` and its value satisfies the comparison.
    case compare(key: String, FilterComparison)

    /// Equality on every key of `metadata` (the original filter form).
    public static func equal(_ metadata: Metadata) -> VectorFilter {
        .all(metadata.keys.sorted().map { .compare(key: $0, .equal(metadata[$0]!)) })
    }

    /// Whether vector metadata (nil: none) satisfies the filter.
    public func matches(_ metadata: Metadata?) -> Bool {
        switch self {
        case .all(let filters):
            for filter in filters where !filter.matches(metadata) { return false }
            return true
        case .any(let filters):
            for filter in filters where filter.matches(metadata) { return true }
            return false
        case .not(let filter):
            return !filter.matches(metadata)
        case .compare(let key, let comparison):
            guard let value = metadata?[key] else { return false }
            return comparison.holds(for: value)
        }
    }

    /// True when every vector matches (an empty object).
    public var matchesEverything: Bool {
        if case .all(let filters) = self { return filters.allSatisfy(\.matchesEverything) }
        return false
    }
}

/// One operator of a filter and its operand.
public enum FilterComparison: Sendable, Hashable {
    case equal(MetadataValue)
    case notEqual(MetadataValue)
    case greater(MetadataValue)
    case greaterOrEqual(MetadataValue)
    case less(MetadataValue)
    case lessOrEqual(MetadataValue)
    case oneOf([MetadataValue])
    case noneOf([MetadataValue])

    /// Whether `value` (present) satisfies the comparison.
    func holds(for value: MetadataValue) -> Bool {
        switch self {
        case .equal(let operand): return value == operand
        case .notEqual(let operand): return Self.sameType(value, operand) && value != operand
        case .greater(let operand): return Self.order(value, operand).map { $0 > 0 } ?? false
        case .greaterOrEqual(let operand): return Self.order(value, operand).map { $0 >= 0 } ?? false
        case .less(let operand): return Self.order(value, operand).map { $0 < 0 } ?? false
        case .lessOrEqual(let operand): return Self.order(value, operand).map { $0 <= 0 } ?? false
        case .oneOf(let operands): return operands.contains(value)
        case .noneOf(let operands):
            return operands.contains { Self.sameType(value, $0) } && !operands.contains(value)
        }
    }

    static func sameType(_ a: MetadataValue, _ b: MetadataValue) -> Bool {
        switch (a, b) {
        case (.string, .string), (.number, .number), (.bool, .bool): return true
        default: return false
        }
    }

    /// -1, 0 or 1 for two numbers or two strings (UTF-8 byte order); nil for other pairs.
    static func order(_ a: MetadataValue, _ b: MetadataValue) -> Int? {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.string(let x), .string(let y)):
            var i = x.utf8.makeIterator()
            var j = y.utf8.makeIterator()
            while true {
                switch (i.next(), j.next()) {
                case (nil, nil): return 0
                case (nil, _): return -1
                case (_, nil): return 1
                case (let p?, let q?): if p != q { return p < q ? -1 : 1 }
                }
            }
        default: return nil
        }
    }
}

extension VectorFilter {
    /// Deepest nesting of `$or` / `$not` accepted.
    public static let maxDepth = 16
    /// Most conditions (and operands of `$in` / `$nin`) in one filter.
    public static let maxTerms = 1024

    /// Reads a filter from its JSON form; anything else (an unknown operator, a list where a
    /// value belongs, null, nesting past `maxDepth`) is `invalid`, with a sentence naming it.
    public static func parse(_ json: JSONValue, what: String = "filter") throws -> VectorFilter {
        var terms = 0
        return try parse(json, path: what, depth: 0, terms: &terms)
    }

    private static func parse(_ json: JSONValue, path: String, depth: Int, terms: inout Int) throws -> VectorFilter {
        guard depth < maxDepth else {
            throw VectorStoreError.invalid("\"\(path)\" nests deeper than \(maxDepth) levels")
        }
        guard case .object(let fields) = json else {
            throw VectorStoreError.invalid("\"\(path)\" must be an object of conditions")
        }
        var all: [VectorFilter] = []
        for key in fields.keys.sorted() {
            let value = fields[key]!
            let here = "\(path).\(key)"
            switch key {
            case "$or":
                guard case .array(let items) = value, !items.isEmpty else {
                    throw VectorStoreError.invalid("\"\(here)\" must be a non-empty list of filters")
                }
                all.append(
                    .any(
                        try items.enumerated().map { i, item in
                            try parse(item, path: "\(here)[\(i)]", depth: depth + 1, terms: &terms)
                        }))
            case "$not":
                all.append(.not(try parse(value, path: here, depth: depth + 1, terms: &terms)))
            case let op where op.hasPrefix("$"):
                throw VectorStoreError.invalid(
                    "\"\(here)\": unknown operator \(op) (at this level only $or and $not; on a key: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin)"
                )
            default:
                terms += 1
                if case .object(let operators) = value {
                    guard !operators.isEmpty else {
                        throw VectorStoreError.invalid("\"\(here)\" must name at least one operator")
                    }
                    for op in operators.keys.sorted() {
                        all.append(
                            .compare(
                                key: key, try comparison(op, operators[op]!, path: "\(here).\(op)", terms: &terms)))
                    }
                } else {
                    all.append(.compare(key: key, .equal(try scalar(value, path: here))))
                }
            }
            guard terms <= maxTerms else {
                throw VectorStoreError.invalid("\"\(path)\" has more than \(maxTerms) conditions")
            }
        }
        return .all(all)
    }

    private static func comparison(_ op: String, _ operand: JSONValue, path: String, terms: inout Int) throws
        -> FilterComparison
    {
        switch op {
        case "$eq": return .equal(try scalar(operand, path: path))
        case "$ne": return .notEqual(try scalar(operand, path: path))
        case "$gt", "$gte", "$lt", "$lte":
            let value = try scalar(operand, path: path)
            if case .bool = value {
                throw VectorStoreError.invalid("\"\(path)\" orders numbers or strings, not booleans")
            }
            switch op {
            case "$gt": return .greater(value)
            case "$gte": return .greaterOrEqual(value)
            case "$lt": return .less(value)
            default: return .lessOrEqual(value)
            }
        case "$in", "$nin":
            guard case .array(let items) = operand, !items.isEmpty else {
                throw VectorStoreError.invalid("\"\(path)\" must be a non-empty list of values")
            }
            terms += items.count
            guard terms <= maxTerms else {
                throw VectorStoreError.invalid("\"\(path)\" has more than \(maxTerms) values")
            }
            let values = try items.enumerated().map { i, item in try scalar(item, path: "\(path)[\(i)]") }
            return op == "$in" ? .oneOf(values) : .noneOf(values)
        default:
            throw VectorStoreError.invalid(
                "\"\(path)\": unknown operator \(op) (known: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin)")
        }
    }

    /// A string, a finite number or a boolean.
    static func scalar(_ json: JSONValue, path: String) throws -> MetadataValue {
        switch json {
        case .string(let s): return .string(s)
        case .int(let i): return .number(Double(i))
        case .double(let d) where d.isFinite: return .number(d)
        case .float(let f) where f.isFinite: return .number(Double(f))
        case .bool(let b): return .bool(b)
        default:
            throw VectorStoreError.invalid("\"\(path)\" must be a string, a number or a boolean")
        }
    }
}
