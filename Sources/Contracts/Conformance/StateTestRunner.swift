import Foundation

/// GeneralStateTests: each `post` entry runs the transaction its indexes select against `pre`; the state
/// root and the logs hash must match. An entry with `expectException` must be refused, leaving the root of
/// `pre`. Only Cancun entries run (the interpreter implements Cancun); others are skipped.
enum StateTestRunner {
    static let fork = "Cancun"

    static func run(_ test: [String: Any], label: String, engine: EVMConformanceEngine, recorder: inout EVMConformance.Recorder) {
        guard let post = test["post"] as? [String: Any] else {
            recorder.record(.state, "state \(label)", .fail("field 'post': expected an object"))
            return
        }
        var prepared: (EVMBlockEnvironment, EVMFixtureState, [String: Any])?
        var preRoot: UInt256?
        var used = Set<String>()
        for (fork, value) in post.sorted(by: { $0.key < $1.key }) {
            let entries = value as? [Any] ?? []
            for (position, raw) in entries.enumerated() {
                let entry = raw as? [String: Any] ?? [:]
                let indexes = entry["indexes"] as? [String: Any] ?? [:]
                let d = (indexes["data"] as? Int) ?? 0, g = (indexes["gas"] as? Int) ?? 0, v = (indexes["value"] as? Int) ?? 0
                var name = "state \(label) \(fork) d\(d)g\(g)v\(v)"
                if !used.insert(name).inserted { name += " #\(position)" }
                guard fork == Self.fork else {
                    recorder.record(.state, name, .skip("fork \(fork): the interpreter implements Cancun only"))
                    continue
                }
                do throws(ContractError) {
                    if prepared == nil {
                        prepared = (try environment(FixtureJSON.object(test["env"], "env")),
                                    try FixtureJSON.state(test["pre"], "pre", blockHashes: .decimalKeccak),
                                    try FixtureJSON.object(test["transaction"], "transaction"))
                    }
                    let (block, pre, transaction) = prepared!
                    if preRoot == nil { preRoot = pre.stateRoot }
                    recorder.record(.state, name, try runEntry(entry, d: d, g: g, v: v, block: block, pre: pre, preRoot: preRoot!,
                                                                 transaction: transaction, engine: engine))
                } catch {
                    recorder.record(.state, name, .fail("fixture: \(error.message)"))
                }
            }
        }
    }

    static func environment(_ env: [String: Any]) throws(ContractError) -> EVMBlockEnvironment {
        let randao = env["currentRandom"] ?? env["currentDifficulty"] ?? "0x00"
        return EVMBlockEnvironment(
            coinbase: try FixtureJSON.address(env["currentCoinbase"], "env.currentCoinbase"),
            number: try FixtureJSON.uint64(env["currentNumber"], "env.currentNumber"),
            timestamp: try FixtureJSON.uint64(env["currentTimestamp"], "env.currentTimestamp"),
            gasLimit: try FixtureJSON.uint64(env["currentGasLimit"], "env.currentGasLimit"),
            baseFee: try FixtureJSON.word(env["currentBaseFee"] ?? "0x00", "env.currentBaseFee"),
            prevRandao: try FixtureJSON.word(randao, "env.currentRandom"),
            chainID: 1,
            excessBlobGas: try FixtureJSON.uint64(env["currentExcessBlobGas"] ?? "0x00", "env.currentExcessBlobGas"))
    }

