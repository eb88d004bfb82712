import AppAPI
import ArgumentParser
import ChainRuntime
import Contracts
import Foundation
import LedgerCore
import Logging
import Net

/// One node's configuration file (`forgechain node run --config FILE`), JSON. Paths are relative to the file.
struct NodeFile: Codable {
    /// TLS files: the consortium CA's certificate and this node's; the key is the keystore entry `tls`.
    struct TLSFiles: Codable {
        var ca: String
        var certificate: String
    }

    /// This node's ID: its index in `validators`.
    var node: UInt32
    var chainID: UInt64
    /// `pbft`, `raft` or `pos`.
    var consensus: String
    /// Each validator's Ed25519 public key in hex, by node ID.
    var validators: [String]
    /// The genesis block (its canonical encoding).
    var genesis: String
    /// The data folder: `ledger.sqlite`, `keystore/` (entries `node` and `tls`) and the control socket `node.sock`.
    var data: String
    /// `host:port` to listen on, or `unix:PATH` (nodes on one machine).
    var listen: String
    /// Other members' `host:port` (or `unix:PATH`), by node ID; may be partial: the others are learned from peers.
    var peers: [String: String]
    /// `host:port` addresses to dial whatever member listens there, to learn the others from (optional).
    var seeds: [String]?
    var tls: TLSFiles?
    /// `host:port` of the client endpoint (mutual TLS with `tls`); none when absent.
    var client: String?
    /// Executors by payload kind: `records`, `access`, `kv` (the key-value test executor).
    var executors: [String]
    var maximumTransactionsPerBlock: Int?
    /// How long a PBFT view, a PoS round or a Raft election waits for progress, milliseconds (default 2,000).
    var consensusTimeoutMillis: Int?

    static let keystoreNodeEntry = "node"
    static let keystoreTLSEntry = "tls"

    static func load(_ path: String) throws -> (NodeFile, base: URL) {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ChainError(.invalidNodeConfiguration, "node configuration file \(path) cannot be read", details: ["file": path])
        }
        do {
            return (try JSONDecoder().decode(NodeFile.self, from: data), url.deletingLastPathComponent())
        } catch {
            throw ChainError(.invalidNodeConfiguration, "node configuration file \(path): \(error)", details: ["file": path])
        }
    }

    /// `host:port`, or `unix:PATH` for a Unix domain socket.
    static func endpoint(_ text: String, field: String) throws -> TCPTransport.Endpoint {
        if text.hasPrefix("unix:") { return TCPTransport.Endpoint(unixPath: String(text.dropFirst(5))) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ChainError(.invalidNodeConfiguration, "node configuration field '\(field)': '\(text)' is not host:port", details: ["field": field])
        }
        return TCPTransport.Endpoint(host: String(text[..<colon]), port: port)
    }

    func peerEndpoints() throws -> [NodeID: TCPTransport.Endpoint] {
        var out = [NodeID: TCPTransport.Endpoint]()
        for (id, address) in peers {
            guard let n = UInt32(id) else {
                throw ChainError(.invalidNodeConfiguration, "node configuration field 'peers': '\(id)' is not a node ID", details: ["field": "peers"])
            }
            out[NodeID(n)] = try Self.endpoint(address, field: "peers")
        }
        return out
    }

    func executorList() throws -> [any TransactionExecutor] {
        try executors.map { name -> any TransactionExecutor in
            switch name {
            case "records": RecordsExecutor()
            case "access": AccessExecutor()
            case "kv": KeyValueExecutor()
            case ContractExecutor.kind: ContractExecutor(precompiles: [RecordsPrecompile()])
            default:
                throw ChainError(.invalidNodeConfiguration, "node configuration field 'executors': unknown '\(name)' (records, access, kv, contract)",
                                 details: ["field": "executors"])
            }
        }
    }
}

