import Foundation
import LedgerCore
import Net
import Testing

/// A broadcast no peer can receive is an error, not a silent loss; an unreachable peer is still skipped.
@Suite struct InMemoryBroadcastTests {
    @Test func anOversizedBroadcastThrowsAndAPartitionedPeerIsSkipped() async throws {
        let network = InMemoryNetwork()
        let a = try network.attach(0)
        _ = try network.attach(1)
        _ = try network.attach(2)
        let error = await #expect(throws: NetError.self) {
            try await a.broadcast([UInt8](repeating: 0, count: InMemoryNetwork.maximumMessageBytes + 1))
        }
        #expect(error?.code == .messageTooLarge)
        #expect(network.statistics.sent == 0)
        network.isolate(2)
        try await a.broadcast([1, 2, 3])
        #expect(network.statistics.sent >= 1)
        network.shutdown()
    }
}
