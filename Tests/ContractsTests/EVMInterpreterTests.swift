@testable import Contracts
import LedgerCrypto
import Testing

/// A tiny assembler: mnemonics from the opcode table, each PUSHn followed by its hex immediate (left-padded).
enum EVMAsm {
    static func code(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)[...]
        while let token = tokens.popFirst() {
            guard let op = EVMOpcode.named[token.uppercased()] else { fatalError("unknown mnemonic \(token)") }
            out.append(op.byte)
            if op.immediateBytes > 0 {
                let hex = tokens.popFirst()!.replacingOccurrences(of: "0x", with: "")
                let padded = String(repeating: "0", count: max(0, op.immediateBytes * 2 - hex.count)) + hex
                out += try! Hex.decode(padded)
            }
        }
        return out
    }

    static func hex(_ address: EVMAddress) -> String { Hex.encode(address.bytes) }
}

enum EVMTestWorld {
    static let sender = EVMAddress(hex: "0x1000000000000000000000000000000000000001")!
    static let a = EVMAddress(hex: "0xaaaa000000000000000000000000000000000000")!
    static let b = EVMAddress(hex: "0xbbbb000000000000000000000000000000000000")!
    static let c = EVMAddress(hex: "0xcccc000000000000000000000000000000000000")!
    static let coinbase = EVMAddress(hex: "0xc0ffee0000000000000000000000000000000000")!
    static let block = EVMBlockEnvironment(coinbase: coinbase, number: 10, timestamp: 1_700_000_000, gasLimit: 30_000_000,
                                           baseFee: UInt256(7), chainID: 1)

    static func tx(to: EVMAddress?, value: UInt64 = 0, data: [UInt8] = [], gas: UInt64 = 1_000_000, nonce: UInt64 = 0) -> EVMTransaction {
        EVMTransaction(sender: sender, to: to, value: UInt256(value), data: data, gasLimit: gas, nonce: nonce, gasPrice: UInt256(10))
    }

    static func state(_ contracts: [EVMAddress: String], balances: [EVMAddress: UInt64] = [:]) -> EVMTestState {
        var state = EVMTestState()
        state.put(sender, balance: UInt256(1_000_000_000_000))
        for (address, source) in contracts {
            state.put(address, balance: UInt256(balances[address] ?? 0), nonce: 1, code: EVMAsm.code(source))
        }
        return state
    }

    /// CALL-family argument pushes: gas, address, [value], args (0, 0), return (0, 32).
    static func call(_ op: String, _ target: EVMAddress, value: UInt64? = nil, gas: UInt32? = nil) -> String {
        let valuePush = value.map { "PUSH1 \(String($0, radix: 16)) " } ?? ""
        let gasPush = gas.map { "PUSH4 \(String($0, radix: 16))" } ?? "GAS"
        return "PUSH1 20 PUSH1 00 PUSH1 00 PUSH1 00 \(valuePush)PUSH20 \(EVMAsm.hex(target)) \(gasPush) \(op)"
    }
}

@Suite struct EVMInterpreterTests {
    typealias W = EVMTestWorld

    func run(_ source: String, gas: UInt64 = 100_000, state: EVMTestState = EVMTestState(), storage: [UInt256: UInt256] = [:],
             data: [UInt8] = []) throws -> EVMFrameResult {
        var state = state
        if !storage.isEmpty { state.put(W.a, nonce: 1, code: EVMAsm.code(source), storage: storage) }
        let message = EVMMessage(address: W.a, caller: W.sender, code: EVMAsm.code(source), data: data, gas: gas)
        return try EVM().execute(message, block: W.block, state: state)
    }

