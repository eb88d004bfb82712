import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore
import Net

/// A client's configuration file (`forgechain client … --config FILE`), JSON; paths are relative to the file.
struct ClientFile: Codable {
    struct Node: Codable {
        var id: UInt32
        /// `host:port` of the node's client endpoint.
        var address: String
    }

    var chainID: UInt64
    var nodes: [Node]
    /// The consortium CA's certificate and the client's; the key is the keystore entry `tls`.
    var tls: NodeFile.TLSFiles?
    var keystore: String
    var outbox: String
    /// `roundRobin`, `leastConnections`, `consistentHashing` or `leastLoad`.
    var strategy: String

    /// The client these settings describe, opened.
    static func open(_ path: String, passphraseFile: String?) async throws -> (ForgeChainClient, ClientFile) {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ChainError(.invalidClientConfiguration, "client configuration file \(path) cannot be read", details: ["file": path])
        }
        let file: ClientFile
        do { file = try JSONDecoder().decode(ClientFile.self, from: data) } catch {
            throw ChainError(.invalidClientConfiguration, "client configuration file \(path): \(error)", details: ["file": path])
        }
        let base = url.deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).path }
        var configuration = ForgeChainClient.Configuration(
            nodes: try file.nodes.map { .init(id: NodeID($0.id), host: try NodeFile.endpoint($0.address, field: "nodes").host,
                                              port: try NodeFile.endpoint($0.address, field: "nodes").port) },
            outboxPath: resolve(file.outbox))
        switch file.strategy {
        case "roundRobin": configuration.strategy = .roundRobin
        case "leastConnections": configuration.strategy = .leastConnections
        case "consistentHashing": configuration.strategy = .consistentHashing
        case "leastLoad": configuration.strategy = .leastLoad
        default:
            throw ChainError(.invalidClientConfiguration, "client configuration field 'strategy': '\(file.strategy)'", details: ["field": "strategy"])
        }
        if let tls = file.tls {
            let keystore = try Keystore(directory: resolve(file.keystore), passphrase: try DataOptions.passphrase(file: passphraseFile, for: resolve(file.keystore)))
            func certificate(_ p: String) throws -> X509Certificate {
                guard let text = FileManager.default.contents(atPath: resolve(p)) else {
                    throw ChainError(.invalidClientConfiguration, "certificate \(resolve(p)) cannot be read", details: ["field": "tls"])
                }
                return try X509Certificate(pemRepresentation: String(decoding: text, as: UTF8.self))
            }
            configuration.tls = TCPTransport.TLS(authority: try certificate(tls.ca), certificate: try certificate(tls.certificate),
                                                 key: try PrivateKey(derRepresentation: try keystore.load(NodeFile.keystoreTLSEntry).bytesCopy()))
        }
        return (try await ForgeChainClient.open(configuration), file)
    }
}

/// `forgechain client send|flush`: a client with a durable outbox, from the configuration `forgechain certs` writes.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Submit transactions to a consortium's nodes through a durable outbox (mutual TLS, load balanced, failover).",
        subcommands: [Send.self, Flush.self])

    /// Prints one JSON object as a line, at once.
    static func say(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue test key-value writes in the outbox (printing {\"queued\":N} once they are durable), then wait for them.",
            discussion: "The writes are signed by an Ed25519 key derived from --seed, nonces from --first-nonce; the nodes must run the kv executor.")
        @Option(help: "The client's configuration file.") var config: String
        @Option(help: "How many key-value writes.") var kv = 100
        @Option(help: "Derives the signing key (the same seed, the same key).") var seed = 1
        @Option(help: "The signing key's first nonce.") var firstNonce: UInt64 = 0
        @Option(help: "Seconds to wait for every submission to settle (0: do not wait).") var wait = 120
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

        func run() async throws {
            do {
                let (client, file) = try await ClientFile.open(config, passphraseFile: passphraseFile)
                let key = try PrivateKey(scheme: .ed25519, rawRepresentation: HashAlgorithm.sha256.hash(Array("forgechain-client-seed-\(seed)".utf8)).bytes)
                var account = SigningAccount(key: key, chainID: file.chainID, nextNonce: firstNonce)
                let txs = try (0..<kv).map { i in try account.set(key: Array("client-\(seed)-\(i)".utf8), value: Array("v".utf8)) }
                let ids = try await client.submit(txs)
                ClientCommand.say(["queued": ids.count, "sender": Hex.encode(key.publicKey.rawRepresentation)])
                if wait > 0 { try await Flush.settle(client, seconds: wait) }
                await client.close()
            } catch {
                CLI.fail(error)
            }
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send what the outbox holds and wait until nothing is pending.")
        @Option(help: "The client's configuration file.") var config: String
        @Option(help: "Seconds to wait.") var wait = 120
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

        func run() async throws {
            do {
                let (client, _) = try await ClientFile.open(config, passphraseFile: passphraseFile)
                try await Self.settle(client, seconds: wait)
                await client.close()
            } catch {
                CLI.fail(error)
            }
        }

        /// Waits until nothing is pending (or `seconds` pass) and prints the counts; exit status 2 when some are pending.
        static func settle(_ client: ForgeChainClient, seconds: Int) async throws {
            let end = ContinuousClock.now + .seconds(seconds)
            while try await client.pendingCount > 0, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(50)) }
            let counts = try await client.counts()
            ClientCommand.say(["pending": counts.pending, "committed": counts.committed, "refused": counts.refused])
            if counts.pending > 0 { Foundation.exit(2) }
        }
    }
}
