// forgechain-node-probe DIR [--seconds S] [--clients N]
//
// Runs a one-node chain (NodeConfiguration.singleNode, seed 1407) on
// DIR/ledger.sqlite under load: N clients each submit key-value
// transactions one after another and wait for the receipt. Each returned
// receipt's transaction ID (hex) is written to stdout, one line each, with
// write(2) right after `submit` returns. The node crash test kills this
// process with SIGKILL and then requires every printed ID to be committed.
import ChainRuntime
import Foundation
import LedgerCore
import LedgerCoreTesting
import Net

let arguments = Array(CommandLine.arguments.dropFirst())
guard let dir = arguments.first else {
    FileHandle.standardError.write(Data("usage: forgechain-node-probe DIR [--seconds S] [--clients N]\n".utf8))
    exit(2)
}
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
let seconds = option("--seconds", 3_600)
let clients = option("--clients", 4)

func report(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    bytes.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
}

do {
    let configuration = try NodeConfiguration.seededSingleNode(storePath: dir + "/ledger.sqlite", seed: 1407)
    let network = InMemoryNetwork(seed: 1407)
    let node = try await Node<RaftEngine>(configuration: configuration, transport: try network.attach(0))
    await node.start()
    let deadline = ContinuousClock.now + .seconds(seconds)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for c in 0..<clients {
            group.addTask {
                var raw = [UInt8](repeating: 0, count: 32)
                raw[0] = UInt8(c + 1)
                let key = try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
                var account = SigningAccount(key: key, chainID: configuration.genesis.header.chainID,
                                             nextNonce: await node.nextNonce(for: key.publicKey))
                var i = 0
                while ContinuousClock.now < deadline {
                    let tx = try account.set(key: Array("probe-\(c)-\(account.nextNonce)".utf8), value: Array("v\(i)".utf8))
                    let receipt = try await node.submit(tx)
                    report(receipt.transactionID.hex)
                    i += 1
                }
            }
        }
        try await group.waitForAll()
    }
    await node.stop()
} catch {
    FileHandle.standardError.write(Data("forgechain-node-probe: \(error)\n".utf8))
    exit(1)
}
