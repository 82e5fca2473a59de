/// Checks on names, ids, values and metadata, shared by every entry point of the store.
enum VectorValidation {
    static let dimensionRange = 1...4096
    static let kRange = 1...1000
    static let maximumIDBytes = 256
    static let maximumMetadataBytes = 65_536

    /// `^[a-zA-Z0-9_-]{1,64}$`
    static func checkName(_ name: String) throws {
        let utf8 = name.utf8
        guard (1...64).contains(utf8.count),
            utf8.allSatisfy({ b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                    || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_")
                    || b == UInt8(ascii: "-")
            })
        else {
            throw VectorStoreError.invalid(
                "database name must be 1 to 64 characters of letters, digits, '_' or '-'")
        }
    }

    static func checkDimension(_ dimension: Int) throws {
        guard dimensionRange.contains(dimension) else {
            throw VectorStoreError.invalid("dimension must be between 1 and 4096, got \(dimension)")
        }
    }

    static func checkID(_ id: String) throws {
        guard (1...maximumIDBytes).contains(id.utf8.count) else {
            throw VectorStoreError.invalid("vector id must be 1 to 256 bytes of UTF-8")
        }
    }

    /// Every value finite; the count must equal `dimension`.
    static func checkValues(_ values: [Float], dimension: Int, what: String) throws {
        guard values.count == dimension else {
            throw VectorStoreError.dimensionMismatch(expected: dimension, got: values.count)
        }
        for (i, v) in values.enumerated() where !v.isFinite {
            throw VectorStoreError.invalid("\(what): value \(i) is not a finite number")
        }
    }

    /// Keys non-empty, numbers finite; returns the stored JSON text (nil for no metadata).
    static func encodeMetadata(_ metadata: Metadata, id: String) throws -> String? {
        guard !metadata.isEmpty else { return nil }
        for (key, value) in metadata {
            guard !key.isEmpty else { throw VectorStoreError.invalid("vector \(id): metadata keys must not be empty") }
            if case .number(let d) = value, !d.isFinite {
                throw VectorStoreError.invalid("vector \(id): metadata \(key) is not a finite number")
            }
        }
        let json = MetadataJSON.encode(metadata)
        guard json.utf8.count <= maximumMetadataBytes else {
            throw VectorStoreError.invalid("vector \(id): metadata exceeds \(maximumMetadataBytes) bytes")
        }
        return json
    }

    static func checkK(_ k: Int) throws {
        guard kRange.contains(k) else { throw VectorStoreError.invalid("k must be between 1 and 1000, got \(k)") }
    }
}
