import JadeCore
import JadeTransport
import JadeVectors
import NIOCore

/// The query routes beyond one vector at a time: batch search, batch get, scroll, metadata
/// update, delete by ids or filter, and count.
extension VectorRoutes {
    /// Most searches in one batch.
    static let maxBatchSearches = 100

    func registerQueries(on router: Router) {
        router.add(
            .POST, "/v1/databases/{name}/search/batch", .database(.databaseRead, parameter: "name"),
            labels: .init(timesVectorSearch: true)
        ) { r in
            r.blocking { try searchBatch(r) }
        }
        router.add(.POST, "/v1/databases/{name}/vectors/get", .database(.databaseRead, parameter: "name")) { r in
            r.blocking { try getMany(r) }
        }
        router.add(.POST, "/v1/databases/{name}/vectors/scroll", .database(.databaseRead, parameter: "name")) { r in
            r.blocking { try scroll(r) }
        }
        router.add(.PATCH, "/v1/databases/{name}/vectors/{id}", .database(.databaseWrite, parameter: "name")) { r in
            r.blocking { try patch(r) }
        }
        router.add(.POST, "/v1/databases/{name}/vectors/delete", .database(.databaseWrite, parameter: "name")) { r in
            r.blocking { try deleteMany(r) }
        }
        router.add(.POST, "/v1/databases/{name}/count", .database(.databaseRead, parameter: "name")) { r in
            r.blocking {
                let info = try database(r)
                let body = try JSONBody(r, allowEmpty: true)
                try body.allowOnly(["filter"])
                let count = try vectors.count(database: info.name, filter: try Self.filter(body))
                return .json(.object(["count": .int(count)]))
            }
        }
    }

    /// A search body (`vector`, `k`, `filter`, `score_threshold`, `ef`, `exact`,
    /// `include_values`, `include_metadata`), checked against the database.
    static func searchRequest(_ body: JSONBody, info: VectorDatabaseInfo) throws -> SearchRequest {
        try body.allowOnly([
            "vector", "k", "filter", "include_values", "include_metadata", "score_threshold", "ef", "exact",
        ])
        let query = try floats(body.fields["vector"], what: body.path + "vector")
        if query.count != info.dimension {
            throw APIError(
                .badRequest, "dimension_mismatch",
                "\(body.path)vector has \(query.count) values; the database's dimension is \(info.dimension).")
        }
        if info.metric == .cosine { try checkCosineNorm(query, what: body.path + "vector") }
        let k = try body.int("k") ?? 10
        guard (1...1000).contains(k) else { throw APIError.invalid("\"\(body.path)k\" must be from 1 to 1000.") }
        // On a flat index `ef` (the breadth of an HNSW search) is checked and has nothing to
        // widen, and `exact` is what it does anyway.
        let ef = try body.int("ef")
        if let ef, !(k...10_000).contains(ef) {
            throw APIError.invalid("\"\(body.path)ef\" must be from k (\(k)) to 10000.")
        }
        let exact = try body.bool("exact") ?? false
        var threshold: Float?
        switch body.fields["score_threshold"] {
        case nil, .null?: break
        case .int(let i)?: threshold = Float(i)
        case .double(let d)? where d.isFinite && abs(d) <= maximumMagnitude: threshold = Float(d)
        default: throw APIError.invalid("\"\(body.path)score_threshold\" must be a number.")
        }
        return SearchRequest(
            query: query, k: k, filter: try filter(body), scoreThreshold: threshold,
            includeValues: try body.bool("include_values") ?? false,
            includeMetadata: try body.bool("include_metadata") ?? false, ef: ef, exact: exact)
    }

    /// The body's `filter` (absent or null: none).
    static func filter(_ body: JSONBody) throws -> VectorFilter? {
        guard let value = body.fields["filter"], value != .null else { return nil }
        return try VectorFilter.parse(value, what: body.path + "filter")
    }

    func searchBatch(_ r: RequestContext) throws -> HTTPResponse {
        let info = try database(r)
        let body = try JSONBody(r)
        try body.allowOnly(["searches"])
        guard case .array(let items)? = body.fields["searches"], (1...Self.maxBatchSearches).contains(items.count)
        else {
            throw APIError.invalid("\"searches\" must be a list of 1 to \(Self.maxBatchSearches) search bodies.")
        }
        let requests = try items.enumerated().map { index, item in
            guard case .object(let fields) = item else {
                throw APIError.invalid("searches[\(index)] must be an object.")
            }
            return try Self.searchRequest(JSONBody(fields: fields, path: "searches[\(index)]."), info: info)
        }
        let results = try vectors.search(database: info.name, batch: requests)
        var buffer = ByteBuffer()
        buffer.writeStaticString("{\"results\":[")
        for (i, hits) in results.enumerated() {
            if i > 0 { buffer.writeStaticString(",") }
            try Self.renderHits(hits, into: &buffer, limit: maxResponseBytes)
        }
        buffer.writeStaticString("]}")
        return HTTPResponse(body: buffer)
    }

