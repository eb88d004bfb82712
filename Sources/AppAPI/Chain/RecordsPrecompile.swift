import Contracts
import LedgerCore

/// The records precompile: contracts read the manufacturing records on chain where they live (a traceability
/// contract checks a batch's records), at ``defaultAddress`` through a Solidity/Vyper interface:
///
/// ```solidity
/// interface Records {
///     // The record's latest version on chain: found, version, digest, kind, factory.
///     function recordOf(string id) external view returns (bool, uint64, bytes32, string, string);
///     // A field of the record's latest version, read from its canonical bytes (as the platform's query returns
///     // them); reverts unless the bytes hash to the digest on chain. `name` is the wire name, nested fields
///     // dotted: `pro_raw_material.pro_batch_number`, `extensions.line`.
///     function fieldOf(string id, bytes record, string name) external view returns (uint64, string);
/// }
/// ```
///
/// Why fields come with the bytes: the world state holds each record's version, digest, kind and factory (about
/// 60 bytes), not its fields (about 350 bytes more a record, half again the ledger's bytes per record), and block
/// bodies are not part of the state every node is sure to hold (a node restored from a snapshot lacks old blocks),
/// so execution cannot read them. The caller hands the bytes in; the digest on chain proves them, so a contract
/// reads a field it can trust at the cost of the call data.
///
/// Calls that cannot be answered revert with an `Error(string)` naming the problem: an unknown selector, bad
/// ABI input, a record not on chain (`fieldOf`), bytes that do not decode or do not match the digest, a field
/// the record does not have. Gas: ``baseGas`` plus ``gasPerWord`` for each 32 bytes of input.
///
/// Run it on every node: `ContractExecutor(precompiles: [RecordsPrecompile()])` (`forgechain node run` does).
public struct RecordsPrecompile: ContractPrecompile {
    /// 0x…0f00: where the node's contracts find it unless configured otherwise.
    public static let defaultAddress = EVMAddress(word: UInt256(UInt64(0x0F00)))
    /// Gas of every call (about a cold storage read).
    public static let baseGas: UInt64 = 2_100
    /// Gas for each 32-byte word of input (decoding and hashing the record's bytes).
    public static let gasPerWord: UInt64 = 48

    static let recordOf = ABI.selector("recordOf(string)")
    static let fieldOf = ABI.selector("fieldOf(string,bytes,string)")

    public let address: EVMAddress
    /// The chain's hash algorithm (record digests are made with it).
    public let hashAlgorithm: HashAlgorithm

    /// - Parameters:
    ///   - address: Optional, default ``defaultAddress``; outside 0x01–0x0a.
    ///   - hashAlgorithm: Optional, default `.default` (SHA-256). Must be the chain's.
    public init(address: EVMAddress = RecordsPrecompile.defaultAddress, hashAlgorithm: HashAlgorithm = .default) {
        self.address = address
        self.hashAlgorithm = hashAlgorithm
    }

    public func run(input: [UInt8], gas: UInt64, state: any StateReader) throws(LedgerError) -> EVMPrecompileOutcome {
        let cost = Self.baseGas + Self.gasPerWord * UInt64((input.count + 31) / 32)
        guard cost <= gas else { return .failure }
        func revert(_ reason: String) -> EVMPrecompileOutcome { .revert(output: Self.errorData(reason), gasUsed: cost) }
        guard input.count >= 4 else { return revert("records: call data shorter than a selector") }
        let selector = Array(input[0..<4]), arguments = Array(input[4...])
        let values: [ABIValue]
        do throws(ContractError) {
            switch selector {
            case Self.recordOf: values = try ABI.decode([.string], from: arguments)
            case Self.fieldOf: values = try ABI.decode([.string, .bytes, .string], from: arguments)
            default: return revert("records: unknown function selector 0x\(Hex.encode(selector))")
            }
        } catch {
            return revert("records: the arguments do not decode: \(error.message)")
        }
        let id = values[0].stringValue ?? ""
        let entry = try read(id, state)
        if selector == Self.recordOf {
            let types: [ABIType] = [.bool, .uint(bits: 64), .fixedBytes(32), .string, .string]
            let answer: [ABIValue] = entry.map { [.bool(true), .uint($0.version), .fixedBytes($0.digest.bytes), .string($0.kind.rawValue),
                                                 .string($0.factoryUID)] }
                ?? [.bool(false), .uint(0), .fixedBytes([UInt8](repeating: 0, count: 32)), .string(""), .string("")]
            return encode(answer, as: types, gasUsed: cost)
        }
        guard case .bytes(let bytes) = values[1], case .string(let name) = values[2] else {
            return revert("records: fieldOf takes (string, bytes, string)")
        }
        guard let entry else { return revert("records: record '\(id)' is not on the chain") }
        guard hashAlgorithm.hash(bytes) == entry.digest else {
            return revert("records: the bytes given are not the latest version (\(entry.version)) of record '\(id)'")
        }
        let record: ManufacturingRecord
        do { record = try ManufacturingRecord(canonicalEncoding: bytes) } catch {
            return revert("records: the bytes of record '\(id)' do not decode: \(error.message)")
        }
        guard let value = record.fieldValues[name] else {
            return revert("records: record '\(id)' has no field '\(name)'")
        }
        return encode([.uint(entry.version), .string(value)], as: [.uint(bits: 64), .string], gasUsed: cost)
    }

    private func encode(_ values: [ABIValue], as types: [ABIType], gasUsed: UInt64) -> EVMPrecompileOutcome {
        do { return .success(output: try ABI.encode(values, as: types), gasUsed: gasUsed) } catch {
            return .revert(output: Self.errorData("records: the answer does not encode: \(error.message)"), gasUsed: gasUsed)
        }
    }

    static func errorData(_ reason: String) -> [UInt8] {
        // A string always encodes; the empty fallback is unreachable.
        ABI.selector("Error(string)") + ((try? ABI.encode([.string(reason)], as: [.string])) ?? [])
    }

    private func read(_ id: String, _ state: any StateReader) throws(LedgerError) -> RecordStateEntry? {
        guard let bytes = try state.value(forKey: RecordStateEntry.key(id)) else { return nil }
        return try RecordStateEntry(decoding: bytes)
    }
}
