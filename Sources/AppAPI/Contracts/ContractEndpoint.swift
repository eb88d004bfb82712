import ChainRuntime
import Contracts
import Foundation
import LedgerCore

/// The contract operations of a node's client endpoints (standard C-X-1, C-X-4): read-only calls, gas estimates,
/// contract receipts, registry state and log pages for programs that reach the node over the network
/// (``RemoteContract`` on a `ForgeChainClient`). Transactions themselves go through the node's `submit`/`submitBatch`
/// like every other transaction; these operations only read the committed chain.
///
/// `forgechain node run` adds them when the node runs the `contract` executor. Every read is answered from one
/// committed height (the head when the request arrives), so a call never sees half a block.
///
/// | op | request fields | answer `data` |
/// |---|---|---|
/// | `contract.view` | `target` (`{"name":…}` or `{"address":"0x…"}`), `data` (hex call data), `from` (optional address), `gas` (optional) | `{"output":"hex","height":N}` |
/// | `contract.estimate` | `operation` (hex of a `ContractOperation`), `sender` (hex public key), `scheme` (default `secp256k1`) | `{"gas":N,"limit":N}` |
/// | `contract.receipt` | `transaction` (hex ID) | `{"committed":false}` or the receipt: `status`, `height`, `index`, `output`, `gasUsed`, `logs` |
/// | `contract.state` | `target` | the registry record (`ContractState`'s fields) |
/// | `contract.logs` | `emitters` (hex), `topics` (per position, hex values or null), `after`, `through`, `limit`, `includeFailed`, `includeBlocks` | a page of events and `next` |
///
/// Refusals carry the executor's codes (`ContractError` 2xxx: 2201 not found, 2208 reverted with `details.reason`,
/// …), `ChainError` 4250 for a bad log filter, 4200 for a request that does not decode.
///
/// Reads are open to every client the endpoint admits (mutual TLS: a consortium member); contract state is the
/// same on every node. Writes are transactions, checked by the executor on every node.
///
/// ```swift
/// let contracts = ContractEndpoint(node: node, executor: executor, chainID: 531407)
/// let server = try await NodeControlServer.start(node: node, port: 7500, tls: tls, operations: contracts.operations)
/// ```
public struct ContractEndpoint: Sendable {
    let node: any ChainNode
    /// The executor whose rules the answers follow (the node's own).
    public let executor: ContractExecutor
    /// The chain's ID (CHAINID in calls).
    public let chainID: UInt64
    /// The derived events `contract.logs` includes (record changes on a node that runs the records executor).
    let derivers: [any LogDeriver]

    /// - Parameters:
    ///   - node: Required. A node running `executor`.
    ///   - executor: Required. The node's contract executor (the same limits, policy and precompiles).
    ///   - chainID: Required. The chain's ID.
    ///   - derivers: Optional, default none. Derived events for `contract.logs` (`[RecordChangeLogs()]` on a node
    ///     that runs the records executor).
    public init(node: any ChainNode, executor: ContractExecutor, chainID: UInt64, derivers: [any LogDeriver] = []) {
        self.node = node
        self.executor = executor
        self.chainID = chainID
        self.derivers = derivers
    }

    /// The operations to add to the node's control endpoints (`NodeControlServer.start(…operations:)`).
    public var operations: [String: NodeControlServer.Operation] {
        ["contract.view": { line in await ControlWire.answer { try await self.view(line) } },
         "contract.estimate": { line in await ControlWire.answer { try await self.estimate(line) } },
         "contract.receipt": { line in await ControlWire.answer { try await self.receipt(line) } },
         "contract.state": { line in await ControlWire.answer { try await self.state(line) } },
         "contract.logs": { line in await ControlWire.answer { try await self.logs(line) } }]
    }

    // MARK: Wire

    struct Target: Codable, Sendable {
        var name: String?
        var address: String?

        init(_ target: ContractTarget) {
            switch target {
            case .name(let n): name = n
            case .address(let a): address = a.description
            }
        }

        func decoded() throws(ChainError) -> ContractTarget {
            if let name, address == nil { return .name(name) }
            if let address, name == nil, let a = EVMAddress(hex: address) { return .address(a) }
            throw ChainError(.invalidControlRequest, "a contract target is {\"name\":…} or {\"address\":\"0x…40 hex\"}", details: ["field": "target"])
        }
    }

    struct ViewRequest: Codable { var target: Target; var data: String; var from: String?; var gas: UInt64? }
    struct ViewAnswer: Codable { var output: String; var height: UInt64 }
    struct EstimateRequest: Codable { var operation: String; var sender: String; var scheme: String? }
    struct EstimateAnswer: Codable { var gas: UInt64; var limit: UInt64 }
    struct ReceiptRequest: Codable { var transaction: String }
    struct StateRequest: Codable { var target: Target }

    struct WireLog: Codable {
        var emitter: String
        var topics: [String]
        var data: String

        init(_ log: ReceiptLog) {
            emitter = Hex.encode(log.emitter)
            topics = log.topics.map(\.hex)
            data = Hex.encode(log.data)
        }

        func decoded() throws -> ReceiptLog {
            ReceiptLog(emitter: try Hex.decode(emitter), topics: try topics.map { try Digest(hex: $0) }, data: try Hex.decode(data))
        }
    }

    struct ReceiptAnswer: Codable {
        var committed: Bool
        var status: UInt64?
        var height: UInt64?
        var index: Int?
        var output: String?
        var gasUsed: UInt64?
        var logs: [WireLog]?
    }

