import ArgumentParser
import Contracts
import LedgerCore
import Foundation

/// `forgechain bench evm`: the interpreter's gas per second on three loops, each run as one frame (no
/// transaction, empty state): arithmetic-heavy (MUL, ADD, DIV, XOR, MULMOD), memory-heavy (MSTORE, MLOAD,
/// KECCAK256, MCOPY) and storage-heavy (SSTORE, SLOAD on 64 warm slots). Count = gas used; ops_per_sec = gas/s;
/// best of `runs`. `--workloads-out FILE` writes the same bytecode and gas limits as JSON, for
/// Scripts/bench-evm.py to run them on revm (pyrevm) and py-evm.
enum EVMBench {
    struct Workload {
        var name: String
        var code: [UInt8]
        var gasLimit: UInt64
    }

    /// A tiny assembler: opcodes, pushes, and one loop label.
    private struct Assembly {
        var bytes: [UInt8] = []
        var loop = 0
        var jumps: [Int] = []
        mutating func op(_ name: String) { bytes.append(EVMOpcode.named[name]!.byte) }
        mutating func push(_ value: UInt256, bytes n: Int) {
            op("PUSH\(n)")
            bytes += value.bigEndianBytes.suffix(n)
        }
        mutating func push(small value: UInt64) {
            let n = max(1, (64 - value.leadingZeroBitCount + 7) / 8)
            push(UInt256(value), bytes: n)
        }
        mutating func label() { loop = bytes.count; op("JUMPDEST") }
        /// counter (on top) − 1; jump back to the label while it is not zero.
        mutating func countDownAndLoop() {
            push(small: 1); op("SWAP1"); op("SUB"); op("DUP1")
            op("PUSH2"); jumps.append(bytes.count); bytes += [0, 0]
            op("JUMPI"); op("STOP")
        }
        func assembled() -> [UInt8] {
            var out = bytes
            for at in jumps { out[at] = UInt8(loop >> 8); out[at + 1] = UInt8(loop & 0xFF) }
            return out
        }
    }

    static func workloads(scale: Double) -> [Workload] {
        let k1 = UInt256(hex: "0x9e3779b97f4a7c15f39cc0605cedc8341082276bf3a27251f86c6a11d0c18e95")!
        let k2 = UInt256(hex: "0x2545f4914f6cdd1d8a5b7c3e1f0a2b3c4d5e6f708192a3b4c5d6e7f801234567")!
        let p = UInt256(hex: "0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47")!
        func iterations(_ base: Double) -> UInt64 { UInt64(max(1_000, base * scale)) }

        var arithmetic = Assembly()
        arithmetic.push(small: 1)                                     // acc
        arithmetic.push(UInt256(iterations(1_000_000)), bytes: 4)       // counter
        arithmetic.label()
        arithmetic.op("SWAP1")
        arithmetic.push(k1, bytes: 32); arithmetic.op("MUL")
        arithmetic.push(k2, bytes: 32); arithmetic.op("ADD")
        arithmetic.op("DUP1"); arithmetic.push(small: 3); arithmetic.op("SWAP1"); arithmetic.op("DIV"); arithmetic.op("XOR")
        arithmetic.push(p, bytes: 32); arithmetic.op("DUP2"); arithmetic.op("DUP1"); arithmetic.op("MULMOD"); arithmetic.op("ADD")
        arithmetic.op("SWAP1")
        arithmetic.countDownAndLoop()

        var memory = Assembly()
        memory.push(UInt256(iterations(600_000)), bytes: 4)
        memory.label()
        memory.op("DUP1"); memory.op("DUP1"); memory.push(small: 0x1F); memory.op("AND"); memory.push(small: 5); memory.op("SHL"); memory.op("MSTORE")
        memory.op("DUP1"); memory.push(small: 0x1F); memory.op("AND"); memory.push(small: 5); memory.op("SHL"); memory.op("MLOAD")
        memory.push(small: 0x40); memory.push(small: 0); memory.op("KECCAK256"); memory.op("XOR")
        memory.push(small: 0x400); memory.op("MSTORE")
        memory.push(small: 0x100); memory.push(small: 0); memory.push(small: 0x200); memory.op("MCOPY")
        memory.countDownAndLoop()

        var storage = Assembly()
        storage.push(UInt256(iterations(400_000)), bytes: 4)
        storage.label()
        storage.op("DUP1"); storage.op("DUP1"); storage.push(small: 0x3F); storage.op("AND"); storage.op("SSTORE")
        storage.op("DUP1"); storage.push(small: 0x3F); storage.op("AND"); storage.op("SLOAD"); storage.op("POP")
        storage.countDownAndLoop()

        return [Workload(name: "evm.arithmetic", code: arithmetic.assembled(), gasLimit: 1 << 40),
                Workload(name: "evm.memory", code: memory.assembled(), gasLimit: 1 << 40),
                Workload(name: "evm.storage", code: storage.assembled(), gasLimit: 1 << 40)]
    }

    /// An empty world: the loops touch only their own account.
    struct EmptyState: EVMStateReader {
        func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount? { nil }
        func code(_ address: EVMAddress) throws(ContractError) -> [UInt8] { [] }
        func storage(_ address: EVMAddress, slot: UInt256) throws(ContractError) -> UInt256 { .zero }
        func blockHash(_ number: UInt64) throws(ContractError) -> UInt256? { nil }
    }

    static let contract = EVMAddress(hex: "0x00000000000000000000000000000000000c0de1")!
    static let caller = EVMAddress(hex: "0x000000000000000000000000000000000000ca11")!

    static func run(scale: Double, runs: Int, workloadsOut: String?, reporter: BenchReporter) throws {
        let workloads = workloads(scale: scale)
        if let workloadsOut {
            let json = workloads.map { ["name": $0.name, "code": Hex.encode($0.code), "gas_limit": String($0.gasLimit),
                                        "address": contract.description, "caller": caller.description] }
            try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: workloadsOut))
        }
        let evm = EVM()
        let block = EVMBlockEnvironment(coinbase: EVMAddress(word: .zero), number: 1, timestamp: 1, gasLimit: 1 << 40, chainID: 1)
        for workload in workloads {
            var best = Double.infinity
            var gasUsed: UInt64 = 0
            for _ in 0..<runs {
                let message = EVMMessage(address: contract, caller: caller, code: workload.code, gas: workload.gasLimit)
                let start = ContinuousClock.now
                let result = try evm.execute(message, block: block, state: EmptyState())
                let elapsed = ContinuousClock.now - start
                guard result.status == .success else { throw ValidationError("bench evm: \(workload.name) ended with \(result.status)") }
                gasUsed = workload.gasLimit - result.gasLeft
                best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            reporter.report(workload.name, count: Int(gasUsed), seconds: best, extra: ["load_average": loadAverage()])
        }
    }

    static func loadAverage() -> Double {
        var loads = [Double](repeating: 0, count: 3)
        return getloadavg(&loads, 3) > 0 ? loads[0] : 0
    }
}
