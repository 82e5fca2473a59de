import Testing

/// Every integration test starts real `jadevectordb` processes; they run one at a time so that
/// two servers never compete for the machine's two cores.
@Suite(.serialized) struct Integration {}
