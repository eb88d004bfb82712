import Foundation
import LedgerCrypto
import Synchronization

/// The exclusive advisory lock a writing ``LedgerStore`` holds on `<store file>.lock` while it is open, so one
/// store file has one writer. `flock(2)` locks belong to the open file description: they conflict between two
/// opens in one process too, and the kernel drops them when the process dies. Why this shape:
/// `Documentation/Architecture.md` → The store lock.
final class StoreLock: Sendable {
    /// The lock file, `<store file>.lock`.
    let path: String
    /// The locked descriptor; -1 once released.
    private let descriptor: Mutex<Int32>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    deinit { release() }

    /// The lock file of the store at `storePath`.
    static func lockPath(forStore storePath: String) -> String { storePath + ".lock" }

    /// Takes the lock of the store at `storePath` without waiting, and writes this process's ID into the lock file.
    /// - Throws: `.storeLocked` (1520) when another open store holds it (the message names the lock file and, when
    ///   it is readable, the holder's PID in `details["pid"]`) or when the lock file cannot be opened or locked
    ///   (`details["errno"]`).
    static func acquire(storePath: String) throws(LedgerError) -> StoreLock {
        let lockPath = lockPath(forStore: storePath)
        // O_CLOEXEC: a child process (a spawned CLI, a probe) must not inherit the descriptor, or the lock would
        // outlive this store's close for as long as the child runs.
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let e = errno
            throw LedgerError(.storeLocked, "cannot open the lock file \(lockPath) of store \(storePath): \(String(cString: strerror(e)))",
                              details: ["path": storePath, "lockFile": lockPath, "errno": String(e)])
        }
        var rc: Int32
        repeat { rc = flock(fd, LOCK_EX | LOCK_NB) } while rc != 0 && errno == EINTR
        guard rc == 0 else {
            let e = errno
            let holder = e == EWOULDBLOCK ? readPID(fd) : nil
            close(fd)
            guard e == EWOULDBLOCK else {
                throw LedgerError(.storeLocked, "cannot lock \(lockPath) of store \(storePath): \(String(cString: strerror(e)))",
                                  details: ["path": storePath, "lockFile": lockPath, "errno": String(e)])
            }
            var details = ["path": storePath, "lockFile": lockPath]
            let who: String
            if let holder {
                details["pid"] = String(holder)
                who = holder == getpid() ? "this process (PID \(holder)) already has it open" : "process \(holder) has it open"
            } else {
                who = "another open store holds it"
            }
            throw LedgerError(.storeLocked, "store \(storePath) is in use: \(who) (lock file \(lockPath)); "
                              + "stop that node first, or use a read-only command (ledger info, verify, backup)",
                              details: details)
        }
        // The PID first, then the length: a reader sees the old or the new content, never an empty file.
        let text = Array("\(getpid())\n".utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = ftruncate(fd, off_t(text.count))
        return StoreLock(path: lockPath, descriptor: fd)
    }

    /// Clears the PID and releases the lock (closing the descriptor). Idempotent.
    func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)
            close(fd)   // drops the flock
            fd = -1
        }
    }

    /// The PID a holder wrote into the lock file, if it is readable.
    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
