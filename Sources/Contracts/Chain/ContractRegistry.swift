import LedgerCrypto
import LedgerModel

/// A contract's lifecycle status (standard C-M-4).
public enum ContractStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Calls run.
    case active = 0
    /// Calls are refused until the contract is resumed.
    case paused = 1
    /// Calls are refused for good; the state stays readable.
    case terminated = 2
    /// The code was removed; only this record (the tombstone) remains.
    case deleted = 3

    public var description: String {
        switch self {
        case .active: "active"
        case .paused: "paused"
        case .terminated: "terminated"
        case .deleted: "deleted"
        }
    }
}

/// A deployed contract version as the chain records it (standard C-M-5: `state(of:)`).
public struct ContractState: Sendable, Hashable {
    /// The registered name (shared by every version).
    public var name: String
    /// This version's address.
    public var address: EVMAddress
    /// 1 for the first deployment, +1 per update.
    public var version: UInt64
    /// The lifecycle status.
    public var status: ContractStatus
    /// keccak256 of the runtime code (of the code it had, once deleted).
    public var codeHash: UInt256
    /// The account that deployed this version.
    public var creator: EVMAddress
    /// Height and time (UTC milliseconds) of the deployment.
    public var createdHeight: UInt64
    public var createdAt: UInt64
    /// Height and time of the last lifecycle change (the deployment's at first).
    public var updatedHeight: UInt64
    public var updatedAt: UInt64
    /// The address whose storage this version uses (an update with ``ContractStoragePolicy/keep``); nil: its own.
    public var storageOwner: EVMAddress?
    /// The height from which a newer version replaces this one (nil while it is current).
    public var supersededFrom: UInt64?

    var encoded: [UInt8] {
        RLP.encode(.list([.string(name), .bytes(address.bytes), .uint(version), .uint(UInt64(status.rawValue)),
                          .bytes(codeHash.bigEndianBytes), .bytes(creator.bytes), .uint(createdHeight), .uint(createdAt),
                          .uint(updatedHeight), .uint(updatedAt), .bytes(storageOwner?.bytes ?? []),
                          .bytes(supersededFrom.map { RLP.bigEndianBytes($0) } ?? [])]))
    }

    package init(name: String, address: EVMAddress, version: UInt64, status: ContractStatus, codeHash: UInt256, creator: EVMAddress,
         createdHeight: UInt64, createdAt: UInt64, storageOwner: EVMAddress?) {
        self.name = name
        self.address = address
        self.version = version
        self.status = status
        self.codeHash = codeHash
        self.creator = creator
        self.createdHeight = createdHeight
        self.createdAt = createdAt
        self.updatedHeight = createdHeight
        self.updatedAt = createdAt
        self.storageOwner = storageOwner
        self.supersededFrom = nil
    }

    init(decoding bytes: [UInt8]) throws(ContractError) {
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("contract", count: 12)
            guard let address = EVMAddress(bytes: try f[1].bytes("address")), let creator = EVMAddress(bytes: try f[5].bytes("creator")),
                  let status = ContractStatus(rawValue: UInt8(truncatingIfNeeded: try f[3].uint64("status"))),
                  try f[3].uint64("status") <= 3 else {
                throw LedgerError(.malformedPayload, "address, creator or status out of range", details: ["field": "contract"])
            }
            let owner = try f[10].bytes("storageOwner")
            let superseded = try f[11].bytes("supersededFrom")
            self.init(name: try f[0].string("name"), address: address, version: try f[2].uint64("version"), status: status,
                      codeHash: UInt256(bigEndian: try f[4].bytes("codeHash")), creator: creator,
                      createdHeight: try f[6].uint64("createdHeight"), createdAt: try f[7].uint64("createdAt"),
                      storageOwner: owner.isEmpty ? nil : EVMAddress(bytes: owner))
            updatedHeight = try f[8].uint64("updatedHeight")
            updatedAt = try f[9].uint64("updatedAt")
            supersededFrom = superseded.isEmpty ? nil : try f[11].uint64("supersededFrom")
        } catch {
            throw ContractError(.contractStateCorrupt, "a stored contract record does not decode: \(error.message)")
        }
    }
}

/// Reads the contract registry, the contract permissions and the registered events from a world state.
///
/// | key | value |
/// |---|---|
/// | `contract/n/` ‖ name | `rlp([address, version])` of the name's current version, and the pending one with its switch height |
/// | `contract/m/` ‖ address (20) | ``ContractState`` of that version |
/// | `contract/p/` ‖ account (20) ‖ action ‖ `/` ‖ scope | `[1]`: the permission is granted |
/// | `contract/e/` ‖ address (20) ‖ keccak256(signature) | the event signature, registered for manual triggering |
///
/// ```swift
/// let state = try ContractRegistry.state(of: address, in: reader)   // status, version, code hash, creator, dates
/// ```
public enum ContractRegistry {
    static func nameKey(_ name: String) -> [UInt8] { Array("contract/n/".utf8) + Array(name.utf8) }
    static func metaKey(_ address: EVMAddress) -> [UInt8] { Array("contract/m/".utf8) + address.bytes }
    static func permissionKey(_ account: EVMAddress, _ action: ContractAction, _ scope: String) -> [UInt8] {
        Array("contract/p/".utf8) + account.bytes + Array(action.rawValue.utf8) + [UInt8(ascii: "/")] + Array(scope.utf8)
    }
    static func eventKey(_ address: EVMAddress, _ signature: String) -> [UInt8] {
        Array("contract/e/".utf8) + address.bytes + Keccak256.hash(Array(signature.utf8)).bytes
    }

