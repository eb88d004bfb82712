import ChainRuntime
import Contracts
import Foundation
import LedgerCore

/// A contract on a consortium's chain, called from a program that reaches the nodes over the network (a
/// `ForgeChainClient`: mutual TLS, load balancing, a durable outbox): read-only calls answered at once, transactions
/// sent and left to settle, or sent and awaited for their receipt, gas estimates, the registry state and the logs
/// (standard C-X-1, C-X-4). The nodes answer through ``ContractEndpoint``.
///
/// Results come two ways: ``view(_:_:from:)`` and ``call(_:_:gasLimit:account:timeout:)`` return the result to the
/// caller that waits for it (synchronous results); ``send(_:_:gasLimit:account:)`` returns the transaction's ID as
/// soon as the outbox holds it and ``receipt(of:)`` fetches the result later (asynchronous results, surviving a
/// restart of the program since the outbox is durable).
///
/// ```swift
/// let trace = RemoteContract(client: client, target: .name("traceability"), interface: try ContractInterface(json: abi))
/// let quantity = try await trace.view(UInt64.self, "record_count", .string("B-17"))
/// var account = try await RemoteContract.account(key, client: client, chainID: 531407)
/// let result = try await trace.call("add_record", .string("B-17"), .fixedBytes(id), .fixedBytes(digest), account: &account)
/// ```
public struct RemoteContract: Sendable {
    /// The client the calls go through.
    public let client: ForgeChainClient
    /// The contract: its registered name (the current version) or an address.
    public let target: ContractTarget
    /// Its ABI.
    public let interface: ContractInterface

    /// - Parameters:
    ///   - client: Required. An open client of the chain's nodes.
    ///   - target: Required. `.name(…)` follows the registry (an update switches calls to the new version);
    ///     `.address(…)` stays on one version.
    ///   - interface: Required. The contract's ABI (`ContractInterface(json:)` on the compiler's ABI file).
    public init(client: ForgeChainClient, target: ContractTarget, interface: ContractInterface) {
        self.client = client
        self.target = target
        self.interface = interface
    }

    /// What a committed contract transaction did.
    public struct Outcome: Sendable, Equatable {
        /// The transaction's ID.
        public var transactionID: Digest
        /// The block that holds it.
        public var height: UInt64
        /// Its index in that block.
        public var index: Int
        /// The return data (a deployment's: the new contract's address).
        public var output: [UInt8]
        /// Gas used.
        public var gasUsed: UInt64
        /// Its logs (contract events; lifecycle logs with the emitter `contracts`).
        public var logs: [ReceiptLog]
    }

    /// A signing account for `key` whose next nonce is the one the chain expects (asked of a node).
    /// - Parameters:
    ///   - key: Required. The key that signs the transactions (its account's permissions apply on chain).
    ///   - client: Required.
    ///   - chainID: Required. The chain's ID.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when no node answers.
    public static func account(_ key: PrivateKey, client: ForgeChainClient, chainID: UInt64) async throws -> SigningAccount {
        let request = try JSONSerialization.data(withJSONObject: ["op": "nonce", "sender": Hex.encode(key.publicKey.rawRepresentation),
                                                                  "scheme": key.scheme.rawValue])
        let answer = try JSONSerialization.jsonObject(with: try await client.exchange(request)) as? [String: Any]
        guard let next = answer?["nextNonce"] as? Int, next >= 0 else {
            throw ChainError(.controlSocketFailed, "the node's nonce answer does not decode")
        }
        return SigningAccount(key: key, chainID: chainID, nextNonce: UInt64(next))
    }

