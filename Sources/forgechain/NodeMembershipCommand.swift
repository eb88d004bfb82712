import AppAPI
import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore

/// The consortium's founding authority (the genesis key in `ca/keystore`), signing governance transactions
/// submitted through a running node's control socket.
struct ConsortiumAuthority {
    var founder: SigningAccount
    let control: NodeControlClient

    /// - Throws: keystore errors (136x), `ChainError` `.invalidNodeConfiguration` (4050) when the genesis block cannot be read,
    ///   control errors (4200–4204).
    init(consortium: String, passphraseFile: String?, connect: String) async throws {
        let keystore = try Keystore(directory: consortium + "/ca/keystore",
                                    passphrase: try DataOptions.passphrase(file: passphraseFile, for: consortium + "/ca"))
        let genesisKey = try PrivateKey(scheme: .ed25519, rawRepresentation: try keystore.load("genesis").bytesCopy())
        guard let bytes = FileManager.default.contents(atPath: consortium + "/genesis.block") else {
            throw ChainError(.invalidNodeConfiguration, "\(consortium)/genesis.block cannot be read", details: ["field": "genesis"])
        }
        let genesis = try Block(decoding: Array(bytes))
        control = NodeControlClient(path: connect)
        let nonce = try await control.request(["op": "nonce", "sender": Hex.encode(genesisKey.publicKey.rawRepresentation)])["nextNonce"] as? Int ?? 0
        founder = SigningAccount(key: genesisKey, chainID: genesis.header.chainID, nextNonce: UInt64(nonce))
    }

    /// Signs `operations` as one access transaction and submits it; with `wait`, waits for its commit.
    /// - Returns: The node's answer; `committed` and `status` 0 when it took effect, `ok` when only admitted.
    mutating func commit(_ operations: [AccessOperation], wait: Bool = true) async throws -> [String: Any] {
        let tx = try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body(operations))
        return try await control.request(["op": "submit", "transaction": Hex.encode(tx.encoded), "wait": wait])
    }

    /// The configuration deciding the node's next block, and its committed height.
    func consensus() async throws -> (config: ConsensusConfig, height: UInt64) {
        let answer = try await control.request(["op": "consensus"])
        guard let object = answer["config"], let height = answer["height"] as? Int else {
            throw ChainError(.invalidControlRequest, "the node's consensus answer lacks 'config' or 'height': \(answer)")
        }
        let config = try ConsensusConfig(json: Array(try JSONSerialization.data(withJSONObject: object)))
        return (config, UInt64(height))
    }

    static func succeeded(_ answer: [String: Any]) -> Bool { answer["committed"] as? Bool == true && answer["status"] as? Int == 0 }

    static func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