    struct StateAnswer: Codable {
        var name: String
        var address: String
        var version: UInt64
        var status: String
        var codeHash: String
        var creator: String
        var createdHeight: UInt64
        var createdAt: UInt64
        var updatedHeight: UInt64
        var updatedAt: UInt64
        var supersededFrom: UInt64?
    }

    struct LogsRequest: Codable {
        var emitters: [String]?
        var topics: [[String]?]?
        var after: LogCheckpoint?
        var through: UInt64?
        var limit: Int?
        var includeFailed: Bool?
        var includeBlocks: Bool?
    }

    struct WireEvent: Codable {
        var checkpoint: LogCheckpoint
        var transactionID: String
        var status: UInt64
        var log: WireLog
    }

    struct LogsAnswer: Codable { var events: [WireEvent]; var next: LogCheckpoint?; var through: UInt64 }

    // MARK: Answers

    /// The committed state at the head, and the head's height.
    private func committed() async throws -> (state: StoreStateReader, height: UInt64) {
        let store = await node.ledger
        let head = await node.head.height
        return (StoreStateReader(store: store, height: head), head.rawValue)
    }

    private func view(_ line: Data) async throws -> ViewAnswer {
        let request = try ControlWire.request(ViewRequest.self, from: line, op: "contract.view")
        let data: [UInt8]
        do { data = try Hex.decode(request.data) } catch {
            throw ChainError(.invalidControlRequest, "contract.view: 'data' is not hex", details: ["field": "data"])
        }
        let from = try request.from.map { (text) throws(ChainError) -> EVMAddress in
            guard let a = EVMAddress(hex: text) else { throw ChainError(.invalidControlRequest, "contract.view: 'from' is not an address", details: ["field": "from"]) }
            return a
        } ?? EVMAddress(word: .zero)
        let (state, height) = try await committed()
        let output = try executor.view(try request.target.decoded(), data: data, from: from, gasLimit: request.gas ?? executor.maximumTransactionGas,
                                       height: height + 1, chainID: chainID, state: state)
        return ViewAnswer(output: Hex.encode(output), height: height)
    }

    private func estimate(_ line: Data) async throws -> EstimateAnswer {
        let request = try ControlWire.request(EstimateRequest.self, from: line, op: "contract.estimate")
        let operation = try ContractOperation(decoding: try Hex.decode(request.operation))
        guard let scheme = SignatureScheme(rawValue: request.scheme ?? SignatureScheme.secp256k1.rawValue) else {
            throw ChainError(.invalidControlRequest, "contract.estimate: unknown 'scheme'", details: ["field": "scheme"])
        }
        let sender = try PublicKey(scheme: scheme, rawRepresentation: try Hex.decode(request.sender))
        let (state, height) = try await committed()
        let founder = try await node.ledger.block(atHeight: 0).header.producer
        let gas = try executor.estimateGas(operation, sender: sender, founder: founder, height: height + 1, chainID: chainID, state: state)
        return EstimateAnswer(gas: gas, limit: executor.maximumTransactionGas)
    }

    private func receipt(_ line: Data) async throws -> ReceiptAnswer {
        let request = try ControlWire.request(ReceiptRequest.self, from: line, op: "contract.receipt")
        let id = try Digest(hex: request.transaction)
        let store = await node.ledger
        guard let location = try store.location(ofTransaction: id), let receipt = try store.receipt(forTransaction: id) else {
            return ReceiptAnswer(committed: false)
        }
        return ReceiptAnswer(committed: true, status: receipt.status, height: location.height.rawValue, index: location.index,
                             output: Hex.encode(receipt.output), gasUsed: receipt.costUnits, logs: receipt.logs.map(WireLog.init))
    }

    private func state(_ line: Data) async throws -> StateAnswer {
        let request = try ControlWire.request(StateRequest.self, from: line, op: "contract.state")
        let (state, height) = try await committed()
        let target = try request.target.decoded()
        let contract: ContractState?
        switch target {
        case .name(let name): contract = try ContractRegistry.state(named: name, at: height + 1, in: state)
        case .address(let address): contract = try ContractRegistry.state(of: address, in: state)
        }
        guard let contract else {
            throw ContractError(.contractNotFound, "no contract is registered as \(target)", details: ["contract": target.description])
        }
        return StateAnswer(name: contract.name, address: contract.address.description, version: contract.version,
                           status: contract.status.description, codeHash: Hex.encode(contract.codeHash.bigEndianBytes), creator: contract.creator.description,
                           createdHeight: contract.createdHeight, createdAt: contract.createdAt, updatedHeight: contract.updatedHeight,
                           updatedAt: contract.updatedAt, supersededFrom: contract.supersededFrom)
    }

    private func logs(_ line: Data) async throws -> LogsAnswer {
        let request = try ControlWire.request(LogsRequest.self, from: line, op: "contract.logs")
        let filter: LogFilter
        do {
            filter = LogFilter(emitters: try request.emitters.map { Set(try $0.map { try Hex.decode($0) }) },
                               topics: try (request.topics ?? []).map { try $0.map { Set(try $0.map { try Digest(hex: $0) }) } },
                               includeFailed: request.includeFailed ?? false, includeBlocks: request.includeBlocks ?? false)
        } catch {
            throw ChainError(.invalidLogFilter, "contract.logs: an emitter or topic is not hex", details: ["field": "filter"])
        }
        let page = try LogFeed.history(store: await node.ledger, filter: filter, after: request.after, through: request.through,
                                       limit: request.limit ?? 1_000, derivers: derivers)
        return LogsAnswer(events: page.events.map { WireEvent(checkpoint: $0.checkpoint, transactionID: $0.transactionID.hex, status: $0.status,
                                                              log: WireLog($0.log)) },
                          next: page.next, through: page.through)
    }
}
