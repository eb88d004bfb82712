import Foundation
import LedgerCrypto
import LedgerModel

/// Reading the fixtures' JSON values (hex strings for numbers, bytes and addresses).
enum FixtureJSON {
    typealias Object = [String: Any]

    static func object(_ value: Any?, _ field: String) throws(ContractError) -> Object {
        guard let object = value as? Object else { throw malformed(field, value, "an object") }
        return object
    }

    static func string(_ value: Any?, _ field: String) throws(ContractError) -> String {
        guard let text = value as? String else { throw malformed(field, value, "a string") }
        return text
    }

    static func array(_ value: Any?, _ field: String) throws(ContractError) -> [Any] {
        guard let list = value as? [Any] else { throw malformed(field, value, "a list") }
        return list
    }

    /// A hex number of at most 256 bits (leading zeros allowed).
    static func word(_ value: Any?, _ field: String) throws(ContractError) -> UInt256 {
        let text = try string(value, field)
        var digits = Substring(text)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        let trimmed = digits.drop { $0 == "0" }
        guard let word = UInt256(hex: String(trimmed)) else { throw malformed(field, value, "a hex number of at most 256 bits") }
        return word
    }

    /// A hex number that fits 64 bits.
    static func uint64(_ value: Any?, _ field: String) throws(ContractError) -> UInt64 {
        guard let number = try word(value, field).uint64 else { throw malformed(field, value, "a number below 2^64") }
        return number
    }

    /// Hex bytes (`0x` optional, empty allowed).
    static func bytes(_ value: Any?, _ field: String) throws(ContractError) -> [UInt8] {
        let text = try string(value, field)
        let digits = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
        do { return try Hex.decode(digits) } catch { throw malformed(field, value, "hex bytes") }
    }

    static func address(_ value: Any?, _ field: String) throws(ContractError) -> EVMAddress {
        guard let text = value as? String, let address = EVMAddress(hex: text) else { throw malformed(field, value, "a 20-byte address") }
        return address
    }

    static func malformed(_ field: String, _ value: Any?, _ expected: String) -> ContractError {
        let shown = value.map { String(describing: $0).prefix(80) } ?? "nothing"
        return ContractError(.fixtureMalformed, "field '\(field)': expected \(expected), found \(shown)", details: ["field": field])
    }

    /// A `pre`/`post`/`postState` object: address → {balance, code, nonce, storage}.
    static func state(_ value: Any?, _ field: String, blockHashes: EVMFixtureState.BlockHashes) throws(ContractError) -> EVMFixtureState {
        var state = EVMFixtureState(blockHashes: blockHashes)
        for (key, entry) in try object(value, field) {
            let address = try address(key, "\(field) address")
            let fields = try object(entry, "\(field).\(key)")
            var slots = [UInt256: UInt256]()
            for (slot, stored) in try object(fields["storage"] ?? Object(), "\(field).\(key).storage") {
                slots[try word(slot, "\(field).\(key).storage key")] = try word(stored, "\(field).\(key).storage[\(slot)]")
            }
            let account = EVMAccount(nonce: try uint64(fields["nonce"], "\(field).\(key).nonce"),
                                     balance: try word(fields["balance"], "\(field).\(key).balance"))
            state.setAccount(address, account, code: try bytes(fields["code"] ?? "0x", "\(field).\(key).code"), storage: slots)
        }
        return state
    }

    /// keccak256(rlp(logs)), each log `[address, [topics], data]`.
    static func logsHash(_ logs: [EVMLog]) -> UInt256 {
        let items = logs.map { log in
            RLP.Item.list([.bytes(log.address.bytes), .list(log.topics.map { .bytes($0.bigEndianBytes) }), .bytes(log.data)])
        }
        return UInt256(bigEndian: Keccak256.hash(RLP.encode(.list(items))).bytes)
    }

    /// An EIP-2930 access list: [{address, storageKeys}].
    static func accessList(_ value: Any?, _ field: String) throws(ContractError) -> [EVMTransaction.AccessListEntry] {
        guard let value, !(value is NSNull) else { return [] }
        var entries = [EVMTransaction.AccessListEntry]()
        for (index, raw) in try array(value, field).enumerated() {
            let entry = try object(raw, "\(field)[\(index)]")
            var keys = [UInt256]()
            for key in try array(entry["storageKeys"] ?? [Any](), "\(field)[\(index)].storageKeys") {
                keys.append(try word(key, "\(field)[\(index)].storageKeys"))
            }
            entries.append(.init(address: try address(entry["address"], "\(field)[\(index)].address"), storageKeys: keys))
        }
        return entries
    }

    static func hex(_ word: UInt256) -> String { "0x" + Hex.encode(word.bigEndianBytes) }
}

/// The difference between two states, described for a failure report (empty when they are equal).
extension EVMFixtureState {
    func differences(from expected: EVMFixtureState, limit: Int = 4) -> [String] {
        var out = [String]()
        let addresses = Set(accounts.keys).union(expected.accounts.keys).sorted()
        for address in addresses {
            let mine = accounts[address], theirs = expected.accounts[address]
            switch (mine, theirs) {
            case (nil, .some): out.append("\(address) missing")
            case (.some, nil): out.append("\(address) should not exist")
            case (let a?, let b?):
                if a.nonce != b.nonce { out.append("\(address) nonce \(a.nonce), expected \(b.nonce)") }
                if a.balance != b.balance { out.append("\(address) balance \(a.balance), expected \(b.balance)") }
                if codes[address] != expected.codes[address] { out.append("\(address) code differs") }
                let s = storage[address] ?? [:], t = expected.storage[address] ?? [:]
                for slot in Set(s.keys).union(t.keys).sorted() where s[slot] != t[slot] {
                    out.append("\(address) slot \(FixtureJSON.hex(slot)) = \(FixtureJSON.hex(s[slot] ?? .zero)), expected \(FixtureJSON.hex(t[slot] ?? .zero))")
                }
            case (nil, nil): break
            }
            if out.count >= limit { break }
        }
        return Array(out.prefix(limit))
    }
}
