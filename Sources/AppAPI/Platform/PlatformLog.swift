import Foundation
import Logging
import Metrics

/// The platform's operation log (`DIR/platform.log`): one line per
/// operation with time, user, operation, record ID and result code. It
/// never holds a token or a password.
///
/// The log rotates: when a write would take `platform.log` past
/// ``Rotation/maximumFileBytes``, the file becomes `platform.log.1` (older
/// files move up to `.2`, `.3`…, and the one past ``Rotation/keptFiles`` is
/// deleted) and a new `platform.log` starts, so the log never takes more than
/// `maximumFileBytes × (keptFiles + 1)` bytes. Lines are never split across
/// files. A line that cannot be written (a full disk, a removed folder) is
/// counted in `forgechain_platform_log_write_failures_total` and logged at
/// error level; the operation it describes is on the chain regardless.
///
/// Configure it with ``Platform/Options/logRotation``:
/// ```swift
/// var options = Platform.Options()
/// options.logRotation = .init(maximumFileBytes: 16 << 20, keptFiles: 8)   // at most 144 MiB
/// ```
/// - Note: `@unchecked Sendable`: `handle` and `size` are guarded by `lock`.
public final class PlatformLog: @unchecked Sendable {
    /// How large the log may grow.
    public struct Rotation: Sendable, Hashable {
        /// The largest size of one log file, in bytes. Default 64 MiB; range 4 KiB...1 TiB (clamped).
        public var maximumFileBytes: Int
        /// Rotated files kept beside the current one. Default 4; range 0...99 (clamped); 0 keeps the current file only.
        public var keptFiles: Int

        /// - Parameters:
        ///   - maximumFileBytes: Optional, default 64 MiB. See ``maximumFileBytes``.
        ///   - keptFiles: Optional, default 4. See ``keptFiles``.
        public init(maximumFileBytes: Int = 64 << 20, keptFiles: Int = 4) {
            self.maximumFileBytes = maximumFileBytes
            self.keptFiles = keptFiles
        }

        var clamped: Rotation {
            Rotation(maximumFileBytes: min(1 << 40, max(4 << 10, maximumFileBytes)), keptFiles: min(99, max(0, keptFiles)))
        }
    }

    private let lock = NSLock()
    private var handle: FileHandle?
    private var size = 0
    private let logger: Logger
    private let failures: Counter
    /// The log file's path, or nil for no log.
    public let path: String?
    /// The rotation in force (``Rotation`` clamped to its ranges).
    public let rotation: Rotation

    init(path: String?, rotation: Rotation = .init(), logger: Logger = Logger(label: "forgechain.records"),
         metricsFactory: (any MetricsFactory)? = nil) {
        self.path = path
        self.rotation = rotation.clamped
        self.logger = logger
        failures = Counter(label: "forgechain_platform_log_write_failures_total", factory: metricsFactory ?? MetricsSystem.factory)
        if path != nil { lock.withLock { openIfNeeded() } }
    }

    deinit {
        do { try handle?.close() } catch { logger.error("platform log close failed", metadata: ["error": "\(error)"]) }
    }

    func write(user: String, operation: String, subject: String, code: UInt32, note: String = "") {
        write(user: user, operation: operation, entries: [(subject, code, note)])
    }

    /// Writes one line per entry with one time stamp (a confirmed batch logs every record), rotating between
    /// lines when the file would pass ``Rotation/maximumFileBytes``.
    func write(user: String, operation: String, entries: [(subject: String, code: UInt32, note: String)]) {
        guard path != nil, !entries.isEmpty else { return }
        let time = RecordTime(millisecondsSince1970: UInt64(Date().timeIntervalSince1970 * 1000)).iso8601
        let lines = entries.map { e in
            Array("\(time) user=\(user) op=\(operation) subject=\(e.subject) code=\(e.code)\(e.note.isEmpty ? "" : " " + e.note)\n".utf8)
        }
        lock.withLock { append(lines) }
    }

    /// The current file and the rotated ones, newest first, that exist.
    public var files: [String] {
        guard let path else { return [] }
        return ([path] + (0..<rotation.keptFiles).map { "\(path).\($0 + 1)" }).filter { FileManager.default.fileExists(atPath: $0) }
    }

    // MARK: - Under the lock

    private func append(_ lines: [[UInt8]]) {
        var chunk = [UInt8]()
        var inChunk = 0, lost = 0
        for line in lines {
            if size + chunk.count + line.count > rotation.maximumFileBytes, size + chunk.count > 0 {
                if !flush(&chunk) { lost += inChunk }
                inChunk = 0
                rotate()
            }
            chunk += line
            inChunk += 1
        }
        if !flush(&chunk) { lost += inChunk }
        if lost > 0 { failures.increment(by: lost) }
    }

    /// Writes `chunk` to the current file and empties it; false when it could not be written.
    private func flush(_ chunk: inout [UInt8]) -> Bool {
        defer { chunk.removeAll(keepingCapacity: true) }
        guard !chunk.isEmpty else { return true }
        openIfNeeded()
        guard let handle else { return false }
        do {
            try handle.write(contentsOf: chunk)
            size += chunk.count
            return true
        } catch {
            logger.error("platform log write failed", metadata: ["path": "\(path ?? "-")", "bytes": "\(chunk.count)", "error": "\(error)"])
            return false
        }
    }

    /// Moves `platform.log` to `.1` (and each older file one up, deleting the last) and starts a new file.
    private func rotate() {
        guard let path else { return }
        do { try handle?.close() } catch { logger.error("platform log close failed", metadata: ["path": "\(path)", "error": "\(error)"]) }
        handle = nil
        size = 0
        let fm = FileManager.default
        do {
            let oldest = rotation.keptFiles == 0 ? path : "\(path).\(rotation.keptFiles)"
            if fm.fileExists(atPath: oldest) { try fm.removeItem(atPath: oldest) }
            if rotation.keptFiles > 0 {
                for k in stride(from: rotation.keptFiles - 1, through: 0, by: -1) {
                    let from = k == 0 ? path : "\(path).\(k)"
                    if fm.fileExists(atPath: from) { try fm.moveItem(atPath: from, toPath: "\(path).\(k + 1)") }
                }
            }
        } catch {
            logger.error("platform log rotation failed", metadata: ["path": "\(path)", "error": "\(error)"])
        }
        openIfNeeded()
    }

    private func openIfNeeded() {
        guard handle == nil, let path else { return }
        let fm = FileManager.default
        if !fm.fileExists(atPath: path), !fm.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) {
            logger.error("platform log cannot be created", metadata: ["path": "\(path)"])
            return
        }
        do {
            guard let h = FileHandle(forWritingAtPath: path) else {
                logger.error("platform log cannot be opened", metadata: ["path": "\(path)"])
                return
            }
            size = Int(try h.seekToEnd())
            handle = h
        } catch {
            logger.error("platform log cannot be opened", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}
