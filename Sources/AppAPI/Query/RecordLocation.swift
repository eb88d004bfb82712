import LedgerCore

/// Where the index finds a record version's canonical bytes in the ledger instead of keeping a copy
/// (Documentation/Architecture.md, AppAPI, "record index schema 3").
///
/// The range is inside the stored encoding of the transaction that wrote the version (the payload of the
/// operation's `recordBytes`); the operation's digest follows it at once, as a 33-byte item (`0xa0` and 32
/// bytes), so one read of `length + 33` bytes returns the record and what it must hash to.
struct RecordLocation: Hashable, Sendable {
    /// The height of the block that holds the transaction.
    var height: UInt64
    /// The transaction's position in its block.
    var transactionIndex: Int
    /// The record's first byte, from the start of the transaction's encoding.
    var offset: Int
    /// The record's length in bytes (its digest item not counted).
    var length: Int

    /// The size of the digest item that follows the record bytes: the header byte `0xa0` and 32 bytes.
    static let digestItemBytes = 33

    /// The slice of the ledger to read: the record bytes and the digest item after them.
    var slice: TransactionSlice {
        TransactionSlice(height: Height(height), index: transactionIndex, offset: offset, length: length + Self.digestItemBytes)
    }

    /// For each operation of a records transaction, in order, the range of its record bytes inside `transaction`
    /// (a transaction's stored encoding, `Transaction.encoded`), found by walking RLP headers only.
    /// - Throws: `LedgerError` RLP codes (10xx), `.malformedPayload` (1901) when the body is not a records body or
    ///   an operation's digest does not follow its record bytes.
    static func recordRanges(inTransaction transaction: [UInt8]) throws(LedgerError) -> [Range<Int>] {
        try RLPReader.read(transaction) { (r) throws(LedgerError) -> [Range<Int>] in
            // [version, chainID, scheme, sender, nonce, timestamp, kind, body, signature]
            var fields = try r.list("transaction", count: 9)
            for _ in 0..<7 { try fields.skip() }
            var body = try fields.embedded("transaction.body")
            // [1, ops] or [2, deadline, ops]: the operations are the last element.
            var top = try body.list("records")
            let count = try top.count()
            guard count == 2 || count == 3 else {
                throw LedgerError(.malformedPayload, "records body with \(count) elements; expected [1, ops] or [2, deadline, ops]",
                                  details: ["field": "records"])
            }
            for _ in 0..<(count - 1) { try top.skip() }
            var list = try top.list("records.ops")
            var ranges = [Range<Int>]()
            while !list.isAtEnd {
                // [op, recordID, version, recordBytes, digest, uploader, condition, changedFields, previousBytes]
                var op = try list.list("op", count: 9)
                for _ in 0..<3 { try op.skip() }
                let record = try op.byteRange("op.record")
                let digest = try op.byteRange("op.digest")
                guard digest.count == 32, digest.lowerBound == record.upperBound + 1 else {
                    throw LedgerError(.malformedPayload, "records op: the digest does not follow the record bytes as a 32-byte item",
                                      details: ["field": "op.digest"])
                }
                ranges.append(record)
            }
            return ranges
        }
    }
}
