import LedgerCore

/// Packs many items (transactions, consensus messages, blocks) into one
/// frame payload and splits long lists over several frames (N-T-4 batch
/// transfer): fewer frames, fewer checksums and tags, fewer writes.
///
/// Layout, integers big-endian: item count (4 bytes), then per item its
/// length (4 bytes) and bytes. Overhead: 4 + 4 per item.
///
/// ```swift
/// let payloads = try Batch.split(transactions.map(\.encoded), maxPayloadBytes: config.maxPayloadBytes(authenticated: true))
/// let txs = try Batch.decodeTransactions(frame.payload)
/// ```
/// Thread-safety: stateless; safe to call concurrently.
public enum Batch {
    /// Bytes a batch adds before its first item (4) and before each item (4).
    public static let headerBytes = 4
    /// Bytes before each item (its length).
    public static let itemHeaderBytes = 4

    /// The encoded size of a batch holding items of these sizes.
    public static func encodedSize(itemSizes: some Sequence<Int>) -> Int {
        itemSizes.reduce(headerBytes) { $0 + itemHeaderBytes + $1 }
    }

    /// Packs `items` into one payload.
    /// - Parameter items: Required. Any number (below 2³²) of items, each below 4 GiB; may be empty.
    public static func encode(_ items: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedSize(itemSizes: items.lazy.map(\.count)))
        out.appendBigEndian(UInt32(items.count))
        for item in items {
            out.appendBigEndian(UInt32(item.count))
            out += item
        }
        return out
    }

    /// Unpacks a payload made by ``encode(_:)``.
    /// - Parameters:
    ///   - payload: Required. Untrusted bytes.
    ///   - maxItems: Optional, default 1,000,000. More items is an error.
    /// - Throws: `NetError` `.malformedBatch` (3008) when the count, a length
    ///   or the end of the payload disagrees, naming the item in `details["index"]`.
    ///   Never traps; allocates at most the payload's size.
    public static func decode(_ payload: [UInt8], maxItems: Int = 1_000_000) throws(NetError) -> [[UInt8]] {
        let result: Result<[[UInt8]], NetError> = payload.withUnsafeBytes { b in
            do throws(NetError) { return .success(try decodeItems(b, maxItems: maxItems)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func decodeItems(_ b: UnsafeRawBufferPointer, maxItems: Int) throws(NetError) -> [[UInt8]] {
        guard b.count >= headerBytes else {
            throw NetError(.malformedBatch, "batch of \(b.count) bytes is shorter than its 4-byte count", details: ["length": String(b.count)])
        }
        let count = Int(b.bigEndianUInt32(at: 0))
        guard count <= maxItems else {
            throw NetError(.malformedBatch, "batch declares \(count) items, maxItems is \(maxItems)", details: ["count": String(count)])
        }
        guard count <= (b.count - headerBytes) / itemHeaderBytes else {
            throw NetError(.malformedBatch, "batch declares \(count) items but holds only \(b.count) bytes", details: ["count": String(count)])
        }
        var items: [[UInt8]] = []
        items.reserveCapacity(count)
        var offset = headerBytes
        for i in 0..<count {
            guard b.count - offset >= itemHeaderBytes else {
                throw NetError(.malformedBatch, "batch item \(i): length field truncated at offset \(offset)", details: ["index": String(i)])
            }
            let length = Int(b.bigEndianUInt32(at: offset))
            offset += itemHeaderBytes
            guard length <= b.count - offset else {
                throw NetError(.malformedBatch, "batch item \(i): length \(length) exceeds the \(b.count - offset) bytes left",
                               details: ["index": String(i), "length": String(length)])
            }
            items.append(Array(b[offset..<(offset + length)]))
            offset += length
        }
        guard offset == b.count else {
            throw NetError(.malformedBatch, "batch has \(b.count - offset) bytes after its \(count) items", details: ["index": String(count)])
        }
        return items
    }

    /// Packs items greedily, in order, into as few payloads as fit
    /// `maxPayloadBytes` each.
    /// - Parameters:
    ///   - items: Required. Any number; an empty list gives one empty batch.
    ///   - maxPayloadBytes: Required. Usually
    ///     ``FrameConfiguration/maxPayloadBytes(authenticated:)``; at least 8.
    /// - Returns: Payloads whose items, concatenated, are `items` in order.
    /// - Throws: `NetError` `.frameTooLarge` (3003) when one item alone does not fit.
    public static func split(_ items: [[UInt8]], maxPayloadBytes: Int) throws(NetError) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        var current: [[UInt8]] = []
        var size = headerBytes
        for (i, item) in items.enumerated() {
            let need = itemHeaderBytes + item.count
            guard headerBytes + need <= maxPayloadBytes else {
                throw NetError(.frameTooLarge, "batch item \(i) of \(item.count) bytes does not fit a payload of \(maxPayloadBytes) bytes",
                               details: ["index": String(i), "length": String(item.count), "limit": String(maxPayloadBytes)])
            }
            if size + need > maxPayloadBytes {
                payloads.append(encode(current))
                current.removeAll(keepingCapacity: true)
                size = headerBytes
            }
            current.append(item)
            size += need
        }
        if !current.isEmpty || payloads.isEmpty { payloads.append(encode(current)) }
        return payloads
    }

    /// Packs transactions by their canonical encodings.
    /// - Parameter transactions: Required; may be empty.
    public static func encode(transactions: [Transaction]) -> [UInt8] {
        encode(transactions.map(\.encoded))
    }

    /// Unpacks and decodes transactions (signatures are not verified here).
    /// - Parameters:
    ///   - payload: Required. Untrusted bytes.
    ///   - maxItems: Optional, default 1,000,000.
    /// - Throws: `NetError` `.malformedBatch` (3008); for an item that is not
    ///   a canonical transaction, its index in `details["index"]` and the
    ///   LedgerError code in `details["cause"]`.
    public static func decodeTransactions(_ payload: [UInt8], maxItems: Int = 1_000_000) throws(NetError) -> [Transaction] {
        let items = try decode(payload, maxItems: maxItems)
        var txs: [Transaction] = []
        txs.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            do {
                txs.append(try Transaction(decoding: item))
            } catch {
                throw NetError(.malformedBatch, "batch item \(i) is not a transaction: \(error.message)",
                               details: ["index": String(i), "cause": String(error.numericCode)])
            }
        }
        return txs
    }
}