    @Test func memoryExpansionCostsThreePerWordPlusTheQuadraticTerm() throws {
        let result = try run("PUSH1 01 PUSH2 8000 MSTORE STOP")
        // 1025 words: 3·1025 + 1025²/512 = 5127, plus three instructions of 3.
        #expect(result.status == .success && result.gasLeft == 100_000 - 9 - 5127)
        let again = try run("PUSH1 01 PUSH1 00 MSTORE PUSH1 02 PUSH1 00 MSTORE STOP")
        #expect(again.gasLeft == 100_000 - 12 - 6 - 3)
        let huge = try run("PUSH1 01 PUSH8 ffffffffffffffff MSTORE STOP")
        #expect(huge.status == .halt("out of gas") && huge.gasLeft == 0)
        let msize = try run("PUSH1 00 PUSH1 40 MSTORE8 MSIZE PUSH1 00 MSTORE PUSH1 20 PUSH1 00 RETURN")
        #expect(UInt256(bigEndian: msize.output) == UInt256(96))
    }

    /// EIP-3529's table (slot warm in the EIP; cold here, so 2100 more each).
    @Test(arguments: [
        ("60006000556000600055", 212, 0, 0), ("60006000556001600055", 20112, 0, 0), ("60016000556000600055", 20112, 19900, 0),
        ("60016000556002600055", 20112, 0, 0), ("60016000556001600055", 20112, 0, 0), ("60006000556000600055", 3012, 4800, 1),
        ("60006000556001600055", 3012, 2800, 1), ("60006000556002600055", 3012, 0, 1), ("60026000556000600055", 3012, 4800, 1),
        ("60026000556003600055", 3012, 0, 1), ("60026000556001600055", 3012, 2800, 1), ("60026000556002600055", 3012, 0, 1),
        ("60016000556000600055", 3012, 4800, 1), ("60016000556002600055", 3012, 0, 1), ("60016000556001600055", 212, 0, 1),
        ("600160005560006000556001600055", 40118, 19900, 0), ("600060005560016000556000600055", 5918, 7600, 1),
    ])
    func sstoreGasAndRefundsFollowEIP3529(code: String, used: Int, refund: Int, original: Int) throws {
        var state = EVMTestState()
        let bytes = try Hex.decode(code)
        state.put(W.a, nonce: 1, code: bytes, storage: original == 0 ? [:] : [.zero: UInt256(UInt64(original))])
        let message = EVMMessage(address: W.a, caller: W.sender, code: bytes, gas: 100_000)
        let result = try EVM().execute(message, block: W.block, state: state)
        #expect(result.status == .success)
        #expect(100_000 - Int(result.gasLeft) == used + 2100)
        #expect(result.refund == Int64(refund))
    }

    @Test func sstoreWithTwoThousandThreeHundredGasOrLessHalts() throws {
        let result = try run("PUSH1 01 PUSH1 00 SSTORE", gas: 2306)
        #expect(result.status == .halt("out of gas (SSTORE needs more than 2300)"))
    }

    @Test func callMovesValueAndARevertedCalleeUndoesItsStorageAndBalance() throws {
        let source = W.call("CALL", W.b, value: 5) + " ISZERO PUSH1 00 SSTORE " + W.call("CALL", W.c, value: 7) + " PUSH1 01 SSTORE STOP"
        var state = W.state([W.a: source, W.b: "PUSH1 01 PUSH1 00 SSTORE PUSH1 00 PUSH1 00 REVERT", W.c: "STOP"],
                            balances: [W.a: 100])
        let result = try EVM().transact(W.tx(to: W.a), block: W.block, state: state)
        #expect(result.status == .success)
        state.apply(result.changes)
        #expect(state.slots[W.a] == [.zero: .one, .one: .one])
        #expect(state.slots[W.b] == nil)
        #expect(state.accounts[W.b]?.balance == .zero && state.accounts[W.c]?.balance == UInt256(7))
        #expect(state.accounts[W.a]?.balance == UInt256(93))
        // Gas accounting: the sender paid exactly gasUsed × price.
        #expect(state.accounts[W.sender]?.balance == UInt256(1_000_000_000_000) &- UInt256(result.gasUsed * 10))
        #expect(state.accounts[W.coinbase]?.balance == UInt256(result.gasUsed * 3))
    }

