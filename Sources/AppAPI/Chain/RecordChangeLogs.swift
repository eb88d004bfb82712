import ChainRuntime
import Contracts
import LedgerCore

/// "Record changed" events on the chain's event bus (`LogFeed`), derived from committed records transactions rather
/// than stored in their receipts (an upload receipt carries its transaction's receipt, so stored per-record logs
/// would make each one carry every record ID of its batch): one event per record operation of a successful records
/// transaction, after the transaction's own logs, in operation order.
///
/// Each event: emitter ``emitter`` (`records`); topics ``changedTopic`` and keccak256 of the record ID (filter on it
/// to follow one record); data the ABI encoding of `(string recordID, uint64 version, bytes32 digest, string kind,
/// string factory)` (version 1 is a creation).
///
/// ```swift
/// let filter = LogFilter(emitters: [RecordChangeLogs.emitter], topics: [nil, [RecordChangeLogs.topic(recordID: "P-1")]])
/// for try await event in LogFeed.subscribe(node: node, filter: filter, after: saved, derivers: [RecordChangeLogs()]) {
///     let change = try RecordChangeLogs.decode(event.log)
/// }
/// ```
public struct RecordChangeLogs: LogDeriver {
    /// The events' emitter: `records`.
    public static let emitter = Array("records".utf8)
    /// topic0: keccak256(`RecordChanged(string,uint64,bytes32,string,string)`).
    public static let changedTopic = Keccak256.hash(Array("RecordChanged(string,uint64,bytes32,string,string)".utf8))
    static let types: [ABIType] = [.string, .uint(bits: 64), .fixedBytes(32), .string, .string]

    /// One decoded event.
    public struct Change: Hashable, Sendable {
        /// The record's ID.
        public var recordID: String
        /// The version written (1: created).
        public var version: UInt64
        /// That version's digest.
        public var digest: Digest
        /// The record's kind.
        public var kind: RecordKind
        /// Its factory.
        public var factoryUID: String
    }

    /// Stateless.
    public init() {}

    public var payloadKinds: Set<String> { [RecordsExecutor.kind] }

    /// ``emitter``.
    public var emitters: Set<[UInt8]> { [Self.emitter] }

    /// topic1 of the events of record `recordID`.
    /// - Parameter recordID: Required.
    public static func topic(recordID: String) -> Digest { Keccak256.hash(Array(recordID.utf8)) }

    /// One event per operation, in order; an operation whose event `filter` refuses (by emitter or topics, known
    /// without decoding the record) is nil, so following one record over a long history decodes only its records.
    /// - Throws: `LedgerError` when a successful transaction's body or records no longer decode (they did when it
    ///   executed, so the ledger is damaged).
    public func logs(of transaction: Transaction, receipt: Receipt, matching filter: LogFilter) throws(LedgerError) -> [ReceiptLog?] {
        guard receipt.status == Receipt.success else { return [] }   // a failed transaction wrote no record
        var logs = [ReceiptLog?]()
        for op in try RecordOperation.decodeBody(transaction.payload.body).operations {
            let topics = [Self.changedTopic, Self.topic(recordID: op.recordID)]
            guard filter.accepts(ReceiptLog(emitter: Self.emitter, topics: topics)) else {
                logs.append(nil)
                continue
            }
            let record: ManufacturingRecord
            do { record = try ManufacturingRecord(canonicalEncoding: op.recordBytes) } catch {
                throw LedgerError(.malformedPayload, "record '\(op.recordID)' does not decode: \(error.message)", details: ["recordID": op.recordID])
            }
            let data: [UInt8]
            do {
                data = try ABI.encode([.string(op.recordID), .uint(op.version), .fixedBytes(op.digest.bytes), .string(record.kind.rawValue),
                                       .string(record.factoryUID)], as: Self.types)
            } catch {
                throw LedgerError(.malformedPayload, "record '\(op.recordID)': \(error.message)", details: ["recordID": op.recordID])
            }
            logs.append(ReceiptLog(emitter: Self.emitter, topics: topics, data: data))
        }
        return logs
    }

    /// The change an event describes.
    /// - Parameter log: Required. A log of ``emitter`` with ``changedTopic``.
    /// - Throws: `ContractError` `.abiUnknownEvent` (2164) for another log; the ABI's decoding errors (2152–2159) and
    ///   `.abiValueMismatch` (2151) for data that is not such an event.
    public static func decode(_ log: ReceiptLog) throws(ContractError) -> Change {
        guard log.emitter == emitter, log.topics.first == changedTopic else {
            throw ContractError(.abiUnknownEvent, "the log is not a record change", details: ["field": "log"])
        }
        let values = try ABI.decode(types, from: log.data)
        guard case .string(let id) = values[0], case .uint(let version) = values[1], let v = version.uint64,
              case .fixedBytes(let digest) = values[2], case .string(let kindName) = values[3], case .string(let factory) = values[4],
              let kind = RecordKind(rawValue: kindName) else {
            throw ContractError(.abiValueMismatch, "the record change's fields are out of range", details: ["field": "log.data"])
        }
        guard let d = try? Digest(bytes: digest) else {   // 32 bytes by the ABI type
            throw ContractError(.abiValueMismatch, "the record change's digest is not 32 bytes", details: ["field": "log.data"])
        }
        return Change(recordID: id, version: v, digest: d, kind: kind, factoryUID: factory)
    }
}