    /// Deploys `initCode` under `name` and returns a handle on it by name, once the deployment is committed.
    /// - Parameters:
    ///   - name: Required. The registry name (unused so far).
    ///   - initCode: Required. The compiler's deployment bytecode, constructor arguments appended
    ///     (`interface.encodeConstructor(bytecode:arguments:)`).
    ///   - interface: Required. The contract's ABI.
    ///   - gasLimit: Optional, default: the node's estimate plus a quarter (at most the node's limit).
    ///   - account: Required. The deployer's account (needs the `deploy` permission); its nonce advances.
    ///   - client: Required.
    ///   - timeout: Optional, default 60 s.
    /// - Returns: The handle and the deployment's outcome (`output` = the address).
    /// - Throws: The executor's refusal as `ContractError` (2205 name taken, 2207 permission denied, 2208 the
    ///   constructor reverted, …); `ChainError` 4204 when not committed within `timeout`, 4201 when no node answers.
    public static func deploy(name: String, initCode: [UInt8], interface: ContractInterface, gasLimit: UInt64? = nil,
                              account: inout SigningAccount, client: ForgeChainClient,
                              timeout: Duration = .seconds(60)) async throws -> (contract: RemoteContract, outcome: Outcome) {
        let contract = RemoteContract(client: client, target: .name(name), interface: interface)
        let gas = try await contract.gasLimit(gasLimit, sender: account.key.publicKey) { .deploy(name: name, initCode: initCode, gasLimit: $0) }
        let id = try await contract.submit(.deploy(name: name, initCode: initCode, gasLimit: gas), account: &account)
        return (contract, try await contract.settle(id, timeout: timeout))
    }

    /// A read-only call (`eth_call`) of `function` on the node's committed state: no transaction, nothing written.
    /// - Parameters:
    ///   - function: Required. A function of ``interface`` (a name, or a signature for an overload).
    ///   - arguments: Its arguments.
    ///   - from: Optional, default the zero address. CALLER.
    /// - Returns: The decoded return values.
    /// - Throws: `ContractError` from the ABI (2150–2167) or the node (2201 not found, 2202–2204 not callable, 2208
    ///   reverted with `details["reason"]`, 2209 halted); `ChainError` 4201 when no node answers.
    public func view(_ function: String, _ arguments: ABIValue..., from: EVMAddress? = nil) async throws -> [ABIValue] {
        try interface.decodeOutput(of: function, from: try await rawView(try interface.encodeCall(function, arguments: arguments), from: from))
    }

    /// ``view(_:_:from:)`` decoded into `T` (a single value, a tuple as a `Decodable` struct by position or name).
    /// - Parameters: as ``view(_:_:from:)``; `type`: Required, the result's type.
    /// - Throws: As ``view(_:_:from:)``; `ContractError` `.abiDecodingFailed` when the result does not fit `T`.
    public func view<T: Decodable>(_ type: T.Type, _ function: String, _ arguments: ABIValue..., from: EVMAddress? = nil) async throws -> T {
        try interface.decodeOutput(T.self, of: function, from: try await rawView(try interface.encodeCall(function, arguments: arguments), from: from))
    }

    /// Sends a transaction calling `function` and returns as soon as the client's outbox holds it (the result
    /// comes later: ``receipt(of:)``).
    /// - Parameters:
    ///   - function: Required. A function of ``interface``.
    ///   - arguments: Its arguments.
    ///   - gasLimit: Optional, default: the node's estimate plus a quarter (at most the node's limit; a call that
    ///     would fail is refused here with the executor's error, before anything is sent).
    ///   - account: Required. The signer; its nonce advances.
    /// - Returns: The transaction's ID.
    /// - Throws: As ``view(_:_:from:)``; `ChainError` from the outbox (a full disk, a closed client).
    public func send(_ function: String, _ arguments: ABIValue..., gasLimit: UInt64? = nil, account: inout SigningAccount) async throws -> Digest {
        let data = try interface.encodeCall(function, arguments: arguments)
        let target = self.target
        let gas = try await self.gasLimit(gasLimit, sender: account.key.publicKey) { .call(target, data: data, gasLimit: $0) }
        return try await submit(.call(target, data: data, gasLimit: gas), account: &account)
    }

