import ChainRuntime
import Foundation
import LedgerCore
import LedgerCoreTesting
import Net
import Testing

/// A child process runs a node under load and prints each returned receipt's
/// transaction ID; it is killed with SIGKILL, and a node restarted on the same
/// folder must hold every printed transaction.
@Suite struct NodeCrashTests {
    static var probe: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("forgechain-node-probe")
    }

    @Test func nodeKilledWithSIGKILLUnderLoadLosesNoTransactionWhoseReceiptWasReturned() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.probe.path), "build the node probe: swift build")
        let dir = try TestChain.temporaryDirectory("node-crash")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var printed = [String]()
        for run in 0..<3 {
            let process = Process()
            process.executableURL = Self.probe
            process.arguments = [dir, "--clients", "8"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .milliseconds(900 + 300 * run))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            printed += text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        }
        #expect(printed.count > 20, "the probe made too little progress to test anything")
        let configuration = try NodeConfiguration.seededSingleNode(storePath: dir + "/ledger.sqlite", seed: 1407)
        let network = InMemoryNetwork()
        let node = try await Node<RaftEngine>(configuration: configuration, transport: try network.attach(0))
        await node.start()
        for line in printed where line.count == 64 {
            let id = try Digest(hex: line)
            #expect(try await node.receipt(for: id) != nil, "transaction \(line) was reported but is not committed")
        }
        #expect(printed.allSatisfy { $0.count == 64 })
        await node.stop()
    }
}
