@testable import Contracts
import LedgerCrypto
import Testing

/// Random bytecode never crashes the interpreter, never uses more gas than the limit, and a failed run changes
/// nothing but the sender's fee and nonce (and the coinbase's tip).
@Suite struct EVMFuzzTests {
    typealias W = EVMTestWorld

    /// Bytecode biased toward valid instructions with small operands, so runs get past the first few bytes.
    static func randomCode(_ rng: inout SplitMix64) -> [UInt8] {
        let defined = EVMOpcode.table.compactMap { $0?.byte }
        var code: [UInt8] = []
        let length = Int(rng.next() % 120) + 1
        while code.count < length {
            switch rng.next() % 10 {
            case 0...3:
                code += [0x60, UInt8(truncatingIfNeeded: rng.next() % 70)]
            case 4:
                code.append(UInt8(truncatingIfNeeded: rng.next()))
            default:
                code.append(defined[Int(rng.next() % UInt64(defined.count))])
            }
        }
        return code
    }

    @Test func randomBytecodeKeepsTheInvariants() throws {
        var rng = SplitMix64(seed: 0xE7A1)
        var halts = 0
        for round in 0..<1_500 {
            let code = Self.randomCode(&rng)
            var state = W.state([:], balances: [:])
            state.put(W.b, balance: UInt256(1_000), nonce: 1, code: code, storage: [.one: UInt256(5)])
            state.put(W.c, balance: UInt256(3), nonce: 1, code: Self.randomCode(&rng))
            let gasLimit = UInt64(21_000 + rng.next() % 200_000)
            let tx = W.tx(to: W.b, value: rng.next() % 3, data: (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                          gas: gasLimit)
            let result = try EVM().transact(tx, block: W.block, state: state)
            #expect(result.gasUsed <= gasLimit, "round \(round)")
            if result.status != .success {
                if case .halt = result.status { halts += 1 }
                let changed = Set(result.changes.accounts.keys)
                #expect(changed.isSubset(of: [W.sender, W.coinbase]), "round \(round): \(changed)")
                var after = state
                after.apply(result.changes)
                #expect(after.accounts[W.sender]?.balance == UInt256(1_000_000_000_000) &- UInt256(result.gasUsed * 10))
                #expect(after.accounts[W.sender]?.nonce == 1)
                #expect(result.logs.isEmpty)
            }
        }
        #expect(halts > 100)
    }

    @Test func randomBytesAsFrameCodeNeverCrash() throws {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<2_000 {
            let code = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let message = EVMMessage(address: W.a, caller: W.sender, code: code, gas: rng.next() % 50_000)
            let result = try EVM().execute(message, block: W.block, state: EVMTestState())
            #expect(result.gasLeft <= message.gas)
            if case .halt = result.status { #expect(result.gasLeft == 0 && result.changes.accounts.isEmpty) }
        }
    }
}