    @Test func createAndCreate2AddressesMatchTheKnownVectors() {
        let zero = EVMAddress(word: .zero)
        #expect(EVMRunner.create2Address(sender: zero, salt: .zero, initcode: [0x00]).description == "0x4d1a2e2bb4f88f0250f26ffff098b0b30b26bf38")
        #expect(EVMRunner.create2Address(sender: EVMAddress(hex: "0xdeadbeef00000000000000000000000000000000")!, salt: .zero,
                                         initcode: [0x00]).description == "0xb928f69bb1d91cd65274e3c79d8986362984fda3")
        #expect(EVMRunner.create2Address(sender: EVMAddress(hex: "0x00000000000000000000000000000000deadbeef")!,
                                         salt: UInt256(0xCAFE_BABE), initcode: [0xDE, 0xAD, 0xBE, 0xEF]).description
                == "0x60f3f640a8508fc6a86d45df051962668e1e8ac7")
        #expect(EVMRunner.create2Address(sender: zero, salt: .zero, initcode: []).description == "0xe33c0c7f7df4809055c3eba6c09cfe4baf1bd9e0")
        let deployer = EVMAddress(hex: "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0")!
        #expect(EVMRunner.createAddress(sender: deployer, nonce: 0).description == "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d")
        #expect(EVMRunner.createAddress(sender: deployer, nonce: 1).description == "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8")
    }

    @Test func create2DeploysTheReturnedCodeAtItsAddress() throws {
        // Init code: store 0x60ff (PUSH1 ff) ... returns the two bytes 0x60 0xff.
        let initcode = EVMAsm.code("PUSH2 60ff PUSH1 00 MSTORE PUSH1 02 PUSH1 1e RETURN")
        let initHex = Hex.encode(initcode)
        let source = "PUSH\(initcode.count) \(initHex) PUSH1 00 MSTORE PUSH1 2a PUSH1 \(String(initcode.count, radix: 16)) "
            + "PUSH1 \(String(32 - initcode.count, radix: 16)) PUSH1 00 CREATE2 PUSH1 00 SSTORE STOP"
        var state = W.state([W.a: source])
        let result = try EVM().transact(W.tx(to: W.a), block: W.block, state: state)
        #expect(result.status == .success)
        state.apply(result.changes)
        let expected = EVMRunner.create2Address(sender: W.a, salt: UInt256(0x2A), initcode: initcode)
        #expect(state.slots[W.a]?[.zero] == expected.word)
        #expect(state.codes[expected] == [0x60, 0xFF])
        #expect(state.accounts[expected]?.nonce == 1 && state.accounts[W.a]?.nonce == 2)
    }

    @Test func aCreatingTransactionDeploysAndRefusesOversizedCode() throws {
        var state = W.state([:])
        let initcode = EVMAsm.code("PUSH1 01 PUSH1 00 MSTORE PUSH1 20 PUSH1 00 RETURN")
        let result = try EVM().transact(W.tx(to: nil, data: initcode), block: W.block, state: state)
        let address = EVMRunner.createAddress(sender: W.sender, nonce: 0)
        #expect(result.status == .success && result.createdAddress == address)
        state.apply(result.changes)
        #expect(state.codes[address]?.count == 32)
        // 24577 bytes of code: above EIP-170's limit, the creation fails and consumes its gas.
        let big = EVMAsm.code("PUSH2 6001 PUSH1 00 RETURN")
        let failed = try EVM().transact(W.tx(to: nil, data: big, gas: 10_000_000, nonce: 1), block: W.block, state: state)
        #expect(failed.status == .halt("code size above 24576 bytes") && failed.gasUsed == 10_000_000)
        // Code starting with 0xEF is refused (EIP-3541).
        let ef = EVMAsm.code("PUSH1 ef PUSH1 00 MSTORE8 PUSH1 01 PUSH1 00 RETURN")
        let refused = try EVM().transact(W.tx(to: nil, data: ef, nonce: 1), block: W.block, state: state)
        #expect(refused.status == .halt("code starting with 0xEF"))
    }

    @Test func callsStopAtDepth1024() throws {
        let source = "PUSH1 00 SLOAD PUSH1 01 ADD PUSH1 00 SSTORE PUSH1 00 PUSH1 00 PUSH1 00 PUSH1 00 PUSH1 00 ADDRESS GAS CALL POP STOP"
        var state = EVMTestState()
        state.put(W.a, nonce: 1, code: EVMAsm.code(source))
        let message = EVMMessage(address: W.a, caller: W.sender, code: EVMAsm.code(source), gas: 1 << 62)
        let result = try EVM().execute(message, block: W.block, state: state)
        #expect(result.status == .success)
        // Frames at depths 0 through 1024.
        #expect(result.changes.accounts[W.a]?.storage[.zero] == UInt256(1025))
    }

    @Test func aStateChangeInsideAStaticCallHaltsTheCallee() throws {
        let source = W.call("STATICCALL", W.b, gas: 50_000) + " ISZERO PUSH1 00 SSTORE " + W.call("STATICCALL", W.c, gas: 50_000)
            + " PUSH1 01 SSTORE STOP"
        var state = W.state([W.a: source, W.b: "PUSH1 01 PUSH1 00 SSTORE STOP", W.c: "PUSH1 01 PUSH1 00 TSTORE STOP"])
        let result = try EVM().transact(W.tx(to: W.a), block: W.block, state: state)
        state.apply(result.changes)
        #expect(state.slots[W.a]?[.zero] == .one)          // the SSTORE callee failed
        #expect(state.slots[W.a]?[.one] == nil)            // the TSTORE callee failed too (status 0 stored as nothing)
        #expect(state.slots[W.b] == nil)
    }

    @Test func transientStorageIsUndoneByARevertAndClearedAfterTheTransaction() throws {
        // B: with no call data, TSTORE 7 then REVERT (or STOP when C); with data, return TLOAD(0).
        let reader = "PUSH1 00 TLOAD PUSH1 00 MSTORE PUSH1 20 PUSH1 00 RETURN"
        let bSource = "CALLDATASIZE PUSH1 0e JUMPI PUSH1 07 PUSH1 00 TSTORE PUSH1 00 PUSH1 00 REVERT JUMPDEST " + reader
        let cSource = "CALLDATASIZE PUSH1 0a JUMPI PUSH1 07 PUSH1 00 TSTORE STOP JUMPDEST " + reader
        func caller(_ target: EVMAddress) -> String {
            W.call("CALL", target, value: 0) + " POP "
                + "PUSH1 20 PUSH1 00 PUSH1 01 PUSH1 00 PUSH1 00 PUSH20 \(EVMAsm.hex(target)) GAS CALL POP PUSH1 00 MLOAD PUSH1 00 SSTORE STOP"
        }
        var state = W.state([W.a: caller(W.b), W.c: cSource, W.b: bSource])
        state.put(W.sender, balance: UInt256(1_000_000_000_000))
        var result = try EVM().transact(W.tx(to: W.a), block: W.block, state: state)
        #expect(result.status == .success)
        #expect(result.changes.accounts[W.a]?.storage[.zero] == nil || result.changes.accounts[W.a]?.storage[.zero] == .zero)
        // The same through C, which does not revert: the value survives within the transaction.
        state.put(W.a, nonce: 1, code: EVMAsm.code(caller(W.c)))
        result = try EVM().transact(W.tx(to: W.a), block: W.block, state: state)
        #expect(result.changes.accounts[W.a]?.storage[.zero] == UInt256(7))
    }

    @Test func jumpsOnlyLandOnJumpdestsOutsidePushData() throws {
        #expect(try run("PUSH1 02 JUMP JUMPDEST STOP").status == .halt("invalid jump destination"))
        #expect(try run("PUSH1 04 JUMP STOP JUMPDEST STOP").status == .success)
        // 0x5b inside PUSH2's data is not a destination.
        #expect(try run("PUSH1 04 JUMP PUSH2 5b5b STOP").status == .halt("invalid jump destination"))
        #expect(try run("ADD").status == .halt("stack underflow"))
        #expect(try run(String(repeating: "PUSH0 ", count: 1025)).status == .halt("stack overflow"))
        #expect(try run("INVALID").status == .halt("INVALID"))
        #expect(try run("PUSH1 01 PUSH1 00 PUSH1 00 RETURNDATACOPY").status == .halt("return data out of bounds"))
    }

    @Test func mcopyCopiesOverlappingRanges() throws {
        let result = try run("PUSH32 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20 PUSH1 00 MSTORE "
            + "PUSH1 08 PUSH1 00 PUSH1 01 MCOPY PUSH1 20 PUSH1 00 RETURN")
        #expect(Array(result.output.prefix(10)) == [1, 1, 2, 3, 4, 5, 6, 7, 8, 10])
    }

    @Test func selfdestructDeletesOnlyAContractCreatedInTheSameTransaction() throws {
        // An existing contract: the balance moves, the account stays (EIP-6780).
        var state = W.state([W.a: "PUSH20 \(EVMAsm.hex(W.c)) SELFDESTRUCT"], balances: [W.a: 50])
        let result = try EVM().transact(W.tx(to: W.a), block: W.block, state: state)
        state.apply(result.changes)
        #expect(state.accounts[W.a] != nil && state.accounts[W.a]?.balance == .zero && state.codes[W.a] != nil)
        #expect(state.accounts[W.c]?.balance == UInt256(50))
        // Created and destructed in one transaction: gone.
        let initcode = EVMAsm.code("PUSH20 \(EVMAsm.hex(W.c)) SELFDESTRUCT")
        var fresh = W.state([:])
        let created = try EVM().transact(W.tx(to: nil, value: 9, data: initcode), block: W.block, state: fresh)
        fresh.apply(created.changes)
        let address = EVMRunner.createAddress(sender: W.sender, nonce: 0)
        #expect(fresh.accounts[address] == nil && fresh.accounts[W.c]?.balance == UInt256(9))
    }

    @Test func refundsAreCappedAtAFifthOfTheGasUsed() throws {
        // Clearing two set slots: 2 × 4800 refund, capped.
        var state = W.state([W.a: "PUSH1 00 PUSH1 00 SSTORE PUSH1 00 PUSH1 01 SSTORE STOP"])
        state.slots[W.a] = [.zero: .one, .one: .one]
        let result = try EVM().transact(W.tx(to: W.a), block: W.block, state: state)
        let raw: UInt64 = 21_000 + 12 + 2 * (2_100 + 2_900)
        #expect(result.gasUsed == raw - min(9_600, raw / 5))
    }

    @Test func environmentOpcodesReadTheBlockAndTransaction() throws {
        let source = "CHAINID PUSH1 00 MSTORE BASEFEE PUSH1 20 MSTORE NUMBER PUSH1 40 MSTORE PUSH0 BLOBHASH PUSH1 60 MSTORE "
            + "BLOBBASEFEE PUSH1 80 MSTORE SELFBALANCE PUSH1 a0 MSTORE PUSH1 c0 PUSH1 00 RETURN"
        let result = try run(source)
        let words = stride(from: 0, to: 192, by: 32).map { UInt256(bigEndian: result.output[$0..<($0 + 32)]) }
        #expect(words == [.one, UInt256(7), UInt256(10), .zero, .one, .zero])
    }
}
