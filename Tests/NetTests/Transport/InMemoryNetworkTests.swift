import Foundation
import LedgerCore
import Net
import Testing

@Suite struct InMemoryNetworkTests {
    /// Collects the next `count` messages (skipping link events) within `timeout`.
    func messages(_ t: InMemoryTransport, count: Int, timeout: Duration = .seconds(2)) async -> [[UInt8]] {
        await withTaskGroup(of: [[UInt8]].self) { group in
            group.addTask {
                var out = [[UInt8]]()
                for await e in t.events {
                    if case .message(_, let b) = e { out.append(b) }
                    if out.count == count { break }
                }
                return out
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return []
            }
            var best = [[UInt8]]()
            for await r in group {
                if r.count > best.count { best = r }
                if r.count == count || !r.isEmpty { group.cancelAll(); break }
                if r.isEmpty { group.cancelAll(); break }
            }
            return best
        }
    }

    @Test func deliversInOrderPerLink() async throws {
        let net = InMemoryNetwork(seed: 1)
        let a = try net.attach(0)
        let b = try net.attach(1)
        for i in 0..<50 { try await a.send([UInt8(i)], to: 1) }
        let got = await messages(b, count: 50)
        #expect(got == (0..<50).map { [UInt8($0)] })
        net.shutdown()
    }

    @Test func cutLinkLosesMessagesAndReportsDisconnection() async throws {
        let net = InMemoryNetwork(seed: 2)
        let a = try net.attach(0)
        let b = try net.attach(1)
        net.cut(0, 1)
        #expect(await a.connectedPeers().isEmpty)
        try await a.send([1], to: 1)
        net.heal(0, 1)
        try await a.send([2], to: 1)
        // Bounded: if the message never arrives the test fails instead of waiting forever.
        let events = await withTaskGroup(of: [TransportEvent]?.self) { group in
            group.addTask {
                var events = [TransportEvent]()
                for await e in b.events {
                    events.append(e)
                    if case .message = e { return events }
                }
                return events
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        #expect(events == [.connected(0), .disconnected(0), .connected(0), .message(from: 0, bytes: [2])],
                "events within 10 s: \(String(describing: events))")
        #expect(net.statistics.dropped == 1)
        let error = await #expect(throws: NetError.self) { try await a.send([3], to: 9) }
        #expect(error?.code == .peerUnreachable)
        net.shutdown()
    }

    @Test func partitionSeparatesGroupsUntilHealed() async throws {
        let net = InMemoryNetwork(seed: 3)
        let t = try (0..<4).map { try net.attach(NodeID(UInt32($0))) }
        net.partition([[0, 1], [2, 3]])
        #expect(await t[0].connectedPeers() == [1])
        #expect(await t[3].connectedPeers() == [2])
        net.healAll()
        #expect(await t[0].connectedPeers() == [1, 2, 3])
        net.shutdown()
    }

    @Test func seededDropDecisionsReplay() async throws {
        func run(_ seed: UInt64) async throws -> InMemoryNetwork.Statistics {
            let net = InMemoryNetwork(seed: seed, faults: .init(dropRate: 0.3, duplicateRate: 0.1))
            let a = try net.attach(0)
            _ = try net.attach(1)
            for i in 0..<1_000 { try await a.send([UInt8(truncatingIfNeeded: i)], to: 1) }
            defer { net.shutdown() }
            return net.statistics
        }
        let first = try await run(7)
        let again = try await run(7)
        let other = try await run(8)
        #expect(first == again)
        #expect(first != other)
        #expect((200...400).contains(first.dropped))
    }

    @Test func slowLinkDelaysDelivery() async throws {
        let net = InMemoryNetwork(seed: 4)
        let a = try net.attach(0)
        let b = try net.attach(1)
        net.slowLink(0, 1, delayMillis: 80)
        let start = ContinuousClock.now
        try await a.send([9], to: 1)
        let got = await messages(b, count: 1)
        #expect(got == [[9]])
        #expect(ContinuousClock.now - start >= .milliseconds(75))
        net.shutdown()
    }

    @Test func invalidFaultSettingsAreRefused() throws {
        let net = InMemoryNetwork()
        let error = #expect(throws: NetError.self) { try net.setFaults(.init(dropRate: 1.5)) }
        #expect(error?.code == .invalidFaultSetting)
    }
}
