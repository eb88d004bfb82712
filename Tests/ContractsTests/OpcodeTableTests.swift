import Contracts
import Testing

@Suite struct OpcodeTableTests {
    @Test func theTableDescribesEveryCancunInstructionOnce() {
        let rows = EVMOpcode.table.compactMap { $0 }
        // 0x00–0x0B (12), 0x10–0x1D (14), 0x20, 0x30–0x3F (16), 0x40–0x4A (11), 0x50–0x5F (16), PUSH1–32, DUP, SWAP,
        // LOG0–4, and the 0xF_ system instructions (10).
        #expect(rows.count == 12 + 14 + 1 + 16 + 11 + 16 + 32 + 16 + 16 + 5 + 10)
        #expect(Set(rows.map(\.name)).count == rows.count)
        #expect(EVMOpcode.named["PUSH32"]?.immediateBytes == 32 && EVMOpcode.named["PUSH0"]?.immediateBytes == 0)
        #expect(EVMOpcode.named["SWAP16"]?.stackIn == 17 && EVMOpcode.named["DUP16"]?.stackOut == 17)
        #expect(EVMOpcode.table[0x0C] == nil && EVMOpcode.table[0xFB] == nil)
        #expect(EVMOpcode.named["TSTORE"]?.traits.contains(.writesState) == true)
    }

    @Test func wordsAndAddressesRoundTripTheirBytes() {
        let word = UInt256(hex: "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20")!
        #expect(word.bigEndianBytes == Array(1...32))
        #expect(UInt256(bigEndian: word.bigEndianBytes) == word)
        #expect(UInt256(hex: "0x") == .zero && UInt256(hex: "0xg") == nil && UInt256(hex: String(repeating: "f", count: 65)) == nil)
        #expect(UInt256(bigEndian: [1, 0]) == UInt256(256) && UInt256(256).minimalBigEndianBytes == [1, 0])
        let address = EVMAddress(hex: "0x095e7baea6a6c7c4c2dfeb977efac326af552d87")!
        #expect(address.description == "0x095e7baea6a6c7c4c2dfeb977efac326af552d87")
        #expect(EVMAddress(word: UInt256.max).bytes == [UInt8](repeating: 0xFF, count: 20))
        #expect(EVMAccount().isEmpty && !EVMAccount(nonce: 1).isEmpty)
    }
}
