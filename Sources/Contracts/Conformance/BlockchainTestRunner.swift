import Foundation

/// BlockchainTests: `pre` must have the genesis header's state root; each block's transactions run in order
/// with its header as the environment, after the EIP-4788 beacon-root update; a block marked
/// `expectException` must be refused (one of its transactions refused) and changes nothing. The state after
/// the last block must equal `postState` account by account, and its root the last valid header's
/// `stateRoot`. Only the Cancun network runs.
enum BlockchainTestRunner {
    /// EIP-4788's beacon-roots contract.
    static let beaconRoots = EVMAddress(hex: "0x000f3df6d732807ef1319fb7b8bb8522d0beac02")!
    /// EIP-4788's ring-buffer length.
    static let historyLength: UInt64 = 8191

    static func run(_ test: [String: Any], label: String, engine: EVMConformanceEngine, recorder: inout EVMConformance.Recorder) {
        let name = "blockchain \(label)"
        let network = test["network"] as? String ?? "?"
        guard network == StateTestRunner.fork else {
            recorder.record(.blockchain, name, .skip("network \(network): the interpreter implements Cancun only"))
            return
        }
        do throws(ContractError) {
            recorder.record(.blockchain, name, try runTest(test, engine: engine))
        } catch {
            recorder.record(.blockchain, name, .fail("fixture: \(error.message)"))
        }
    }

    static func runTest(_ test: [String: Any], engine: EVMConformanceEngine) throws(ContractError) -> EVMConformance.Outcome {
        let genesis = try FixtureJSON.object(test["genesisBlockHeader"], "genesisBlockHeader")
        var hashes: [UInt64: UInt256] = [0: try FixtureJSON.word(genesis["hash"], "genesisBlockHeader.hash")]
        var state = try FixtureJSON.state(test["pre"], "pre", blockHashes: .table(hashes))
        let genesisRoot = try FixtureJSON.word(genesis["stateRoot"], "genesisBlockHeader.stateRoot")
        if state.stateRoot != genesisRoot {
            return .fail("the root of pre \(FixtureJSON.hex(state.stateRoot)) is not the genesis state root \(FixtureJSON.hex(genesisRoot))")
        }
        var expectedRoot = genesisRoot
        for (index, raw) in try FixtureJSON.array(test["blocks"], "blocks").enumerated() {
            let block = try FixtureJSON.object(raw, "blocks[\(index)]")
            if let exception = block["expectException"] as? String {
                let decoded = try FixtureJSON.object(block["rlp_decoded"], "blocks[\(index)].rlp_decoded")
                let header = try FixtureJSON.object(decoded["blockHeader"], "blocks[\(index)].rlp_decoded.blockHeader")
                var scratch = state
                scratch.blockHashes = .table(hashes)
                let raw = (block["transactionSequence"] as? [Any])?.map { ($0 as? [String: Any])?["rawBytes"] }
                let refused = try runBlock(header: header, transactions: decoded["transactions"], withdrawals: decoded["withdrawals"],
                                           rawTransactions: raw, into: &scratch, engine: engine)
                if refused == nil {
                    return .fail("block \(index) accepted; expected refusal: \(exception)")
                }
                continue
            }
            let header = try FixtureJSON.object(block["blockHeader"], "blocks[\(index)].blockHeader")
            if let refusal = try runBlock(header: header, transactions: block["transactions"], withdrawals: block["withdrawals"],
                                          into: &state, engine: engine) {
                return .fail("block \(index): \(refusal)")
            }
            hashes[try FixtureJSON.uint64(header["number"], "blockHeader.number")] = try FixtureJSON.word(header["hash"], "blockHeader.hash")
            state.blockHashes = .table(hashes)
            expectedRoot = try FixtureJSON.word(header["stateRoot"], "blockHeader.stateRoot")
        }
        if let post = test["postState"] {
            let expected = try FixtureJSON.state(post, "postState", blockHashes: state.blockHashes)
            let differences = state.differences(from: expected)
            if !differences.isEmpty { return .fail("post-state: " + differences.joined(separator: "; ")) }
        } else if let hash = test["postStateHash"] {
            expectedRoot = try FixtureJSON.word(hash, "postStateHash")
        }
        let root = state.stateRoot
        if root != expectedRoot { return .fail("state root \(FixtureJSON.hex(root)), expected \(FixtureJSON.hex(expectedRoot))") }
        return .pass
    }

    static func environment(_ header: [String: Any]) throws(ContractError) -> EVMBlockEnvironment {
        EVMBlockEnvironment(
            coinbase: try FixtureJSON.address(header["coinbase"], "blockHeader.coinbase"),
            number: try FixtureJSON.uint64(header["number"], "blockHeader.number"),
            timestamp: try FixtureJSON.uint64(header["timestamp"], "blockHeader.timestamp"),
            gasLimit: try FixtureJSON.uint64(header["gasLimit"], "blockHeader.gasLimit"),
            baseFee: try FixtureJSON.word(header["baseFeePerGas"] ?? "0x00", "blockHeader.baseFeePerGas"),
            prevRandao: try FixtureJSON.word(header["mixHash"] ?? "0x00", "blockHeader.mixHash"),
            chainID: 1,
            excessBlobGas: try FixtureJSON.uint64(header["excessBlobGas"] ?? "0x00", "blockHeader.excessBlobGas"))
    }

