import LedgerCrypto
import LedgerModel

/// A contract addressed by its registered name or by its address.
public enum ContractTarget: Sendable, Hashable, CustomStringConvertible {
    /// The current version of the contract registered under the name.
    case name(String)
    /// The contract at the address (a named contract's current or earlier version, or any EVM account).
    case address(EVMAddress)

    public var description: String {
        switch self {
        case .name(let name): name
        case .address(let address): address.description
        }
    }
}

/// What an update does with the previous version's storage.
public enum ContractStoragePolicy: String, Sendable, Hashable, CaseIterable {
    /// The new version reads and writes the previous version's storage (same slots, same values): for code fixes
    /// that keep the storage layout.
    case keep
    /// The new version starts with empty storage; its constructor migrates what it needs from the previous version,
    /// which stays readable at its address.
    case migrate
}

/// An action a permission grants, on one contract or on every contract (`*`).
public enum ContractAction: String, Sendable, Hashable, CaseIterable {
    /// Deploy new contracts (scope `*`) or a contract under a given name.
    case deploy
    /// Deploy a new version of a contract.
    case update
    /// Pause a contract.
    case pause
    /// Resume a paused contract.
    case resume
    /// Terminate a contract for good.
    case terminate
    /// Delete a contract's code, leaving a tombstone.
    case delete
    /// Trigger a registered event of a contract by hand.
    case emit
    /// Grant and revoke permissions on the scope.
    case grant
}

/// The body of a transaction of payload kind `contract` (``ContractExecutor``): one operation, canonical RLP.
///
/// ```swift
/// let body = ContractOperation.call(.name("traceability"), data: calldata, gasLimit: 200_000).encoded
/// let tx = try Transaction.signed(chainID: 7, sender: key, nonce: 0, payload: .init(kind: ContractExecutor.kind, body: body))
/// ```
public enum ContractOperation: Sendable, Hashable {
    /// Deploys `initCode` (creation bytecode with its constructor arguments appended) under `name`.
    /// - `name`: 1–64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter; unique on the chain.
    /// - `gasLimit`: at most the node's per-transaction limit.
    case deploy(name: String, initCode: [UInt8], gasLimit: UInt64)
    /// Calls `target` with ABI-encoded `data`.
    case call(ContractTarget, data: [UInt8], gasLimit: UInt64)
    /// Deploys a new version of the contract named `name`; the name switches to it at the next block, so calls in
    /// the same block still run the old version.
    case update(name: String, initCode: [UInt8], gasLimit: UInt64, storage: ContractStoragePolicy)
    /// Pauses the contract: its calls are refused until it is resumed.
    case pause(name: String)
    /// Resumes a paused contract.
    case resume(name: String)
    /// Terminates the contract for good: calls refused, state kept readable.
    case terminate(name: String)
    /// Removes the contract's code and leaves a tombstone (its registry entry, status `deleted`).
    case delete(name: String)
    /// Gives `account` the permission `action` on `scope` (a contract name, or `*` for every contract).
    case grant(account: EVMAddress, action: ContractAction, scope: String)
    /// Takes a permission back.
    case revoke(account: EVMAddress, action: ContractAction, scope: String)
    /// Triggers the event `signature` (for example `Inspected(string,uint256)`) of the contract `name` by hand,
    /// with ABI-encoded `data`, as if the contract had logged it (standard C-E-2).
    case emit(name: String, signature: String, data: [UInt8])

    /// The longest name.
    public static let maximumNameLength = 64

    /// The canonical RLP body.
    public var encoded: [UInt8] {
        func target(_ t: ContractTarget) -> RLP.Item {
            switch t {
            case .name(let n): .list([.string("name"), .string(n)])
            case .address(let a): .list([.string("address"), .bytes(a.bytes)])
            }
        }
        let item: RLP.Item = switch self {
        case .deploy(let name, let code, let gas): .list([.string("deploy"), .string(name), .bytes(code), .uint(gas)])
        case .call(let t, let data, let gas): .list([.string("call"), target(t), .bytes(data), .uint(gas)])
        case .update(let name, let code, let gas, let storage):
            .list([.string("update"), .string(name), .bytes(code), .uint(gas), .string(storage.rawValue)])
        case .pause(let name): .list([.string("pause"), .string(name)])
        case .resume(let name): .list([.string("resume"), .string(name)])
        case .terminate(let name): .list([.string("terminate"), .string(name)])
        case .delete(let name): .list([.string("delete"), .string(name)])
        case .grant(let account, let action, let scope):
            .list([.string("grant"), .bytes(account.bytes), .string(action.rawValue), .string(scope)])
        case .revoke(let account, let action, let scope):
            .list([.string("revoke"), .bytes(account.bytes), .string(action.rawValue), .string(scope)])
        case .emit(let name, let signature, let data): .list([.string("emit"), .string(name), .string(signature), .bytes(data)])
        }
        return RLP.encode(item)
    }

