import JadeCore
import Logging

extension JadeConfiguration.Logging {
    /// Points this process's logging at the configured level, format and destination.
    public func apply() {
        let destination: LogSink.Destination
        switch output {
        case "stdout": destination = .standardOutput
        case "file": destination = .file(filePath)
        default: destination = .standardError
        }
        JadeLogging.configure(level: Logger.Level(rawValue: level) ?? .info, destination: destination, json: json)
    }
}