/// `forgechain certs`: a test consortium in one folder.
struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create a test consortium: its CA, each node's keys and certificate, the genesis block and node configuration files.",
        discussion: """
            Writes OUT/ca/ (ca.pem; the CA and genesis keys sealed in OUT/ca/keystore), OUT/genesis.block and, per node,
            OUT/node<i>/ with config.json, node.pem and a keystore holding the node's signing key (Ed25519) and TLS key (P-256).
            Every keystore is sealed under the passphrase (--passphrase-file or FORGECHAIN_PASSPHRASE).
            Start each node with `forgechain node run --config OUT/node<i>/config.json`.
            """)

    @Option(help: "Nodes (validators), 1...16.") var nodes = 4
    @Option(help: "The folder to create (must not exist or be empty).") var out: String
    @Option(help: "The host every node listens on and is reached at.") var host = "127.0.0.1"
    @Option(help: "Comma-separated hosts, one per node (instead of --host), for nodes on different machines.") var hosts: String?
    @Option(help: "The first node's port; node i listens on base-port + i.") var basePort = 7400
    @Option(help: "Comma-separated ports, one per node (instead of --base-port).") var ports: String?
    @Option(help: "pbft, raft or pos.") var consensus = "pbft"
    @Option(help: "The chain ID.") var chainID: UInt64 = 53_1407
    @Option(help: "Comma-separated executors: records, access, kv, contract (access is always added: node standing lives on chain).") var executors = "records,access"
    @Option(help: "Validity of the node certificates, in days.") var days = 365
    @Option(help: "Each node's client endpoint listens on its port plus this (0: no client endpoint).") var clientPortOffset = 100
    @Option(help: "Comma-separated client endpoint ports, one per node (instead of --client-port-offset).") var clientPorts: String?
    @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

    func run() async throws {
        do {
            try make()
        } catch {
            CLI.fail(error)
        }
    }

    private func make() throws {
        guard (1...16).contains(nodes) else { throw ValidationError("--nodes must be 1...16") }
        guard ["pbft", "raft", "pos"].contains(consensus) else { throw ValidationError("--consensus must be pbft, raft or pos") }
        let portList: [Int]
        if let ports {
            portList = ports.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard portList.count == nodes else { throw ValidationError("--ports needs \(nodes) ports") }
        } else {
            portList = (0..<nodes).map { basePort + $0 }
        }
        var clientPortList: [Int]? = clientPortOffset == 0 ? nil : portList.map { $0 + clientPortOffset }
        if let clientPorts {
            clientPortList = clientPorts.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard clientPortList?.count == nodes else { throw ValidationError("--client-ports needs \(nodes) ports") }
        }
        let hostList: [String]
        if let hosts {
            hostList = hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard hostList.count == nodes, hostList.allSatisfy({ !$0.isEmpty }) else { throw ValidationError("--hosts needs \(nodes) hosts") }
        } else {
            hostList = Array(repeating: host, count: nodes)
        }
        var executorNames = executors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if !executorNames.contains("access") { executorNames.append("access") }
        let fm = FileManager.default
        if fm.fileExists(atPath: out), !((try? fm.contentsOfDirectory(atPath: out))?.isEmpty ?? false) {
            throw ValidationError("\(out) exists and is not empty")
        }
        let passphrase = try DataOptions.passphrase(file: passphraseFile, for: out)
        try fm.createDirectory(atPath: out + "/ca", withIntermediateDirectories: true)
        let caStore = try Keystore(directory: out + "/ca/keystore", passphrase: passphrase)
        let caKey = try PrivateKey.generate(.p256)
        let genesisKey = try PrivateKey.generate(.ed25519)
        try caStore.store(caKey.derRepresentation, named: "ca")
        try caStore.store(genesisKey.rawRepresentation, named: "genesis")
        let ca = try X509Certificate.authority(commonName: "ForgeChain consortium CA \(chainID)", key: caKey, validFor: Int64(days + 365) * 86_400)
        try DurableFile.write(Array(ca.pemRepresentation.utf8), to: out + "/ca/ca.pem", mode: 0o644)
        let genesis = try ChainGenesis.make(chainID: chainID, key: genesisKey)
        try DurableFile.write(genesis.encoded, to: out + "/genesis.block", mode: 0o644)
        let nodeKeys = try (0..<nodes).map { _ in try PrivateKey.generate(.ed25519) }
        let validators = nodeKeys.map { Hex.encode($0.publicKey.rawRepresentation) }
        for i in 0..<nodes {
            let dir = out + "/node\(i)"
            try fm.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
            let store = try Keystore(directory: dir + "/data/keystore", passphrase: passphrase)
            try store.store(nodeKeys[i].rawRepresentation, named: NodeFile.keystoreNodeEntry)
            let tlsKey = try PrivateKey.generate(.p256)
            try store.store(tlsKey.derRepresentation, named: NodeFile.keystoreTLSEntry)
            let certificate = try X509Certificate.issue(commonName: TCPTransport.TLS.commonName(of: NodeID(UInt32(i))), publicKey: tlsKey.publicKey,
                                                        issuer: ca, issuerKey: caKey, validFor: Int64(days) * 86_400)
            try DurableFile.write(Array(certificate.pemRepresentation.utf8), to: dir + "/node.pem", mode: 0o644)
            var peers = [String: String]()
            for j in 0..<nodes where j != i { peers[String(j)] = "\(hostList[j]):\(portList[j])" }
            let file = NodeFile(node: UInt32(i), chainID: chainID, consensus: consensus, validators: validators, genesis: "../genesis.block",
                                data: "data", listen: "\(hostList[i]):\(portList[i])", peers: peers,
                                tls: .init(ca: "../ca/ca.pem", certificate: "node.pem"),
                                client: clientPortList.map { "\(hostList[i]):\($0[i])" },
                                executors: executorNames,
                                consensusTimeoutMillis: 2_000)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try DurableFile.write(Array(try encoder.encode(file)), to: dir + "/config.json", mode: 0o644)
        }
        if let clientPortList {
            // A client's identity and configuration (`forgechain client send|flush --config OUT/client/config.json`).
            try fm.createDirectory(atPath: out + "/client", withIntermediateDirectories: true)
            let store = try Keystore(directory: out + "/client/keystore", passphrase: passphrase)
            let key = try PrivateKey.generate(.p256)
            try store.store(key.derRepresentation, named: NodeFile.keystoreTLSEntry)
            let certificate = try X509Certificate.issue(commonName: "forgechain-client-1", publicKey: key.publicKey, issuer: ca, issuerKey: caKey,
                                                        validFor: Int64(days) * 86_400)
            try DurableFile.write(Array(certificate.pemRepresentation.utf8), to: out + "/client/client.pem", mode: 0o644)
            let client = ClientFile(chainID: chainID,
                                    nodes: (0..<nodes).map { .init(id: UInt32($0), address: "\(hostList[$0]):\(clientPortList[$0])") },
                                    tls: .init(ca: "../ca/ca.pem", certificate: "client.pem"), keystore: "keystore", outbox: "outbox.sqlite",
                                    strategy: "roundRobin")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try DurableFile.write(Array(try encoder.encode(client)), to: out + "/client/config.json", mode: 0o644)
        }
        try CLI.printJSON(["folder": out, "nodes": String(nodes), "chainID": String(chainID), "consensus": consensus,
                           "ca": out + "/ca/ca.pem", "genesis": genesis.headerHash.hex])
    }
}