    /// Ids from `ids`: 1 to `VectorStore.maxIDsPerRequest` strings of 1 to 256 bytes.
    static func ids(_ body: JSONBody) throws -> [String] {
        guard let ids = try body.strings("ids"), (1...VectorStore.maxIDsPerRequest).contains(ids.count) else {
            throw APIError.invalid("\"ids\" must be a list of 1 to \(VectorStore.maxIDsPerRequest) vector ids.")
        }
        for id in ids where id.isEmpty || id.utf8.count > 256 {
            throw APIError.invalid("\"ids\" holds an id that is not 1 to 256 bytes long.")
        }
        return ids
    }

    func getMany(_ r: RequestContext) throws -> HTTPResponse {
        let info = try database(r)
        let body = try JSONBody(r)
        try body.allowOnly(["ids", "include_values", "include_metadata"])
        let entries = try vectors.get(
            database: info.name, ids: try Self.ids(body), includeValues: try body.bool("include_values") ?? true,
            includeMetadata: try body.bool("include_metadata") ?? true)
        var buffer = ByteBuffer()
        buffer.writeStaticString("{\"vectors\":")
        try Self.renderEntries(entries, into: &buffer, limit: maxResponseBytes)
        buffer.writeStaticString("}")
        return HTTPResponse(body: buffer)
    }

    func scroll(_ r: RequestContext) throws -> HTTPResponse {
        let info = try database(r)
        let body = try JSONBody(r, allowEmpty: true)
        try body.allowOnly(["limit", "cursor", "filter", "include_values", "include_metadata"])
        let limit = try body.int("limit") ?? 100
        guard (1...1000).contains(limit) else { throw APIError.invalid("\"limit\" must be from 1 to 1000.") }
        let page = try vectors.scroll(
            database: info.name, limit: limit, cursor: try body.string("cursor", maxBytes: 512),
            filter: try Self.filter(body), includeValues: try body.bool("include_values") ?? false,
            includeMetadata: try body.bool("include_metadata") ?? true)
        var buffer = ByteBuffer()
        buffer.writeStaticString("{\"next_cursor\":")
        (page.nextCursor.map { JSON.string($0) } ?? .null).write(to: &buffer)
        buffer.writeStaticString(",\"vectors\":")
        try Self.renderEntries(page.vectors, into: &buffer, limit: maxResponseBytes)
        buffer.writeStaticString("}")
        return HTTPResponse(body: buffer)
    }

    func patch(_ r: RequestContext) throws -> HTTPResponse {
        let info = try database(r)
        let body = try JSONBody(r)
        try body.allowOnly(["metadata"])
        guard case .object(let fields)? = body.fields["metadata"] else {
            throw APIError.invalid("\"metadata\" must be an object of keys to values (null removes a key).")
        }
        var changes: [String: MetadataValue?] = [:]
        for (key, value) in fields {
            if value == .null {
                changes[key] = .some(nil)
                continue
            }
            switch value {
            case .string(let s): changes[key] = .string(s)
            case .int(let i): changes[key] = .number(Double(i))
            case .double(let d): changes[key] = .number(d)
            case .bool(let b): changes[key] = .bool(b)
            default:
                throw APIError.invalid(
                    "\"metadata.\(key)\" must be a string, a number, a boolean or null (metadata is flat).")
            }
        }
        let record = try vectors.updateMetadata(database: info.name, id: r.parameter("id"), changes: changes)
        return .json(
            .object([
                "id": .string(record.id), "values": .array(record.values.map { .float($0) }),
                "metadata": Self.metadata(record.metadata),
            ]))
    }

    func deleteMany(_ r: RequestContext) throws -> HTTPResponse {
        let info = try database(r)
        let body = try JSONBody(r)
        try body.allowOnly(["ids", "filter"])
        let deleted: Int
        switch (body.fields["ids"], body.fields["filter"]) {
        case (let ids?, nil) where ids != .null:
            deleted = try vectors.delete(database: info.name, ids: try Self.ids(body))
        case (nil, let filter?) where filter != .null:
            guard let filter = try Self.filter(body) else { throw APIError.invalid("\"filter\" is required.") }
            deleted = try vectors.delete(database: info.name, filter: filter)
        default:
            throw APIError.invalid("Give exactly one of \"ids\" and \"filter\" (an empty filter deletes every vector).")
        }
        return .json(.object(["deleted": .int(deleted)]))
    }

    /// `[{"id", "metadata"?, "values"?}, ...]`, given up with 422 past `limit` bytes.
    static func renderEntries(_ entries: [VectorEntry], into buffer: inout ByteBuffer, limit: Int) throws {
        try renderVectors(
            entries, into: &buffer, limit: limit, id: \.id, metadata: \.metadata, score: { _ in nil }, values: \.values)
    }
}
