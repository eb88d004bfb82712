import CSV
import Foundation

/// Reads the records of a CSV file of any size a batch at a time, in memory
/// bounded by the batch, not the file (A-UP-2, A-UP-3 for plant-sized files).
///
/// Each batch is checked as ``RecordIngest/parse(_:format:kind:allOrNothing:)``
/// checks one input: the same accepted shape (a header row, dotted column names,
/// `record_kind` and `token` columns), the same errors, and every bad record
/// reported with its line and field. ``RecordIngest/Issue/index`` counts from the
/// file's first record, not the batch's. The file-size and record-count limits of
/// `parse` do not apply; a batch holds at most ``RecordIngest/maximumRecords``.
///
/// ```swift
/// let stream = try CSVRecordStream(path: "line-7.csv", kind: .production)
/// while let batch = try stream.next(10_000) {
///     for issue in batch.issues { print(issue.line ?? 0, issue.error.message) }
///     let result = try await platform.records.uploadNew(batch.records.map(\.record), token: token)
///     print(result.receipts.count, "uploaded,", result.alreadyOnChain.count, "already on chain")
/// }
/// ```
/// - Note: Not `Sendable`: one task reads a stream from start to end.
public final class CSVRecordStream {
    /// The file read.
    public let path: String
    /// The kind of rows without a `record_kind` column.
    public let kind: RecordKind
    /// The file's size in bytes when opened (for progress displays).
    public let fileBytes: Int
    /// Records read so far, good and bad (blank lines excluded).
    public private(set) var recordsRead = 0
    private var rows: CSVFieldReader.Rows
    private var token: String?

    /// Opens `path` and reads its header row.
    /// - Parameters:
    ///   - path: Required. A UTF-8 CSV file (a byte-order mark is allowed).
    ///   - kind: Optional, default `.production`: the kind of records without `record_kind`.
    /// - Throws: `AppError`: `.emptyInput` (5012) when the file cannot be read or has no header row;
    ///   `.malformedCSV` (5007) when a column appears twice or the header cannot be read.
    public init(path: String, kind: RecordKind = .production) throws(AppError) {
        let size: Int
        do {
            size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw AppError(.emptyInput, "cannot read '\(path)': \(error.localizedDescription)", details: ["file": path])
        }
        guard size > 0 else { throw AppError(.emptyInput, "'\(path)' is empty", details: ["file": path]) }
        guard let stream = FileByteStream(path: path) else {
            throw AppError(.emptyInput, "cannot read '\(path)'", details: ["file": path])
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: true)
        } catch {
            throw AppError(.malformedCSV, "CSV line 1: \(error)", details: ["line": "1", "file": path])
        }
        self.path = path
        self.kind = kind
        fileBytes = size
        rows = try CSVFieldReader.Rows(reader)
    }

    /// Reads and checks the rest of the file without keeping its records: for an all-or-nothing import, a first
    /// pass before a second stream uploads.
    /// - Returns: The number of records read (all of them good).
    /// - Throws: As ``next(_:)``, and `.batchRejected` (5010), as ``RecordIngest/parse(_:format:kind:allOrNothing:)``
    ///   with `allOrNothing` throws it, when any record is bad.
    public func checkAll() throws(AppError) -> Int {
        var kept = [RecordIngest.Issue](), issues = 0
        while let batch = try next() {
            issues += batch.issues.count
            if kept.count < 20 { kept += batch.issues.prefix(20 - kept.count) }
        }
        if issues > 0 { throw RecordIngest.batchRejection(kept, issueCount: issues, records: recordsRead) }
        return recordsRead
    }

    /// The next batch: up to `count` records read and checked, with the bad ones as issues.
    /// - Parameter count: Optional, default 10,000; range 1...``RecordIngest/maximumRecords`` (clamped).
    /// - Returns: The batch, or nil after the last record.
    /// - Throws: `AppError`: `.malformedCSV` (5007) with its line when the file cannot be read on (a row with the
    ///   wrong number of cells, bad quoting, invalid UTF-8): the batches before it stand; `.emptyInput` (5012) when
    ///   the file holds no record at all. A bad record is not thrown but listed in ``RecordIngest/Result/issues``
    ///   (a `token` that differs from an earlier record's among them, 5003).
    public func next(_ count: Int = 10_000) throws(AppError) -> RecordIngest.Result? {
        let limit = min(RecordIngest.maximumRecords, max(1, count))
        var batch = RecordIngest.Result(records: [], issues: [], token: token)
        while batch.records.count + batch.issues.count < limit, let node = try rows.next() {
            RecordIngest.take(node, index: recordsRead, kind: kind, into: &batch)
            recordsRead += 1
        }
        token = batch.token
        if batch.records.isEmpty, batch.issues.isEmpty {
            if recordsRead == 0 { throw AppError(.emptyInput, "the input holds no records", details: ["file": path]) }
            return nil
        }
        return batch
    }
}

/// A file's bytes as an `InputStream` whose `hasBytesAvailable` turns false at the end of the file: Foundation's
/// file stream on Linux still reports bytes there, and CSV.swift's reader then fails the last read with
/// `cannotReadFile`. Reads 1 MiB at a time.
final class FileByteStream: InputStream {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var offset = 0
    private var failure: (any Error)?
    private var status: Stream.Status = .notOpen

    init?(path: String) {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        handle = h
        super.init(data: Data())
    }

    override func open() { status = .open }

    override func close() {
        guard status != .closed else { return }
        status = .closed
        do { try handle.close() } catch { failure = error }
    }

    override var streamStatus: Stream.Status { failure != nil ? .error : status }
    override var streamError: (any Error)? { failure }

    override var hasBytesAvailable: Bool {
        fill()
        return offset < buffer.count
    }

    override func read(_ out: UnsafeMutablePointer<UInt8>, maxLength length: Int) -> Int {
        fill()
        if failure != nil { return -1 }
        let n = min(length, buffer.count - offset)
        buffer.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + offset, count: n) }
        offset += n
        return n
    }

    /// Reads the next chunk once the last one is used up.
    private func fill() {
        guard offset >= buffer.count, failure == nil, status == .open else { return }
        do {
            buffer = Array(try handle.read(upToCount: 1 << 20) ?? Data())
        } catch {
            failure = error
            buffer = []
        }
        offset = 0
    }
}
