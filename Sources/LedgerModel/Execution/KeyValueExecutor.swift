import LedgerCrypto

/// A small executor for tests and demos: payload kind `"kv"` sets or deletes
/// keys of the world state.
///
/// **Body format** (canonical RLP):
/// - set: `["set", key, value]`, key 1–256 bytes, value 0–65,536 bytes;
/// - delete: `["delete", key]`.
///
/// Keys live under the state prefix `kv/` (``stateKey(_:)``), so other
/// executors' keys never collide. A set succeeds with an empty output; a
/// delete outputs `[1]` when the key existed, `[0]` when it did not. Cost =
/// bytes of key and value written. A malformed body fails with
/// `.malformedPayload` (1901) and writes nothing.
///
/// ```swift
/// let body = KeyValueExecutor.setBody(key: Array("lot-17".utf8), value: Array("passed".utf8))
/// let node = try await Node(..., executors: [KeyValueExecutor()])
/// ```
/// - Note: Stateless and `Sendable`; safe to share between nodes and threads.
public struct KeyValueExecutor: TransactionExecutor {
    /// The payload kind: `"kv"`.
    public static let kind = "kv"
    /// Longest key, in bytes.
    public static let maximumKeyBytes = 256
    /// Longest value, in bytes.
    public static let maximumValueBytes = 65_536

    /// Stateless.
    public init() {}

    public var payloadKinds: [String] { [Self.kind] }

    /// The state key under which user key `key` is stored.
    public static func stateKey(_ key: [UInt8]) -> [UInt8] { Array("kv/".utf8) + key }

    /// The body of a set of `key` to `value`.
    public static func setBody(key: [UInt8], value: [UInt8]) -> [UInt8] {
        RLP.encode(.list([.string("set"), .bytes(key), .bytes(value)]))
    }

    /// The body of a delete of `key`.
    public static func deleteBody(key: [UInt8]) -> [UInt8] {
        RLP.encode(.list([.string("delete"), .bytes(key)]))
    }

    public func execute(_ transaction: Transaction, context: ExecutionContext, state: any StateReader) throws(LedgerError) -> ExecutionOutcome {
        func malformed(_ field: String, _ why: String) -> LedgerError {
            LedgerError(.malformedPayload, "kv payload field '\(field)': \(why)", details: ["field": field])
        }
        let fields: [RLP.Item]
        do { fields = try RLP.decode(transaction.payload.body).list("kv") } catch {
            throw malformed("kv", error.message)
        }
        guard let first = fields.first, let op = try? first.string("kv.op") else { throw malformed("kv.op", "missing") }
        guard fields.count >= 2, let key = try? fields[1].bytes("kv.key") else { throw malformed("kv.key", "missing") }
        guard (1...Self.maximumKeyBytes).contains(key.count) else {
            throw malformed("kv.key", "length \(key.count), expected 1...\(Self.maximumKeyBytes)")
        }
        var writes = StateChangeSet()
        switch op {
        case "set":
            guard fields.count == 3, let value = try? fields[2].bytes("kv.value") else { throw malformed("kv.value", "missing") }
            guard value.count <= Self.maximumValueBytes else {
                throw malformed("kv.value", "length \(value.count), at most \(Self.maximumValueBytes)")
            }
            writes.set(Self.stateKey(key), to: value)
            return ExecutionOutcome(costUnits: UInt64(key.count + value.count), writes: writes)
        case "delete":
            guard fields.count == 2 else { throw malformed("kv", "delete takes 2 fields, got \(fields.count)") }
            let existed = try state.value(forKey: Self.stateKey(key)) != nil
            if existed { writes.delete(Self.stateKey(key)) }
            return ExecutionOutcome(output: [existed ? 1 : 0], costUnits: UInt64(key.count), writes: writes)
        default:
            throw malformed("kv.op", "'\(op)', expected 'set' or 'delete'")
        }
    }
}
