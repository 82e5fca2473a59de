import Foundation
import JadeAuth
import JadeCore
import JadeTransport
import JadeVectors
import NIOCore

/// `/v1/databases…`: the vector database catalogue, vectors, search and per-database ACLs.
/// A caller without the route's permission gets 403 whether or not the database exists, so
/// names do not leak; a caller with it gets 404 for a database that does not exist.
public struct VectorRoutes: Sendable {
    let vectors: VectorStore
    let auth: AuthServices
    /// Rendered `GET /v1/databases/{name}` answers, reused while the description is the same
    /// (event loop only: the fast path runs there).
    private let rendered = RenderedDescriptions()

    // @unchecked Sendable: read and written only by handlers answering on the worker's single
    // event loop (the cached-description path never leaves it).
    final class RenderedDescriptions: @unchecked Sendable {
        var byName: [String: (info: VectorDatabaseInfo, response: HTTPResponse)] = [:]
    }

    /// Largest answer (`server.max_response_bytes`): search results are rendered straight into
    /// the body and given up with 422 as soon as they pass it.
    let maxResponseBytes: Int

    public init(vectors: VectorStore, auth: AuthServices, maxResponseBytes: Int = 8 << 20) {
        self.vectors = vectors
        self.auth = auth
        self.maxResponseBytes = maxResponseBytes
    }

    public func register(on router: Router) {
        router.add(.POST, "/v1/databases", .global(.databasesCreate)) { r in r.blocking { try create(r) } }
        router.add(.GET, "/v1/databases", .authenticated()) { r in
            r.blocking {
                let all = try vectors.listDatabases()
                let readable = Set(try auth.authorizer.readableDatabases(r.principal!, among: all.map(\.name)))
                return .json(.object(["databases": .array(all.filter { readable.contains($0.name) }.map(Self.info))]))
            }
        }
        router.add(.GET, "/v1/databases/{name}", .database(.databaseRead, parameter: "name")) { r in
            // Unchanged since last read (shared epoch): answered on the event loop.
            let name = r.parameter("name")
            if let info = vectors.cachedDatabase(named: name) {
                if let previous = rendered.byName[name], previous.info == info { return .now(previous.response) }
                let response = HTTPResponse.json(.object(["database": Self.info(info)]))
                if rendered.byName.count >= 10_000 { rendered.byName.removeAll(keepingCapacity: true) }
                rendered.byName[name] = (info, response)
                return .now(response)
            }
            return r.blocking { .json(.object(["database": Self.info(try database(r))])) }
        }
        router.add(.DELETE, "/v1/databases/{name}", .database(.databaseAdmin, parameter: "name")) { r in
            r.blocking {
                let name = try database(r).name
                try vectors.deleteDatabase(named: name)
                try auth.directory.dropACL(database: name)
                return .noContent
            }
        }
        router.add(.PUT, "/v1/databases/{name}/vectors", .database(.databaseWrite, parameter: "name")) { r in
            r.blocking { try upsert(r) }
        }
        router.add(.GET, "/v1/databases/{name}/vectors/{id}", .database(.databaseRead, parameter: "name")) { r in
            r.blocking {
                let name = try database(r).name
                guard let record = try vectors.get(database: name, id: r.parameter("id")) else {
                    throw APIError.notFound("No vector with that id.")
                }
                return .json(
                    .object([
                        "id": .string(record.id), "values": .array(record.values.map { .float($0) }),
                        "metadata": Self.metadata(record.metadata),
                    ]))
            }
        }
        router.add(.DELETE, "/v1/databases/{name}/vectors/{id}", .database(.databaseWrite, parameter: "name")) { r in
            r.blocking {
                let name = try database(r).name
                guard try vectors.delete(database: name, id: r.parameter("id")) else {
                    throw APIError.notFound("No vector with that id.")
                }
                return .noContent
            }
        }
        router.add(
            .POST, "/v1/databases/{name}/search", .database(.databaseRead, parameter: "name"),
            labels: .init(timesVectorSearch: true)
        ) { r in
            r.blocking { try search(r) }
        }
        registerQueries(on: router)
        router.add(.GET, "/v1/databases/{name}/acl", .database(.databaseAdmin, parameter: "name")) { r in
            r.blocking {
                let name = try database(r).name
                let entries = try auth.directory.acl(database: name).map {
                    JSON.object(["principal": .string($0.principal), "permission": .string($0.permission.rawValue)])
                }
                return .json(.object(["database": .string(name), "entries": .array(entries)]))
            }
        }
        for (method, granted) in [(HTTPMethodName.PUT, true), (.DELETE, false)] {
            router.add(method.nio, "/v1/databases/{name}/acl", .database(.databaseAdmin, parameter: "name")) { r in
                r.blocking {
                    let name = try database(r).name
                    let body = try JSONBody(r)
                    try body.allowOnly(["principal", "permission"])
                    try auth.directory.setACL(
                        database: name, principal: body.requiredString("principal", maxBytes: 128),
                        permission: Permission.parse(body.requiredString("permission", maxBytes: 64)), granted: granted,
                        actor: r.principal!, ip: r.remoteAddress)
                    return .noContent
                }
            }
        }
    }