    /// Runs a block into `state`; returns why it was refused (the state is then partly changed: callers
    /// use a copy when refusal is expected), or `nil` when every transaction ran.
    static func runBlock(header: [String: Any], transactions: Any?, withdrawals: Any? = nil, rawTransactions: [Any?]? = nil,
                         into state: inout EVMFixtureState,
                         engine: EVMConformanceEngine) throws(ContractError) -> String? {
        let environment = try environment(header)
        if let root = header["parentBeaconBlockRoot"], state.accounts[beaconRoots] != nil {
            let slot = environment.timestamp % historyLength
            state.setStorage(beaconRoots, slot: UInt256(slot), value: UInt256(environment.timestamp))
            state.setStorage(beaconRoots, slot: UInt256(slot + historyLength), value: try FixtureJSON.word(root, "blockHeader.parentBeaconBlockRoot"))
        }
        var gasUsed: UInt64 = 0
        var blobGasUsed: UInt64 = 0
        for (index, raw) in try FixtureJSON.array(transactions ?? [Any](), "transactions").enumerated() {
            let tx = try FixtureJSON.object(raw, "transactions[\(index)]")
            let signed = rawTransactions.flatMap { index < $0.count ? $0[index] : nil }
            do throws(ContractError) {
                let transaction = try self.transaction(tx, index: index, raw: signed)
                guard let transaction else { return "transaction \(index): gas limit or nonce at or above 2^64" }
                if transaction.gasLimit > environment.gasLimit - gasUsed {
                    return "transaction \(index): gas limit \(transaction.gasLimit) exceeds the block's remaining \(environment.gasLimit - gasUsed)"
                }
                blobGasUsed += UInt64(transaction.blobVersionedHashes.count) * EVM.gasPerBlob
                if blobGasUsed > UInt64(EVM.maxBlobsPerBlock) * EVM.gasPerBlob {
                    return "transaction \(index): the block's blobs exceed \(EVM.maxBlobsPerBlock)"
                }
                let result = try engine.transact(transaction, environment, state)
                state.apply(result.changes)
                gasUsed += result.gasUsed
            } catch {
                return "transaction \(index) refused: \(error.message) (code \(error.code))"
            }
        }
        if let declared = header["gasUsed"], try FixtureJSON.uint64(declared, "blockHeader.gasUsed") != gasUsed {
            return "the header's gasUsed \(try FixtureJSON.uint64(declared, "blockHeader.gasUsed")) is not the \(gasUsed) the transactions used"
        }
        if let declared = header["blobGasUsed"], try FixtureJSON.uint64(declared, "blockHeader.blobGasUsed") != blobGasUsed {
            return "the header's blobGasUsed is not the \(blobGasUsed) the transactions used"
        }
        // EIP-4895 withdrawals: amounts in gwei credited after the transactions; a zero amount changes nothing.
        for (index, raw) in (withdrawals as? [Any] ?? []).enumerated() {
            let withdrawal = try FixtureJSON.object(raw, "withdrawals[\(index)]")
            let amount = try FixtureJSON.word(withdrawal["amount"], "withdrawals[\(index)].amount")
            guard !amount.isZero else { continue }
            state.credit(try FixtureJSON.address(withdrawal["address"], "withdrawals[\(index)].address"), amount &* UInt256(1_000_000_000))
        }
        return nil
    }

    /// A decoded block transaction; `nil` when its gas limit or nonce does not fit 64 bits. Without a `sender`
    /// field the sender is recovered from `raw` (the signed bytes).
    static func transaction(_ tx: [String: Any], index: Int, raw: Any? = nil) throws(ContractError) -> EVMTransaction? {
        let field = "transactions[\(index)]"
        guard let gas = try FixtureJSON.word(tx["gasLimit"], "\(field).gasLimit").uint64,
              let nonce = try FixtureJSON.word(tx["nonce"], "\(field).nonce").uint64 else { return nil }
        let toText = try FixtureJSON.string(tx["to"] ?? "", "\(field).to")
        var hashes = [UInt256]()
        for hash in (tx["blobVersionedHashes"] as? [Any]) ?? [] { hashes.append(try FixtureJSON.word(hash, "\(field).blobVersionedHashes")) }
        let dynamicFee = tx["maxFeePerGas"] != nil
        return EVMTransaction(
            sender: try tx["sender"] != nil ? FixtureJSON.address(tx["sender"], "\(field).sender")
                : FixtureSender.sender(of: FixtureJSON.bytes(raw, "\(field) rawBytes")),
            to: toText.isEmpty ? nil : try FixtureJSON.address(toText, "\(field).to"),
            value: try FixtureJSON.word(tx["value"], "\(field).value"),
            data: try FixtureJSON.bytes(tx["data"], "\(field).data"),
            gasLimit: gas, nonce: nonce,
            gasPrice: dynamicFee ? nil : try FixtureJSON.word(tx["gasPrice"], "\(field).gasPrice"),
            maxFeePerGas: dynamicFee ? try FixtureJSON.word(tx["maxFeePerGas"], "\(field).maxFeePerGas") : nil,
            maxPriorityFeePerGas: dynamicFee ? try FixtureJSON.word(tx["maxPriorityFeePerGas"], "\(field).maxPriorityFeePerGas") : nil,
            accessList: try FixtureJSON.accessList(tx["accessList"], "\(field).accessList"),
            blobVersionedHashes: hashes,
            maxFeePerBlobGas: try tx["maxFeePerBlobGas"].map { value throws(ContractError) in try FixtureJSON.word(value, "\(field).maxFeePerBlobGas") })
    }
}
