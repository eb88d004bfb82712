import LedgerCrypto
import LedgerModel

/// The sender of a signed transaction, for fixtures that give the raw bytes but not the `sender` (the
/// transactions of a block that must be refused): the signing hash of its type, then secp256k1 recovery.
enum FixtureSender {
    /// - Parameter raw: A legacy (RLP list) or typed (0x01/0x02/0x03 ‖ RLP list) signed transaction.
    /// - Throws: ``ContractError`` `fixtureMalformed` (2102) when the bytes do not decode or no key recovers.
    static func sender(of raw: [UInt8]) throws(ContractError) -> EVMAddress {
        do {
            guard let first = raw.first else { throw ContractError(.fixtureMalformed, "empty transaction bytes") }
            let digest: Digest
            let recoveryID: UInt8
            let r: [UInt8], s: [UInt8]
            if first >= 0xC0 {
                let fields = try RLP.decode(raw).list("legacy transaction", count: 9)
                let v = try fields[6].uint64("v")
                r = try fields[7].bytes("r")
                s = try fields[8].bytes("s")
                if v == 27 || v == 28 {
                    recoveryID = UInt8(v - 27)
                    digest = Keccak256.hash(RLP.encode(.list(Array(fields.prefix(6)))))
                } else if v >= 35 {
                    recoveryID = UInt8((v - 35) % 2)
                    digest = Keccak256.hash(RLP.encode(.list(Array(fields.prefix(6)) + [.uint((v - 35) / 2), .uint(0), .uint(0)])))
                } else {
                    throw ContractError(.fixtureMalformed, "legacy transaction v \(v) is neither 27/28 nor EIP-155")
                }
            } else {
                let fields = try RLP.decode(Array(raw.dropFirst())).list("typed transaction")
                guard fields.count >= 4 else { throw ContractError(.fixtureMalformed, "typed transaction of \(fields.count) fields") }
                let parity = try fields[fields.count - 3].uint64("yParity")
                guard parity <= 1 else { throw ContractError(.fixtureMalformed, "yParity \(parity)") }
                recoveryID = UInt8(parity)
                r = try fields[fields.count - 2].bytes("r")
                s = try fields[fields.count - 1].bytes("s")
                digest = Keccak256.hash([first] + RLP.encode(.list(Array(fields.dropLast(3)))))
            }
            guard r.count <= 32, s.count <= 32 else { throw ContractError(.fixtureMalformed, "r or s longer than 32 bytes") }
            let pad = { (bytes: [UInt8]) in [UInt8](repeating: 0, count: 32 - bytes.count) + bytes }
            let signature = try Signature(scheme: .secp256k1, rawRepresentation: pad(r) + pad(s) + [recoveryID])
            let key = try Secp256k1.recover(digest: digest, signature: signature)
            guard let point = key.uncompressedRepresentation, let address = EVMAddress(publicKey64: Array(point.dropFirst())) else {
                throw ContractError(.fixtureMalformed, "the recovered key has no uncompressed form")
            }
            return address
        } catch let error as ContractError {
            throw error
        } catch {
            throw ContractError(.fixtureMalformed, "transaction bytes: \(error)")
        }
    }
}
