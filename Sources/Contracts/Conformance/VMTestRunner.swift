import Foundation

/// The legacy VMTests (Constantinople folder of ethereum/legacytests): one frame runs `exec.code` at
/// `exec.address` against `pre`. A test without `post` must end in an exceptional halt. Otherwise the
/// output, the logs hash and the post-state (account by account) must match always, and the gas left only
/// when the code uses no instruction in ``scheduleDependent``.
///
/// The fixtures were filled with the Frontier/Homestead gas schedule, while this interpreter charges
/// Cancun's. The instructions whose cost differs between the two are listed in ``scheduleDependent``;
/// a test whose code contains one of them (outside PUSH data) has its gas left unchecked.
enum VMTestRunner {
    /// Instructions whose gas cost differs between Frontier/Homestead and Cancun:
    /// - EXP: 10 per exponent byte → 50 (EIP-160);
    /// - SLOAD 50, BALANCE/EXTCODESIZE/EXTCODECOPY 20, EXTCODEHASH 400 → warm/cold access (EIP-150, EIP-1884, EIP-2929);
    /// - SSTORE 20000/5000 → EIP-2200 net metering with EIP-2929 cold surcharge and EIP-3529 refunds;
    /// - CALL, CALLCODE, DELEGATECALL, STATICCALL 40 → 700 (EIP-150) → warm/cold (EIP-2929), plus the 63/64 rule;
    /// - SELFDESTRUCT 0 → 5000 (EIP-150) plus cold access and new-account charges;
    /// - CREATE, CREATE2: the 63/64 rule and EIP-3860 init-code word cost.
    static let scheduleDependent: Set<String> = [
        "EXP", "SLOAD", "SSTORE", "BALANCE", "EXTCODESIZE", "EXTCODECOPY", "EXTCODEHASH",
        "CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "SELFDESTRUCT", "CREATE", "CREATE2",
    ]

    /// Whether `code` contains an instruction of ``scheduleDependent`` (PUSH data skipped).
    static func usesScheduleDependentInstruction(_ code: [UInt8]) -> Bool {
        var pc = 0
        while pc < code.count {
            guard let opcode = EVMOpcode.table[Int(code[pc])] else {
                pc += 1
                continue
            }
            if scheduleDependent.contains(opcode.name) { return true }
            pc += 1 + opcode.immediateBytes
        }
        return false
    }

    static func run(_ test: [String: Any], label: String, engine: EVMConformanceEngine, recorder: inout EVMConformance.Recorder) {
        let name = "vm \(label)"
        do throws(ContractError) {
            recorder.record(.vm, name, try runTest(test, engine: engine))
        } catch {
            recorder.record(.vm, name, .fail("fixture: \(error.message)"))
        }
    }

    static func runTest(_ test: [String: Any], engine: EVMConformanceEngine) throws(ContractError) -> EVMConformance.Outcome {
        let env = try FixtureJSON.object(test["env"], "env")
        let exec = try FixtureJSON.object(test["exec"], "exec")
        let block = EVMBlockEnvironment(
            coinbase: try FixtureJSON.address(env["currentCoinbase"], "env.currentCoinbase"),
            number: try FixtureJSON.uint64(env["currentNumber"], "env.currentNumber"),
            timestamp: try FixtureJSON.uint64(env["currentTimestamp"], "env.currentTimestamp"),
            gasLimit: try FixtureJSON.uint64(env["currentGasLimit"], "env.currentGasLimit"),
            prevRandao: try FixtureJSON.word(env["currentDifficulty"] ?? "0x00", "env.currentDifficulty"),
            chainID: 1)
        let code = try FixtureJSON.bytes(exec["code"], "exec.code")
        let frame = EVMMessage(
            address: try FixtureJSON.address(exec["address"], "exec.address"),
            caller: try FixtureJSON.address(exec["caller"], "exec.caller"),
            origin: try FixtureJSON.address(exec["origin"], "exec.origin"),
            code: code,
            data: try FixtureJSON.bytes(exec["data"], "exec.data"),
            gas: try FixtureJSON.uint64(exec["gas"], "exec.gas"),
            gasPrice: try FixtureJSON.word(exec["gasPrice"], "exec.gasPrice"),
            value: try FixtureJSON.word(exec["value"], "exec.value"))
        let pre = try FixtureJSON.state(test["pre"], "pre", blockHashes: .decimalKeccak)
        let result: EVMFrameResult
        do throws(ContractError) {
            result = try engine.runFrame(frame, block, pre)
        } catch {
            return .fail("frame refused: \(error.message) (code \(error.code))")
        }
        guard let post = test["post"] else {
            if case .halt = result.status { return .pass }
            return .fail("expected an exceptional halt, got \(EVMConformance.describe(result.status)) with \(result.gasLeft) gas left")
        }
        guard result.status == .success else {
            return .fail("expected success, got \(EVMConformance.describe(result.status))")
        }
        var problems = [String]()
        let out = try FixtureJSON.bytes(test["out"] ?? "0x", "out")
        if result.output != out { problems.append("output \(result.output.count) bytes differs from the expected \(out.count)") }
        if let logs = test["logs"], FixtureJSON.logsHash(result.logs) != (try FixtureJSON.word(logs, "logs")) {
            problems.append("logs hash differs (\(result.logs.count) logs)")
        }
        var state = pre
        state.apply(result.changes)
        let expected = try FixtureJSON.state(post, "post", blockHashes: .decimalKeccak)
        let differences = state.differences(from: expected)
        if !differences.isEmpty { problems.append("post-state: " + differences.joined(separator: "; ")) }
        if let gas = test["gas"], !usesScheduleDependentInstruction(code) {
            let expectedGas = try FixtureJSON.uint64(gas, "gas")
            if result.gasLeft != expectedGas { problems.append("gas left \(result.gasLeft), expected \(expectedGas)") }
        }
        return problems.isEmpty ? .pass : .fail(problems.joined(separator: "; "))
    }
}
