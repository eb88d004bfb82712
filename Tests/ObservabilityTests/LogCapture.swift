import Foundation
import Logging

/// Keeps every log record its loggers emit, in memory, for tests: label, level,
/// message and metadata (the logger's own merged with the call's).
/// - Note: `@unchecked Sendable`: `records` is guarded by `lock`.
final class LogCapture: @unchecked Sendable {
    struct Record: Sendable, CustomStringConvertible {
        var label: String
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata

        /// The message, label and every metadata key and value, flattened (for secret scans).
        var text: String {
            ([label, message] + metadata.flatMap { [$0.key, Self.flatten($0.value)] }).joined(separator: " ")
        }

        var description: String { "\(level) \(label): \(message) \(metadata)" }

        static func flatten(_ value: Logger.MetadataValue) -> String {
            switch value {
            case .string(let s): s
            case .stringConvertible(let c): c.description
            case .array(let a): a.map(flatten).joined(separator: " ")
            case .dictionary(let d): d.map { $0.key + " " + flatten($0.value) }.joined(separator: " ")
            }
        }
    }

    private let lock = NSLock()
    private var kept: [Record] = []

    var records: [Record] { lock.withLock { kept } }

    /// A logger at `trace` whose records land here.
    func logger(label: String) -> Logger {
        Logger(label: label) { label in Handler(label: label, capture: self) }
    }

    fileprivate func append(_ record: Record) { lock.withLock { kept.append(record) } }

    /// The records with `message`.
    func records(_ message: String) -> [Record] { records.filter { $0.message == message } }

    private struct Handler: LogHandler {
        let label: String
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, call in call }
            capture.append(Record(label: label, level: event.level, message: "\(event.message)", metadata: merged))
        }
    }
}