    /// Sends a transaction calling `function` and waits until it is committed.
    /// - Parameters: as ``send(_:_:gasLimit:account:)``; `timeout`: Optional, default 60 s.
    /// - Returns: The outcome; decode its `output` with `interface.decodeOutput(of:from:)` and its logs with ``events(in:)``.
    /// - Throws: As ``send(_:_:gasLimit:account:)``; the failed receipt as `ContractError` (its status is the code,
    ///   e.g. 2208 reverted, 2202 paused); `ChainError` 4204 when not committed within `timeout`.
    public func call(_ function: String, _ arguments: ABIValue..., gasLimit: UInt64? = nil, account: inout SigningAccount,
                     timeout: Duration = .seconds(60)) async throws -> Outcome {
        let data = try interface.encodeCall(function, arguments: arguments)
        let target = self.target
        let gas = try await self.gasLimit(gasLimit, sender: account.key.publicKey) { .call(target, data: data, gasLimit: $0) }
        let id = try await submit(.call(target, data: data, gasLimit: gas), account: &account)
        return try await settle(id, timeout: timeout)
    }

    /// The outcome of a committed transaction, or nil while it is not committed.
    /// - Parameter id: Required. A transaction ID from ``send(_:_:gasLimit:account:)``.
    /// - Throws: The failed receipt as `ContractError` (its status as the code, its message); `ChainError` 4201.
    public func receipt(of id: Digest) async throws -> Outcome? {
        let answer = try ControlWire.value(ContractEndpoint.ReceiptAnswer.self, from: try await client.exchange(
            try ControlWire.encode(["op": "contract.receipt", "transaction": id.hex])))
        guard answer.committed, let status = answer.status else { return nil }
        let output = try Hex.decode(answer.output ?? "")
        guard status == Receipt.success else {
            throw ContractError(ContractError.Code(rawValue: UInt32(clamping: status)), String(decoding: output, as: UTF8.self),
                                details: ["transaction": id.hex])
        }
        return Outcome(transactionID: id, height: answer.height ?? 0, index: answer.index ?? 0, output: output, gasUsed: answer.gasUsed ?? 0,
                       logs: try (answer.logs ?? []).map { try $0.decoded() })
    }

    /// The least gas limit with which calling `function` succeeds now, as the node finds it by running the call.
    /// - Parameters: as ``send(_:_:gasLimit:account:)``; `sender`: Required, the key that will sign.
    /// - Throws: The call's own error when it fails even with the node's limit.
    public func estimateGas(_ function: String, _ arguments: ABIValue..., sender: PublicKey) async throws -> UInt64 {
        let data = try interface.encodeCall(function, arguments: arguments)
        return try await estimate(.call(target, data: data, gasLimit: 0), sender: sender).gas
    }

    /// The contract's registry record: status, version, code hash, creator, dates (C-M-5).
    /// - Throws: `ContractError` `.contractNotFound` (2201); `ChainError` 4201.
    public func state() async throws -> ContractState {
        let answer = try ControlWire.value(ContractEndpoint.StateAnswer.self, from: try await client.exchange(
            try ControlWire.encode(StateQuery(op: "contract.state", target: .init(target)))))
        guard let address = EVMAddress(hex: answer.address), let creator = EVMAddress(hex: answer.creator),
              let status = ContractStatus.allCases.first(where: { $0.description == answer.status }),
              let hash = try? Hex.decode(answer.codeHash), hash.count == 32 else {
            throw ChainError(.controlSocketFailed, "the node's contract state does not decode")
        }
        var state = ContractState(name: answer.name, address: address, version: answer.version, status: status,
                                  codeHash: UInt256(bigEndian: hash), creator: creator, createdHeight: answer.createdHeight,
                                  createdAt: answer.createdAt, storageOwner: nil)
        state.updatedHeight = answer.updatedHeight
        state.updatedAt = answer.updatedAt
        state.supersededFrom = answer.supersededFrom
        return state
    }

