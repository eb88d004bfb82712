import LedgerCrypto

/// A 20-byte EVM account address, held as the low 160 bits of a ``UInt256``
/// (so moving it to and from the stack is free).
///
/// ```swift
/// let address = EVMAddress(hex: "0x095e7baea6a6c7c4c2dfeb977efac326af552d87")!
/// address.bytes.count   // 20
/// ```
public struct EVMAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as a word: the top 96 bits are zero.
    public let word: UInt256

    /// The low 160 bits of `word` (the rest is dropped, as the EVM does when a word names an account).
    @inlinable public init(word: UInt256) {
        self.word = UInt256(w0: word.w0, w1: word.w1, w2: word.w2 & 0xFFFF_FFFF, w3: 0)
    }

    /// Exactly 20 bytes; `nil` for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        self.init(word: UInt256(bigEndian: bytes))
    }

    /// 40 hexadecimal digits, with or without `0x`; `nil` otherwise.
    public init?(hex text: String) {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : Substring(text)
        guard digits.count == 40, let word = UInt256(hex: String(digits)) else { return nil }
        self.init(word: word)
    }

    /// The 20 bytes, big-endian.
    public var bytes: [UInt8] { Array(word.bigEndianBytes.suffix(20)) }

    /// The address of a public key: the last 20 bytes of keccak256 of its 64-byte uncompressed form (no 0x04 prefix).
    public init?(publicKey64 key: [UInt8]) {
        guard key.count == 64 else { return nil }
        self.init(bytes: Keccak256.hash(key).bytes.suffix(20))
    }

    public static func < (lhs: EVMAddress, rhs: EVMAddress) -> Bool { lhs.word < rhs.word }

    /// `0x` and 40 lower-case hexadecimal digits.
    public var description: String { "0x" + Hex.encode(bytes) }
}
