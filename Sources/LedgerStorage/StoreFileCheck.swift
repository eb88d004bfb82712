import Foundation
import LedgerCrypto

/// Checks a database file's header against its size before SQLite opens it,
/// so a truncated or foreign file is reported as such instead of as a
/// confusing SQLite error later.
enum StoreFileCheck {
    static let magic = Array("SQLite format 3\0".utf8)

    /// The error for a store path that is a folder: it names the folder and, when the folder holds one, the
    /// `ledger.sqlite` of a data folder that was probably meant.
    static func folderError(_ path: String) -> LedgerError {
        let inside = (path as NSString).appendingPathComponent("ledger.sqlite")
        if FileManager.default.fileExists(atPath: inside) {
            return LedgerError(.storePathIsFolder, "\(path) is a folder, not a store file; its ledger is \(inside)",
                               details: ["path": path, "storeFile": inside])
        }
        return LedgerError(.storePathIsFolder, "\(path) is a folder, not a store file, and holds no ledger.sqlite", details: ["path": path])
    }

    /// - Throws: `.storePathIsFolder` (1519) when `path` is a folder;
    ///   `.truncatedFile` (1502) when the file is shorter than its
    ///   header says or not a whole number of pages; `.storeCorrupted` (1501)
    ///   when it is not an SQLite database; `.heightNotFound` is never thrown.
    static func check(path: String, mustExist: Bool) throws(LedgerError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw folderError(path)
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.intValue else {
            if mustExist {
                throw LedgerError(.storeCorrupted, "no store file at \(path)", details: ["path": path])
            }
            return
        }
        if size == 0 { return }   // SQLite treats an empty file as an empty database
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LedgerError(.sqlite, "cannot read \(path)", details: ["path": path])
        }
        defer { try? handle.close() }
        let header: [UInt8]
        do { header = [UInt8](try handle.read(upToCount: 100) ?? Data()) } catch {
            // An I/O error is not a short file: report it as what it is.
            throw LedgerError(.sqlite, "cannot read \(path): \(error.localizedDescription)", details: ["path": path])
        }
        guard header.count == 100 else {
            throw LedgerError(.truncatedFile, "store file \(path) is \(size) bytes, shorter than the 100-byte header",
                              details: ["path": path, "size": String(size)])
        }
        guard Array(header[0..<16]) == magic else {
            throw LedgerError(.storeCorrupted, "\(path) is not an SQLite database (bad header)", details: ["path": path])
        }
        func be32(_ o: Int) -> UInt32 { header[o..<o + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        let rawPageSize = Int(header[16]) << 8 | Int(header[17])
        let pageSize = rawPageSize == 1 ? 65_536 : rawPageSize
        guard pageSize >= 512, pageSize & (pageSize - 1) == 0 else {
            throw LedgerError(.storeCorrupted, "\(path): invalid page size \(rawPageSize) in the header", details: ["path": path])
        }
        guard size % pageSize == 0 else {
            throw LedgerError(.truncatedFile, "store file \(path) is \(size) bytes, not a whole number of \(pageSize)-byte pages",
                              details: ["path": path, "size": String(size), "pageSize": String(pageSize)])
        }
        // With a non-empty WAL the database size comes from the WAL, and a
        // checkpoint interrupted by a crash may have written page 1 before
        // extending the file: SQLite finishes it on open, so only a store
        // without pending WAL frames is held to its header's page count.
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? NSNumber
        if let wal, wal.intValue > 0 { return }
        // The in-header page count is valid when the change counter equals
        // the version-valid-for number (SQLite file format, section 1.3.7).
        let pages = Int(be32(28))
        if pages > 0, be32(24) == be32(92), pages * pageSize > size {
            throw LedgerError(.truncatedFile,
                              "store file \(path) is \(size) bytes but its header records \(pages) pages of \(pageSize) bytes (\(pages * pageSize) bytes): it was truncated",
                              details: ["path": path, "size": String(size), "expectedSize": String(pages * pageSize)])
        }
    }
}