/// `forgechain node run|status`: one node of a consortium as its own process.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run one node of a chain as its own process, or ask a running node for its status.",
        subcommands: [Run.self, Status.self, Standing.self, Validators.self, Leave.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a node from its configuration file (see `forgechain certs`).",
            discussion: """
                Listens for its peers (mutual TLS when the file names certificates), links with the others, and serves a control
                socket DATA/node.sock (mode 0600; `forgechain node status --connect DATA/node.sock`). SIGTERM or SIGINT stops it
                cleanly (exit 0); SIGHUP re-reads the file's peer list. Prints one JSON line once it runs.
                """)
        @Option(help: "The node's configuration file.") var config: String
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

        func run() async throws {
            do { try await serve() } catch { CLI.fail(error) }
        }

        private func serve() async throws {
            let (file, base) = try NodeFile.load(config)
            func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : base.appendingPathComponent(path).path }
            let data = resolve(file.data)
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let keystore = try Keystore(directory: data + "/keystore", passphrase: try DataOptions.passphrase(file: passphraseFile, for: data))
            let nodeKey = try PrivateKey(scheme: .ed25519, rawRepresentation: try keystore.load(NodeFile.keystoreNodeEntry).bytesCopy())
            guard let genesisBytes = FileManager.default.contents(atPath: resolve(file.genesis)) else {
                throw ChainError(.invalidNodeConfiguration, "the genesis block \(resolve(file.genesis)) cannot be read", details: ["field": "genesis"])
            }
            let genesis = try Block(decoding: Array(genesisBytes))
            guard genesis.header.chainID == file.chainID else {
                throw ChainError(.invalidNodeConfiguration, "the genesis block is of chain \(genesis.header.chainID), the file says \(file.chainID)",
                                 details: ["field": "chainID"])
            }
            let validators = try ValidatorSet(file.validators.enumerated().map { i, hex in
                Validator(id: NodeID(UInt32(i)), publicKey: try PublicKey(scheme: .ed25519, rawRepresentation: try Hex.decode(hex)))
            })
            guard let kind = ConsensusEngineKind(rawValue: file.consensus), [.pbft, .raft, .pos].contains(kind) else {
                throw ChainError(.invalidNodeConfiguration, "node configuration field 'consensus': '\(file.consensus)' (pbft, raft, pos)",
                                 details: ["field": "consensus"])
            }
            var configuration = NodeConfiguration(node: NodeID(file.node), signingKey: nodeKey, genesis: genesis,
                                                  schedule: ConsensusSchedule(initial: .pbft(PBFTConfig(validators: validators))),
                                                  storePath: data + "/ledger.sqlite")
            let tickMillis = UInt64(max(1, configuration.tickInterval.components.seconds * 1_000
                                           + configuration.tickInterval.components.attoseconds / 1_000_000_000_000_000))
            let timeoutTicks = UInt64(max(100, file.consensusTimeoutMillis ?? 2_000)) / tickMillis
            configuration.schedule = ConsensusSchedule(initial: try ClusterEngines.networkConfig(
                kind, validators: validators, maximumTransactionsPerBlock: file.maximumTransactionsPerBlock ?? 1_000, timeoutTicks: timeoutTicks))
            let listen = try NodeFile.endpoint(file.listen, field: "listen")
            var transportConfiguration = TCPTransport.Configuration(node: NodeID(file.node), chainID: file.chainID, genesisHash: genesis.headerHash)
            transportConfiguration.host = listen.host
            transportConfiguration.port = listen.port
            transportConfiguration.unixPath = listen.path
            transportConfiguration.peers = try file.peerEndpoints()
            transportConfiguration.members = Set(validators.ids).subtracting([NodeID(file.node)])
            transportConfiguration.seeds = try (file.seeds ?? []).map { try NodeFile.endpoint($0, field: "seeds") }
            if let tls = file.tls {
                let key = try PrivateKey(derRepresentation: try keystore.load(NodeFile.keystoreTLSEntry).bytesCopy())
                func certificate(_ path: String) throws -> X509Certificate {
                    guard let text = FileManager.default.contents(atPath: resolve(path)) else {
                        throw ChainError(.invalidNodeConfiguration, "certificate \(resolve(path)) cannot be read", details: ["field": "tls"])
                    }
                    return try X509Certificate(pemRepresentation: String(decoding: text, as: UTF8.self))
                }
                transportConfiguration.tls = TCPTransport.TLS(authority: try certificate(tls.ca), certificate: try certificate(tls.certificate), key: key)
            }
            let transport = try await TCPTransport.start(transportConfiguration)
            let node: any ChainNode
            let executors = try file.executorList()
            switch kind {
            case .pbft: node = try await Node<PBFTEngine>(configuration: configuration, transport: transport, executors: executors)
            case .raft: node = try await Node<RaftEngine>(configuration: configuration, transport: transport, executors: executors)
            default: node = try await Node<PoSEngine>(configuration: configuration, transport: transport, executors: executors)
            }
            // Peers link only while the chain does not suspend or revoke them (genesis validators are registered by the
            // genesis; any other node needs an active registration), checked at each hello and again on open links.
            let store = await node.ledger
            let members = Set(validators.ids)
            transport.setAdmission { peer, certificate in
                NodeRegistration.refusal(for: peer, certificate: certificate, validators: members, state: StoreReader(store: store))
            }
            await node.start()
            // The hello of every new link says how far this node's chain reaches.
            transport.noteHead(height: await node.head.height.rawValue)
            let commits = await node.commits()
            let heads = Task { for await notice in commits { transport.noteHead(height: notice.height.rawValue) } }
            // A node running the records executor keeps the record index and answers signed record queries (K-T-4, N-S-4).
            let records: RecordQueryEndpoint?
            if file.executors.contains("records") {
                records = try await RecordQueryEndpoint.start(node: node, indexPath: data + "/records-index.sqlite", chainID: file.chainID)
            } else {
                records = nil
            }
            var operations = records?.operations ?? [:]
            // A node running the contract executor answers read-only calls, estimates, receipts, state and logs (C-X-1, C-X-4).
            if let contracts = executors.lazy.compactMap({ $0 as? ContractExecutor }).first {
                let derivers: [any LogDeriver] = records == nil ? [] : [RecordChangeLogs()]
                operations.merge(ContractEndpoint(node: node, executor: contracts, chainID: file.chainID, derivers: derivers).operations) { first, _ in first }
            }
            let control = try await NodeControlServer.start(node: node, path: data + "/node.sock", traffic: { transport.traffic.sent &+ transport.traffic.received },
                                                            operations: operations)
            var clients: NodeControlServer?
            if let address = file.client {
                let endpoint = try NodeFile.endpoint(address, field: "client")
                clients = try await NodeControlServer.start(node: node, host: endpoint.host, port: endpoint.port, tls: transportConfiguration.tls,
                                                            traffic: { transport.traffic.sent &+ transport.traffic.received }, operations: operations)
            }
            // One line, written at once (standard output may be a file, read by whoever started the node).
            let started = try JSONSerialization.data(withJSONObject: ["node": Int(file.node), "port": transport.port, "control": control.path],
                                                     options: [.sortedKeys])
            FileHandle.standardOutput.write(started + Data("\n".utf8))
            let logger = Logger(label: "forgechain.node")
            for await signal in Signals.stream([SIGTERM, SIGINT, SIGHUP]) {
                if signal == SIGHUP {
                    do {
                        let (reloaded, _) = try NodeFile.load(config)
                        transport.updatePeers(try reloaded.peerEndpoints())
                        logger.notice("peer list reloaded", metadata: ["peers": "\(reloaded.peers.count)"])
                    } catch {
                        logger.error("peer list not reloaded; the old one stays", metadata: ["error": "\(error)"])
                    }
                    continue
                }
                logger.notice("stopping", metadata: ["signal": "\(signal)"])
                break
            }
            heads.cancel()
            await clients?.close()
            await control.close()
            records?.close()
            await node.stop()
            await transport.close()
        }
    }

    struct Standing: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Suspend, revoke or reactivate a node on chain (signed with the consortium's genesis key); its peers cut it off.")
        @Option(help: "The consortium folder (`forgechain certs --out`), whose ca/keystore holds the genesis key.") var consortium: String
        @Option(help: "The node to change.") var node: UInt32
        @Option(help: "active, suspended or revoked.") var status: String
        @Option(help: "A running node's control socket (DATA/node.sock) to submit through.") var connect: String
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

        func run() async throws {
            do {
                guard let standing = NodeRegistration.Status(rawValue: status) else { throw ValidationError("--status must be active, suspended or revoked") }
                var authority = try await ConsortiumAuthority(consortium: consortium, passphraseFile: passphraseFile, connect: connect)
                let answer = try await authority.commit([.setNode(NodeID(node), status: standing, certificateKeyHash: nil)])
                try ConsortiumAuthority.printJSON(answer)
                if !ConsortiumAuthority.succeeded(answer) { Foundation.exit(1) }
            } catch {
                CLI.fail(error)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A running node's view: height, head, linked peers, mempool.")
        @Option(help: "The node's control socket (DATA/node.sock).") var connect: String

        func run() async throws {
            do {
                let answer = try await NodeControlClient(path: connect).request(["op": "status"])
                let data = try JSONSerialization.data(withJSONObject: answer, options: [.prettyPrinted, .sortedKeys])
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            } catch {
                CLI.fail(error)
            }
        }
    }
}

/// Signals delivered as an async stream (the signals are ignored by the process's default handling meanwhile).
enum Signals {
    static func stream(_ signals: [Int32]) -> AsyncStream<Int32> {
        AsyncStream { continuation in
            var sources = [any DispatchSourceSignal]()
            for s in signals {
                signal(s, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
                source.setEventHandler { continuation.yield(s) }
                source.resume()
                sources.append(source)
            }
            let keep = SourceBox(sources)
            continuation.onTermination = { _ in keep.cancel() }
        }
    }

    final class SourceBox: @unchecked Sendable {
        private let sources: [any DispatchSourceSignal]
        init(_ sources: [any DispatchSourceSignal]) { self.sources = sources }
        func cancel() { for s in sources { s.cancel() } }
    }
}

/// A store's committed state, as the admission check reads it.
struct StoreReader: StateReader {
    let store: LedgerStore
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { try store.stateValue(forKey: key) }
}