    /// The name's entry: the current version, and a pending one with the height it takes over from.
    struct NameEntry: Equatable {
        var current: EVMAddress
        var pending: EVMAddress?
        var switchHeight: UInt64

        /// The version in force at `height`.
        func address(at height: UInt64) -> EVMAddress {
            if let pending, height >= switchHeight { return pending }
            return current
        }

        var encoded: [UInt8] {
            RLP.encode(.list([.bytes(current.bytes), .bytes(pending?.bytes ?? []), .uint(switchHeight)]))
        }

        init(current: EVMAddress, pending: EVMAddress? = nil, switchHeight: UInt64 = 0) {
            self.current = current
            self.pending = pending
            self.switchHeight = switchHeight
        }

        init(decoding bytes: [UInt8]) throws(ContractError) {
            do throws(LedgerError) {
                let f = try RLP.decode(bytes).list("name", count: 3)
                guard let current = EVMAddress(bytes: try f[0].bytes("current")) else {
                    throw LedgerError(.malformedPayload, "current address", details: ["field": "name"])
                }
                let pending = try f[1].bytes("pending")
                self.init(current: current, pending: pending.isEmpty ? nil : EVMAddress(bytes: pending), switchHeight: try f[2].uint64("switchHeight"))
            } catch {
                throw ContractError(.contractStateCorrupt, "a stored contract name entry does not decode: \(error.message)")
            }
        }
    }

    static func read(_ state: any StateReader, _ key: [UInt8]) throws(ContractError) -> [UInt8]? {
        do { return try state.value(forKey: key) } catch {
            throw ContractError(.hostReadFailed, "reading the contract registry failed: \(error.message)",
                                details: ["reason": error.message, "code": String(error.numericCode)])
        }
    }

    /// The recorded state of the contract version at `address`, or nil when no contract was deployed there.
    /// - Parameters:
    ///   - address: Required. A contract version's address.
    ///   - state: Required. The world state to read (a node's committed state, or a block's during execution).
    /// - Throws: ``ContractError`` `hostReadFailed` (2001) when the state cannot be read, `contractStateCorrupt` (2212).
    public static func state(of address: EVMAddress, in state: any StateReader) throws(ContractError) -> ContractState? {
        try read(state, metaKey(address)).map { (b: [UInt8]) throws(ContractError) in try ContractState(decoding: b) }
    }

    /// The state of the version of `name` in force at `height` (the current one, or an update once its switch
    /// height is reached); nil when no contract has that name.
    /// - Parameters:
    ///   - name: Required. A registered name.
    ///   - height: Required. The height the question is asked at (the next block's, for a node's head).
    ///   - state: Required. The world state to read.
    /// - Throws: as ``state(of:in:)``.
    public static func state(named name: String, at height: UInt64, in state: any StateReader) throws(ContractError) -> ContractState? {
        guard let entry = try nameEntry(name, in: state) else { return nil }
        return try self.state(of: entry.address(at: height), in: state)
    }

    static func nameEntry(_ name: String, in state: any StateReader) throws(ContractError) -> NameEntry? {
        try read(state, nameKey(name)).map { (b: [UInt8]) throws(ContractError) in try NameEntry(decoding: b) }
    }

    /// Whether `account` holds `action` on the contract `scope` or on every contract (`*`). The chain's founding
    /// key (the genesis block's producer) holds every permission; nothing else does unless granted (a deployer is
    /// granted every action on its own contract at deployment).
    /// - Parameters:
    ///   - account: Required. The account asking.
    ///   - action: Required. The action.
    ///   - scope: Required. A contract name, or `*`.
    ///   - founder: Optional. The founding key's address, when known.
    ///   - state: Required. The world state to read.
    /// - Throws: ``ContractError`` `hostReadFailed` (2001).
    public static func isPermitted(_ account: EVMAddress, _ action: ContractAction, on scope: String, founder: EVMAddress?,
                                   in state: any StateReader) throws(ContractError) -> Bool {
        if let founder, account == founder { return true }
        if try read(state, permissionKey(account, action, "*")) != nil { return true }
        return scope != "*" ? try read(state, permissionKey(account, action, scope)) != nil : false
    }
}

extension EVMAddress {
    /// The EVM address of a ForgeChain key: for secp256k1 (and every EC scheme) the Ethereum rule, the last 20 bytes
    /// of keccak256 of the uncompressed point without its `04` prefix, so a secp256k1 key has the same address on
    /// Ethereum tools; for other schemes, the last 20 bytes of keccak256 of the scheme name, a zero byte and the raw key.
    /// - Parameter key: Required. A transaction's sender key.
    public init(publicKey key: PublicKey) {
        if let point = key.uncompressedRepresentation, point.count == 65, key.scheme == .secp256k1 {
            self.init(word: UInt256(bigEndian: Keccak256.hash(Array(point.dropFirst())).bytes.suffix(20)))
        } else {
            self.init(word: UInt256(bigEndian: Keccak256.hash(Array(key.scheme.rawValue.utf8) + [0] + key.rawRepresentation).bytes.suffix(20)))
        }
    }

    /// The address CREATE gives a contract made by `sender` at `nonce`: the last 20 bytes of keccak256(rlp([sender, nonce])).
    /// - Parameters:
    ///   - sender: Required. The creating account.
    ///   - nonce: Required. Its nonce before the creation.
    public static func created(by sender: EVMAddress, nonce: UInt64) -> EVMAddress {
        EVMAddress(word: UInt256(bigEndian: Keccak256.hash(RLP.encode(.list([.bytes(sender.bytes), .uint(nonce)]))).bytes.suffix(20)))
    }
}