    /// Decodes a body.
    /// - Throws: ``ContractError`` `malformedContractOperation` (2200), `details["field"]` naming the field at fault.
    public init(decoding body: [UInt8]) throws(ContractError) {
        func malformed(_ field: String, _ why: String) -> ContractError {
            ContractError(.malformedContractOperation, "contract operation field '\(field)': \(why)", details: ["field": field])
        }
        let fields: [RLP.Item]
        do { fields = try RLP.decode(body).list("operation") } catch { throw malformed("operation", error.message) }
        func string(_ i: Int, _ field: String) throws(ContractError) -> String {
            guard i < fields.count else { throw malformed(field, "missing") }
            guard case .bytes(let b) = fields[i], let s = String(validating: b, as: UTF8.self) else { throw malformed(field, "expected UTF-8 text") }
            return s
        }
        func bytes(_ i: Int, _ field: String) throws(ContractError) -> [UInt8] {
            guard i < fields.count else { throw malformed(field, "missing") }
            guard case .bytes(let b) = fields[i] else { throw malformed(field, "expected a byte string") }
            return b
        }
        func uint(_ i: Int, _ field: String) throws(ContractError) -> UInt64 {
            guard i < fields.count else { throw malformed(field, "missing") }
            do { return try fields[i].uint64(field) } catch { throw malformed(field, error.message) }
        }
        func name(_ i: Int) throws(ContractError) -> String {
            let n = try string(i, "name")
            guard Self.isValidName(n) else {
                throw malformed("name", "'\(n)': 1–\(Self.maximumNameLength) characters of A-Z a-z 0-9 . _ -, starting with a letter")
            }
            return n
        }
        func address(_ i: Int, _ field: String) throws(ContractError) -> EVMAddress {
            guard let a = EVMAddress(bytes: try bytes(i, field)) else { throw malformed(field, "expected 20 bytes") }
            return a
        }
        func count(_ n: Int) throws(ContractError) {
            guard fields.count == n else { throw malformed("operation", "\(fields.count) fields, expected \(n)") }
        }
        func scope(_ i: Int) throws(ContractError) -> String {
            let s = try string(i, "scope")
            guard s == "*" || Self.isValidName(s) else { throw malformed("scope", "'\(s)': a contract name or '*'") }
            return s
        }
        func action(_ i: Int) throws(ContractError) -> ContractAction {
            let a = try string(i, "action")
            guard let action = ContractAction(rawValue: a) else {
                throw malformed("action", "'\(a)', expected one of \(ContractAction.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return action
        }
        switch try string(0, "op") {
        case "deploy":
            try count(4)
            self = .deploy(name: try name(1), initCode: try bytes(2, "initCode"), gasLimit: try uint(3, "gasLimit"))
        case "call":
            try count(4)
            guard case .list(let t) = fields[1], t.count == 2, case .bytes(let kind) = t[0], case .bytes(let value) = t[1] else {
                throw malformed("target", "expected [\"name\", NAME] or [\"address\", ADDRESS]")
            }
            let target: ContractTarget
            switch String(decoding: kind, as: UTF8.self) {
            case "name":
                guard let n = String(validating: value, as: UTF8.self), Self.isValidName(n) else { throw malformed("target", "not a contract name") }
                target = .name(n)
            case "address":
                guard let a = EVMAddress(bytes: value) else { throw malformed("target", "an address has 20 bytes, found \(value.count)") }
                target = .address(a)
            default: throw malformed("target", "expected \"name\" or \"address\"")
            }
            self = .call(target, data: try bytes(2, "data"), gasLimit: try uint(3, "gasLimit"))
        case "update":
            try count(5)
            let policy = try string(4, "storage")
            guard let storage = ContractStoragePolicy(rawValue: policy) else { throw malformed("storage", "'\(policy)', expected keep or migrate") }
            self = .update(name: try name(1), initCode: try bytes(2, "initCode"), gasLimit: try uint(3, "gasLimit"), storage: storage)
        case "pause": try count(2); self = .pause(name: try name(1))
        case "resume": try count(2); self = .resume(name: try name(1))
        case "terminate": try count(2); self = .terminate(name: try name(1))
        case "delete": try count(2); self = .delete(name: try name(1))
        case "grant": try count(4); self = .grant(account: try address(1, "account"), action: try action(2), scope: try scope(3))
        case "revoke": try count(4); self = .revoke(account: try address(1, "account"), action: try action(2), scope: try scope(3))
        case "emit":
            try count(4)
            let signature = try string(2, "signature")
            guard (3...256).contains(signature.utf8.count), signature.contains("("), signature.hasSuffix(")") else {
                throw malformed("signature", "'\(signature)': an event signature such as Inspected(string,uint256)")
            }
            self = .emit(name: try name(1), signature: signature, data: try bytes(3, "data"))
        case let op:
            throw malformed("op", "'\(op)', expected deploy, call, update, pause, resume, terminate, delete, grant, revoke or emit")
        }
    }

    /// Whether `name` is a valid contract name: 1–64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter.
    public static func isValidName(_ name: String) -> Bool {
        func isLetter(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumNameLength, isLetter(first) else { return false }
        return bytes.allSatisfy { isLetter($0) || (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }
}
