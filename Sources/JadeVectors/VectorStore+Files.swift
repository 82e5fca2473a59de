/// The on-disk naming of segment files, for tools that copy a data directory (backup, restore).
extension VectorStore {
    /// `<database id>-<generation>.f32`, relative to `<data_dir>/vectors`.
    public static func segmentFileName(databaseID: Int64, generation: Int64) -> String {
        SegmentFile.fileName(databaseID: databaseID, generation: generation)
    }

    /// Bytes of one row: `dimension` float32 values.
    public static func rowBytes(dimension: Int) -> Int { dimension * MemoryLayout<Float>.size }
}
