import Foundation

/// Receives every committed record change the caller may see (A-U-4),
/// webhook style: register with ``RecordService/addDelegate(_:token:)``.
///
/// Calls arrive in commit order, one at a time per delegate, on a task the
/// service owns; a slow delegate delays only itself (up to 4,096 changes are buffered).
public protocol RecordChangeDelegate: AnyObject, Sendable {
    /// Called once per committed change (creation: `before` nil; update: both versions).
    func recordDidChange(_ change: RecordChange) async
}

/// Fans committed changes out to streams and delegates.
/// - Note: `@unchecked Sendable`: `subscribers` and `delegateTasks` are guarded by `lock`.
final class ChangeHub: @unchecked Sendable {
    private let lock = NSLock()
    private var subscribers: [UUID: (filter: @Sendable (RecordChange) -> Bool, continuation: AsyncStream<RecordChange>.Continuation)] = [:]
    private var delegateTasks: [ObjectIdentifier: Task<Void, Never>] = [:]
    private var closed = false

    func subscribe(filter: @escaping @Sendable (RecordChange) -> Bool) -> AsyncStream<RecordChange> {
        let (stream, c) = AsyncStream.makeStream(of: RecordChange.self, bufferingPolicy: .bufferingNewest(4_096))
        let key = UUID()
        let accepted = lock.withLock { () -> Bool in
            guard !closed else { return false }
            subscribers[key] = (filter, c)
            return true
        }
        guard accepted else { c.finish(); return stream }
        c.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.subscribers.removeValue(forKey: key) } }
        return stream
    }

    func addDelegate(_ delegate: any RecordChangeDelegate, filter: @escaping @Sendable (RecordChange) -> Bool) {
        let stream = subscribe(filter: filter)
        let task = Task { [weak delegate] in
            for await change in stream {
                guard let delegate else { return }
                await delegate.recordDidChange(change)
            }
        }
        // Cancel outside the lock: cancelling ends the stream, whose termination handler takes the lock.
        lock.withLock { delegateTasks.updateValue(task, forKey: ObjectIdentifier(delegate)) }?.cancel()
    }

    func removeDelegate(_ delegate: any RecordChangeDelegate) {
        lock.withLock { delegateTasks.removeValue(forKey: ObjectIdentifier(delegate)) }?.cancel()
    }

    /// Whether any stream or delegate listens (when none does, the index need not build changes).
    var isObserved: Bool { lock.withLock { !subscribers.isEmpty } }

    func publish(_ changes: [RecordChange]) {
        guard !changes.isEmpty else { return }
        let targets = lock.withLock { Array(subscribers.values) }
        for change in changes {
            for t in targets where t.filter(change) { t.continuation.yield(change) }
        }
    }

    func close() {
        let (subs, tasks) = lock.withLock { () -> ([AsyncStream<RecordChange>.Continuation], [Task<Void, Never>]) in
            closed = true
            defer { subscribers = [:]; delegateTasks = [:] }
            return (subscribers.values.map(\.continuation), Array(delegateTasks.values))
        }
        subs.forEach { $0.finish() }
        tasks.forEach { $0.cancel() }
    }
}

/// The platform's operation log (`DIR/platform.log`): one line per
/// operation with time, user, operation, record ID and result code. It
/// never holds a token or a password.
/// - Note: `@unchecked Sendable`: `handle` is guarded by `lock`.
public final class PlatformLog: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle?
    /// The log file's path, or nil for no log.
    public let path: String?

    init(path: String?) {
        self.path = path
        if let path {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            handle = FileHandle(forWritingAtPath: path)
            _ = try? handle?.seekToEnd()
        } else {
            handle = nil
        }
    }

    deinit { try? handle?.close() }

    func write(user: String, operation: String, subject: String, code: UInt32, note: String = "") {
        write(user: user, operation: operation, entries: [(subject, code, note)])
    }

    /// Writes one line per entry with one time stamp and one `write` call (a confirmed batch logs every record).
    func write(user: String, operation: String, entries: [(subject: String, code: UInt32, note: String)]) {
        guard let handle, !entries.isEmpty else { return }
        let time = RecordTime(millisecondsSince1970: UInt64(Date().timeIntervalSince1970 * 1000)).iso8601
        var text = ""
        text.reserveCapacity(entries.count * (time.utf8.count + user.utf8.count + 96))
        for e in entries {
            text += "\(time) user=\(user) op=\(operation) subject=\(e.subject) code=\(e.code)\(e.note.isEmpty ? "" : " " + e.note)\n"
        }
        lock.withLock { handle.write(Data(text.utf8)) }
    }
}
