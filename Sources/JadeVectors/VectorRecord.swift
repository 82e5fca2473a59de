/// A vector as stored: its id, its values (float32, the database's dimension) and its metadata.
public struct VectorRecord: Sendable, Equatable {
    /// 1 to 256 bytes of UTF-8.
    public var id: String
    public var values: [Float]
    public var metadata: Metadata

    public init(id: String, values: [Float], metadata: Metadata = [:]) {
        self.id = id
        self.values = values
        self.metadata = metadata
    }
}