extension NodeCommand {
    struct Validators: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Schedule a validator to join or leave consensus at a height (a governance transaction signed with the genesis key).",
            discussion: """
            Every node switches to the new validator set at the same height. A node that joins must be registered \
            (`forgechain node standing --status active`) and reachable by the others (their `peers`).
            """)
        @Option(help: "The consortium folder (`forgechain certs --out`), whose ca/keystore holds the genesis key.") var consortium: String
        @Option(help: "A running node's control socket (DATA/node.sock) to submit through.") var connect: String
        @Option(help: "Add this node as a validator, given as ID:ED25519-PUBLIC-KEY-HEX[:STAKE].") var add: String?
        @Option(help: "Remove this node from the validators.") var remove: UInt32?
        @Option(help: "Blocks above the node's head at which the change takes effect (3...10000).") var after: UInt64 = 5
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

        func validate() throws {
            guard (add == nil) != (remove == nil) else { throw ValidationError("give exactly one of --add and --remove") }
            guard (ConsensusSchedule.minimumLead...10_000).contains(after) else { throw ValidationError("--after must be 3...10000") }
        }

        func run() async throws {
            do {
                var authority = try await ConsortiumAuthority(consortium: consortium, passphraseFile: passphraseFile, connect: connect)
                let (config, height) = try await authority.consensus()
                var members = config.validators?.validators ?? []
                if let remove {
                    guard members.contains(where: { $0.id == NodeID(remove) }) else { throw ValidationError("node \(remove) is not a validator") }
                    members.removeAll { $0.id == NodeID(remove) }
                } else if let add {
                    let parts = add.split(separator: ":").map(String.init)
                    guard (2...3).contains(parts.count), let id = UInt32(parts[0]) else { throw ValidationError("--add is ID:KEY-HEX[:STAKE]") }
                    let key = try PublicKey(scheme: .ed25519, rawRepresentation: try Hex.decode(parts[1]))
                    let stake = parts.count == 3 ? UInt64(parts[2]) : 1
                    guard let stake, stake > 0 else { throw ValidationError("--add stake must be a positive integer") }
                    guard !members.contains(where: { $0.id == NodeID(id) }) else { throw ValidationError("node \(id) is a validator already") }
                    members.append(Validator(id: NodeID(id), publicKey: key, stake: stake))
                }
                let at = Height(height + after)
                let answer = try await authority.commit([.scheduleConsensus(height: at, config: config.replacingValidators(try ValidatorSet(members)))])
                try ConsortiumAuthority.printJSON(["height": Int(at.rawValue), "validators": members.map { Int($0.id.rawValue) }, "answer": answer])
                if !ConsortiumAuthority.succeeded(answer) { Foundation.exit(1) }
            } catch {
                CLI.fail(error)
            }
        }
    }

    struct Leave: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a running validator out of the consortium without halting consensus.",
            discussion: """
            Run against the leaving node's own control socket. In order: schedules the validator set without the \
            node at a height (it stops voting and proposing there, and the next primary or leader comes from the \
            remaining set), waits until the node has committed past that height, waits until its mempool is drained \
            (its pending transactions committed by the others), then revokes its standing so its peers cut it off. \
            Stop the node (SIGTERM) afterwards.
            """)
        @Option(help: "The consortium folder (`forgechain certs --out`), whose ca/keystore holds the genesis key.") var consortium: String
        @Option(help: "The leaving node's control socket (DATA/node.sock).") var connect: String
        @Option(help: "Blocks above the node's head at which it leaves consensus (3...10000).") var after: UInt64 = 5
        @Option(help: "Seconds to wait for the leave height and for the drain (1...3600).") var timeout: Int = 120
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

        func validate() throws {
            guard (ConsensusSchedule.minimumLead...10_000).contains(after) else { throw ValidationError("--after must be 3...10000") }
            guard (1...3_600).contains(timeout) else { throw ValidationError("--timeout must be 1...3600") }
        }

        func run() async throws {
            do {
                var authority = try await ConsortiumAuthority(consortium: consortium, passphraseFile: passphraseFile, connect: connect)
                let status = try await authority.control.request(["op": "status"])
                guard let id = status["node"] as? Int else { throw ChainError(.invalidControlRequest, "the node's status names no node") }
                let node = NodeID(UInt32(id))
                let (config, height) = try await authority.consensus()
                var members = config.validators?.validators ?? []
                guard members.contains(where: { $0.id == node }) else { throw ValidationError("node \(id) is not a validator") }
                members.removeAll { $0.id == node }
                let at = Height(height + after)
                let scheduled = try await authority.commit([.scheduleConsensus(height: at, config: config.replacingValidators(try ValidatorSet(members)))])
                guard ConsortiumAuthority.succeeded(scheduled) else {
                    try ConsortiumAuthority.printJSON(["step": "schedule", "answer": scheduled])
                    Foundation.exit(1)
                }
                let deadline = ContinuousClock.now + .seconds(timeout)
                // Out of consensus once the node has committed the block before `at` and runs the new set.
                while try await authority.consensus().config.validators?.contains(node) ?? false {
                    guard ContinuousClock.now < deadline else { throw ChainError(.clientTimeout, "node \(id) did not reach height \(at) within \(timeout) s") }
                    try await Task.sleep(for: .milliseconds(100))
                }
                // Drained: what clients gave this node is committed by the others.
                while try await authority.control.request(["op": "status"])["mempool"] as? Int ?? 0 > 0 {
                    guard ContinuousClock.now < deadline else { throw ChainError(.clientTimeout, "node \(id)'s mempool did not drain within \(timeout) s") }
                    try await Task.sleep(for: .milliseconds(100))
                }
                // Admitted here and relayed: once the others commit it they cut this node off, so it may never see the commit.
                let revoked = try await authority.commit([.setNode(node, status: .revoked, certificateKeyHash: nil)], wait: false)
                try ConsortiumAuthority.printJSON(["node": id, "leftAt": Int(at.rawValue), "validators": members.map { Int($0.id.rawValue) },
                                                   "revocation": revoked])
                if revoked["ok"] as? Bool != true { Foundation.exit(1) }
            } catch {
                CLI.fail(error)
            }
        }
    }
}