    func database(_ r: RequestContext) throws -> VectorDatabaseInfo {
        guard let info = try vectors.database(named: r.parameter("name")) else {
            throw APIError.notFound("No database named \(r.parameter("name")).")
        }
        return info
    }

    func create(_ r: RequestContext) throws -> HTTPResponse {
        let body = try JSONBody(r)
        try body.allowOnly(["name", "dimension", "metric", "index"])
        let index = try Self.indexSettings(body.fields["index"])
        let name = try body.requiredString("name", maxBytes: 64)
        guard let dimension = try body.int("dimension") else { throw APIError.invalid("\"dimension\" is required.") }
        let metricName = try body.string("metric", maxBytes: 16) ?? "cosine"
        guard let metric = VectorMetric(rawValue: metricName) else {
            throw APIError.invalid("\"metric\" must be cosine, euclidean or dot.")
        }
        let info = try vectors.createDatabase(name: name, dimension: dimension, metric: metric, index: index)
        // The creator administers what they created.
        try auth.directory.setACL(
            database: info.name, principal: "user:\(r.principal!.userID)", permission: .databaseAdmin, granted: true,
            actor: r.principal!, ip: r.remoteAddress)
        return .json(.object(["database": Self.info(info)]), status: .created)
    }

    func upsert(_ r: RequestContext) throws -> HTTPResponse {
        let info = try database(r)
        let body = try JSONBody(r)
        try body.allowOnly(["vectors"])
        guard case .array(let items)? = body.fields["vectors"] else {
            throw APIError.invalid("\"vectors\" must be a list of {id, values, metadata?}.")
        }
        guard !items.isEmpty else { throw APIError.invalid("\"vectors\" is empty.") }
        var records: [VectorRecord] = []
        records.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard case .object(let fields) = item else {
                throw APIError.invalid("vectors[\(index)] must be an object.")
            }
            if let unknown = fields.keys.sorted().first(where: { !["id", "values", "metadata"].contains($0) }) {
                throw APIError.invalid("vectors[\(index)]: unknown field \"\(unknown)\".")
            }
            guard case .string(let id)? = fields["id"] else {
                throw APIError.invalid("vectors[\(index)].id must be a string.")
            }
            let values = try Self.floats(fields["values"], what: "vectors[\(index)].values")
            if values.count != info.dimension {
                throw APIError(
                    .badRequest, "dimension_mismatch",
                    "vectors[\(index)] has \(values.count) values; the database's dimension is \(info.dimension).")
            }
            if info.metric == .cosine { try Self.checkCosineNorm(values, what: "vectors[\(index)].values") }
            records.append(
                VectorRecord(
                    id: id, values: values,
                    metadata: try Self.metadata(fields["metadata"], what: "vectors[\(index)].metadata")))
        }
        let count = try vectors.upsert(database: info.name, vectors: records)
        return .json(.object(["upserted": .int(count)]))
    }

    func search(_ r: RequestContext) throws -> HTTPResponse {
        let info = try database(r)
        let request = try Self.searchRequest(JSONBody(r), info: info)
        let hits = try vectors.search(database: info.name, request)
        return HTTPResponse(body: try Self.render(hits, limit: maxResponseBytes))
    }

    /// `{"results": [{"id", "metadata"?, "score", "values"?}, ...]}` (keys sorted, as `JSON`
    /// writes them), written hit by hit without building a JSON tree, and given up with 422
    /// `response_too_large` once the body passes `limit` bytes: an answer too large to send
    /// costs at most `limit` bytes of memory.
    static func render(_ hits: [SearchHit], limit: Int) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeStaticString("{\"results\":")
        try renderHits(hits, into: &buffer, limit: limit)
        buffer.writeStaticString("}")
        return buffer
    }

    /// `[{"id", "metadata"?, "score", "values"?}, ...]`, given up with 422 past `limit` bytes.
    static func renderHits(_ hits: [SearchHit], into buffer: inout ByteBuffer, limit: Int) throws {
        try renderVectors(
            hits, into: &buffer, limit: limit, id: \.id, metadata: \.metadata, score: \.score, values: \.values)
    }

    /// A JSON list of vector objects (keys sorted, as `JSON` writes them), written item by item
    /// without building a JSON tree, and given up with 422 `response_too_large` once the body
    /// passes `limit` bytes: an answer too large to send costs at most `limit` bytes of memory.
    static func renderVectors<T>(
        _ items: [T], into buffer: inout ByteBuffer, limit: Int, id: (T) -> String, metadata: (T) -> Metadata?,
        score: (T) -> Float?, values: (T) -> [Float]?
    ) throws {
        buffer.writeStaticString("[")
        for (i, item) in items.enumerated() {
            if i > 0 { buffer.writeStaticString(",") }
            buffer.writeStaticString("{\"id\":")
            JSON.writeString(id(item), to: &buffer)
            if let metadata = metadata(item) {
                buffer.writeStaticString(",\"metadata\":")
                Self.metadata(metadata).write(to: &buffer)
            }
            if let score = score(item) {
                buffer.writeStaticString(",\"score\":")
                JSON.float(score).write(to: &buffer)
            }
            if let values = values(item) {
                buffer.writeStaticString(",\"values\":[")
                for (j, value) in values.enumerated() {
                    if j > 0 { buffer.writeStaticString(",") }
                    JSON.float(value).write(to: &buffer)
                }
                buffer.writeStaticString("]")
            }
            buffer.writeStaticString("}")
            if buffer.readableBytes > limit {
                throw APIError.responseTooLarge(bytes: buffer.readableBytes, limit: limit)
            }
        }
        buffer.writeStaticString("]")
    }

    /// Largest accepted |value|: 4096 × (1e15)² stays far below float32's maximum.
    static let maximumMagnitude = 1e15

    /// For cosine databases: a vector must be zero or have a normal (not underflowing) norm, so
    /// that no score is NaN or infinite.
    static func checkCosineNorm(_ values: [Float], what: String) throws {
        var sum: Float = 0
        for v in values { sum += v * v }
        if sum != 0 && !(sum >= Float.leastNormalMagnitude) {
            throw APIError.invalid("\"\(what)\" is too close to zero for cosine similarity.")
        }
    }

    static func floats(_ value: JSONValue?, what: String) throws -> [Float] {
        guard case .array(let items)? = value else { throw APIError.invalid("\"\(what)\" must be a list of numbers.") }
        var out = [Float]()
        out.reserveCapacity(items.count)
        for item in items {
            let d: Double
            switch item {
            case .int(let i): d = Double(i)
            case .double(let x): d = x
            default: throw APIError.invalid("\"\(what)\" must contain only numbers.")
            }
            // Bounded so that no dot product or distance over 4096 dimensions can overflow float32.
            guard abs(d) <= maximumMagnitude else {
                throw APIError.invalid("\"\(what)\" has a value outside ±1e15.")
            }
            out.append(Float(d))
        }
        return out
    }

    static func metadata(_ value: JSONValue?, what: String) throws -> Metadata {
        guard let value, value != .null else { return [:] }
        guard case .object(let fields) = value else {
            throw APIError.invalid("\"\(what)\" must be an object of strings, numbers and booleans.")
        }
        var out: Metadata = [:]
        for (key, v) in fields {
            switch v {
            case .string(let s): out[key] = .string(s)
            case .int(let i): out[key] = .number(Double(i))
            case .double(let d): out[key] = .number(d)
            case .bool(let b): out[key] = .bool(b)
            default:
                throw APIError.invalid("\"\(what).\(key)\" must be a string, a number or a boolean (metadata is flat).")
            }
        }
        return out
    }

    static func metadata(_ m: Metadata) -> JSON {
        .object(
            m.mapValues { v in
                switch v {
                case .string(let s): return .string(s)
                case .number(let d): return .double(d)
                case .bool(let b): return .bool(b)
                }
            })
    }

    static func info(_ i: VectorDatabaseInfo) -> JSON {
        var index: [String: JSON] = [
            "indexed_vectors": .int(i.indexedVectors),
            "state": .string(i.pendingIndexRows == 0 ? "ready" : "building"),
        ]
        switch i.index {
        case .flat:
            // Exact search over every vector: always built, covering every vector.
            index["type"] = .string("flat")
        case .hnsw(let m, let efConstruction):
            index["type"] = .string("hnsw")
            index["m"] = .int(m)
            index["ef_construction"] = .int(efConstruction)
        }
        return .object([
            "name": .string(i.name), "dimension": .int(i.dimension), "metric": .string(i.metric.rawValue),
            "vector_count": .int(i.vectorCount), "created_at": .string(i.createdAt), "index": .object(index),
        ])
    }

    /// The creation body's `index`: absent, null or `{"type": "flat"}`, or
    /// `{"type": "hnsw", "m"?, "ef_construction"?}`.
    static func indexSettings(_ value: JSON?) throws -> VectorIndexSettings {
        switch value {
        case nil, .null?: return .flat
        case .object(let index)?:
            let body = JSONBody(fields: index, path: "index.")
            switch index["type"] {
            case .string("flat")?:
                try body.allowOnly(["type"])
                return .flat
            case .string("hnsw")?:
                try body.allowOnly(["type", "m", "ef_construction"])
                let m = try body.int("m") ?? VectorIndexSettings.defaultM
                let efConstruction = try body.int("ef_construction") ?? VectorIndexSettings.defaultEfConstruction
                guard VectorIndexSettings.mRange.contains(m) else {
                    throw APIError.invalid("\"index.m\" must be from 4 to 64.")
                }
                guard VectorIndexSettings.efConstructionRange.contains(efConstruction) else {
                    throw APIError.invalid("\"index.ef_construction\" must be from 8 to 2000.")
                }
                return .hnsw(m: m, efConstruction: efConstruction)
            default: throw APIError.invalid("\"index.type\" must be \"flat\" or \"hnsw\".")
            }
        default: throw APIError.invalid("\"index\" must be an object such as {\"type\": \"hnsw\"}.")
        }
    }
}