    /// The transaction an entry selects, or `nil` when its gas limit or nonce cannot be represented (such a
    /// transaction is invalid: limits above 2^64 − 1 exceed any block, EIP-2681 caps the nonce).
    static func transaction(_ tx: [String: Any], d: Int, g: Int, v: Int) throws(ContractError) -> EVMTransaction? {
        let data = try FixtureJSON.array(tx["data"], "transaction.data")
        let gasLimits = try FixtureJSON.array(tx["gasLimit"], "transaction.gasLimit")
        let values = try FixtureJSON.array(tx["value"], "transaction.value")
        guard d < data.count, g < gasLimits.count, v < values.count else {
            throw ContractError(.fixtureMalformed, "indexes d\(d) g\(g) v\(v) are outside the transaction's lists")
        }
        let gasLimit = try FixtureJSON.word(gasLimits[g], "transaction.gasLimit")
        let nonce = try FixtureJSON.word(tx["nonce"], "transaction.nonce")
        guard let gas = gasLimit.uint64, let nonce64 = nonce.uint64 else { return nil }
        let toText = try FixtureJSON.string(tx["to"] ?? "", "transaction.to")
        var accessList = [EVMTransaction.AccessListEntry]()
        if let lists = tx["accessLists"] as? [Any], d < lists.count {
            accessList = try FixtureJSON.accessList(lists[d], "transaction.accessLists[\(d)]")
        }
        var hashes = [UInt256]()
        for hash in (tx["blobVersionedHashes"] as? [Any]) ?? [] { hashes.append(try FixtureJSON.word(hash, "transaction.blobVersionedHashes")) }
        let dynamicFee = tx["maxFeePerGas"] != nil
        return EVMTransaction(
            sender: try FixtureJSON.address(tx["sender"], "transaction.sender"),
            to: toText.isEmpty ? nil : try FixtureJSON.address(toText, "transaction.to"),
            value: try FixtureJSON.word(values[v], "transaction.value"),
            data: try FixtureJSON.bytes(data[d], "transaction.data"),
            gasLimit: gas, nonce: nonce64,
            gasPrice: dynamicFee ? nil : try FixtureJSON.word(tx["gasPrice"], "transaction.gasPrice"),
            maxFeePerGas: dynamicFee ? try FixtureJSON.word(tx["maxFeePerGas"], "transaction.maxFeePerGas") : nil,
            maxPriorityFeePerGas: dynamicFee ? try FixtureJSON.word(tx["maxPriorityFeePerGas"], "transaction.maxPriorityFeePerGas") : nil,
            accessList: accessList, blobVersionedHashes: hashes,
            maxFeePerBlobGas: try tx["maxFeePerBlobGas"].map { value throws(ContractError) in try FixtureJSON.word(value, "transaction.maxFeePerBlobGas") })
    }

    static func runEntry(_ entry: [String: Any], d: Int, g: Int, v: Int, block: EVMBlockEnvironment, pre: EVMFixtureState,
                         preRoot: UInt256, transaction tx: [String: Any], engine: EVMConformanceEngine) throws(ContractError) -> EVMConformance.Outcome {
        let expectedRoot = try FixtureJSON.word(entry["hash"], "post.hash")
        let expectedLogs = try FixtureJSON.word(entry["logs"], "post.logs")
        let expectException = entry["expectException"] as? String
        let result: EVMExecutionResult
        do throws(ContractError) {
            guard let transaction = try transaction(tx, d: d, g: g, v: v) else {
                throw ContractError(.fixtureMalformed, "gas limit or nonce at or above 2^64")
            }
            result = try engine.transact(transaction, block, pre)
        } catch {
            guard let expectException else { return .fail("transaction refused: \(error.message) (code \(error.code))") }
            if preRoot != expectedRoot {
                return .fail("refused as expected (\(expectException)) but the pre-state root \(FixtureJSON.hex(preRoot)) is not \(FixtureJSON.hex(expectedRoot))")
            }
            return .pass
        }
        if let expectException {
            return .fail("transaction accepted (status \(EVMConformance.describe(result.status)), gas used \(result.gasUsed)); expected refusal: \(expectException)")
        }
        var state = pre
        state.apply(result.changes)
        let root = state.stateRoot
        let logs = FixtureJSON.logsHash(result.logs)
        var problems = [String]()
        if root != expectedRoot { problems.append("state root \(FixtureJSON.hex(root)), expected \(FixtureJSON.hex(expectedRoot))") }
        if logs != expectedLogs { problems.append("logs hash differs (\(result.logs.count) logs)") }
        if problems.isEmpty { return .pass }
        return .fail(problems.joined(separator: "; ") + "; status \(EVMConformance.describe(result.status)), gas used \(result.gasUsed)")
    }
}