    /// One page of logs matching `filter` (a node's ledger: history by block range, resumable by checkpoint).
    /// - Parameters:
    ///   - filter: Optional, default: the logs this contract's address emitted when ``target`` is an address, else
    ///     every log (name a contract's addresses in the filter to follow one across versions).
    ///   - after: Optional. Start after this checkpoint (the last event handled).
    ///   - limit: Optional, default 1,000; 1…10,000.
    /// - Throws: `ChainError` `.invalidLogFilter` (4250), 4201.
    public func logs(_ filter: LogFilter? = nil, after: LogCheckpoint? = nil, limit: Int = 1_000) async throws -> LogPage {
        var chosen = filter ?? LogFilter()
        if filter == nil, case .address(let address) = target { chosen.emitters = [address.bytes] }
        let request = ContractEndpoint.LogsRequest(emitters: chosen.emitters.map { $0.map { Hex.encode($0) }.sorted() },
                                                   topics: chosen.topics.map { $0.map { $0.map(\.hex).sorted() } },
                                                   after: after, through: nil, limit: limit, includeFailed: chosen.includeFailed,
                                                   includeBlocks: chosen.includeBlocks)
        let answer = try ControlWire.value(ContractEndpoint.LogsAnswer.self, from: try await client.exchange(
            try ControlWire.encode(LogsQuery(op: "contract.logs", request: request))))
        return LogPage(events: try answer.events.map {
            LogEvent(checkpoint: $0.checkpoint, transactionID: try Digest(hex: $0.transactionID), status: $0.status, log: try $0.log.decoded())
        }, next: answer.next, through: answer.through)
    }

    /// The outcome's logs this contract's ABI knows, decoded (others are skipped).
    /// - Parameter outcome: Required.
    public func events(in outcome: Outcome) -> [ABIDecodedLog] {
        outcome.logs.compactMap { log in
            try? interface.decodeLog(topics: log.topics.map { UInt256(bigEndian: $0.bytes) }, data: log.data)   // a foreign log: skipped
        }
    }

    // MARK: Internals

    private struct StateQuery: Encodable { var op: String; var target: ContractEndpoint.Target }
    private struct LogsQuery: Encodable {
        var op: String
        var request: ContractEndpoint.LogsRequest
        func encode(to encoder: any Encoder) throws {
            try request.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(op, forKey: .op)
        }
        enum Key: String, CodingKey { case op }
    }

    private func rawView(_ data: [UInt8], from: EVMAddress?) async throws -> [UInt8] {
        struct Request: Encodable { var op = "contract.view"; var target: ContractEndpoint.Target; var data: String; var from: String? }
        let answer = try ControlWire.value(ContractEndpoint.ViewAnswer.self, from: try await client.exchange(
            try ControlWire.encode(Request(target: .init(target), data: Hex.encode(data), from: from?.description))))
        return try Hex.decode(answer.output)
    }

    private func estimate(_ operation: ContractOperation, sender: PublicKey) async throws -> ContractEndpoint.EstimateAnswer {
        struct Request: Encodable { var op = "contract.estimate"; var operation: String; var sender: String; var scheme: String }
        return try ControlWire.value(ContractEndpoint.EstimateAnswer.self, from: try await client.exchange(try ControlWire.encode(
            Request(operation: Hex.encode(operation.encoded), sender: Hex.encode(sender.rawRepresentation), scheme: sender.scheme.rawValue))))
    }

    /// `given`, or the node's estimate plus a quarter, at most the node's limit.
    private func gasLimit(_ given: UInt64?, sender: PublicKey, _ operation: (UInt64) -> ContractOperation) async throws -> UInt64 {
        if let given { return given }
        let estimate = try await self.estimate(operation(0), sender: sender)
        return min(estimate.gas + estimate.gas / 4, estimate.limit)
    }

    private func submit(_ operation: ContractOperation, account: inout SigningAccount) async throws -> Digest {
        try await client.submit(try account.transaction(kind: ContractExecutor.kind, body: operation.encoded))
    }

    private func settle(_ id: Digest, timeout: Duration) async throws -> Outcome {
        let entry = try await client.waitUntilSettled([id], timeout: timeout)[0]
        if entry.state == .refused {
            throw ChainError(ChainError.Code(rawValue: entry.code ?? ChainError.Code.controlSocketFailed.rawValue),
                             "the nodes refused the transaction", details: ["transaction": id.hex])
        }
        guard let outcome = try await receipt(of: id) else {
            throw ChainError(.controlSocketFailed, "the committed transaction's receipt was not found", details: ["transaction": id.hex])
        }
        return outcome
    }
}
