import COpenSSL
import Foundation

/// Files written so that a crash leaves the old or the new content, never a part, and files removed so
/// that their bytes do not stay behind in them: the keystore's entries, the platform's trust anchor, key
/// files retired by the keystore. Failures are `LedgerError` `.keystoreIO` (1366), naming the step.
package enum DurableFile {
    /// Overwrites the file at `path` in place with random bytes, syncs it, removes it and syncs its folder.
    /// (On copy-on-write or flash storage the old blocks may survive below the file system; the bytes were
    /// sealed or are being retired, and this is the best a process can do.)
    /// - Throws: `LedgerError` `.keystoreIO` (1366) when the file cannot be opened, overwritten or removed.
    package static func shred(_ path: String) throws(LedgerError) {
        func fail(_ step: String) -> LedgerError {
            LedgerError(.keystoreIO, "cannot remove \(path): \(step) failed: \(String(cString: strerror(errno)))", details: ["file": path])
        }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open") }
        var size = stat()
        if fstat(fd, &size) == 0, size.st_size > 0 {
            let noise = SecureRandom.bytes(count: Int(size.st_size))
            let written = noise.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard written == noise.count, fsync(fd) == 0 else {
                let error = fail("overwrite")
                close(fd)
                throw error
            }
        }
        close(fd)
        guard unlink(path) == 0 else { throw fail("unlink") }
        try syncFolder(folder(of: path))
    }

    /// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a part: a
    /// temporary file in the same folder (created with `mode`), fsync, rename, fsync of the folder.
    /// - Throws: `LedgerError` `.keystoreIO` (1366) naming the step that failed; the temporary file is removed.
    package static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(LedgerError) {
        let temporary = path + ".tmp-\(getpid())-\(Hex.encode(SecureRandom.bytes(count: 4)))"
        func fail(_ step: String) -> LedgerError {
            LedgerError(.keystoreIO, "cannot write \(path): \(step) failed: \(String(cString: strerror(errno)))", details: ["file": path])
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw fail("creating \(temporary)") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, $0.count - written, off_t(written)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                let error = fail("write")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += n
        }
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let error = fail("fsync")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = fail("rename")
            unlink(temporary)
            throw error
        }
        try syncFolder(folder(of: path))
    }

    /// fsyncs a folder, so a rename or unlink in it survives a crash.
    package static func syncFolder(_ folder: String) throws(LedgerError) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw LedgerError(.keystoreIO, "cannot open folder \(folder) to sync it: \(String(cString: strerror(errno)))", details: ["directory": folder])
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw LedgerError(.keystoreIO, "cannot sync folder \(folder): \(String(cString: strerror(errno)))", details: ["directory": folder])
        }
    }

    /// The folder holding `path` (`.` for a bare file name).
    static func folder(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }
}
