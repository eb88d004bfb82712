import LedgerCore
import LedgerCoreTesting
import Net
import Testing

struct BatchTests {
    @Test func itemsRoundTripIncludingEmptyOnes() throws {
        let items: [[UInt8]] = [[], [1], [2, 3], [UInt8](repeating: 7, count: 1000), []]
        let payload = Batch.encode(items)
        #expect(payload.count == Batch.encodedSize(itemSizes: items.map(\.count)))
        #expect(try Batch.decode(payload) == items)
        #expect(try Batch.decode(Batch.encode([])) == [])
    }

    @Test func transactionsTravelManyToAFrame() throws {
        let txs = try Workloads.signedTransactions(count: 50, senders: 5, payloadBytes: 40, chainID: 7)
        let encoder = try FrameEncoder()
        var decoder = try FrameDecoder()
        let frames = try decoder.feed(try encoder.encode(Frame(kind: 3, sender: 1, payload: Batch.encode(transactions: txs))))
        #expect(frames.count == 1)
        #expect(try Batch.decodeTransactions(frames[0].payload) == txs)
    }

    @Test func splittingKeepsOrderAndEveryPayloadFits() throws {
        var rng = SplitMix64(seed: 5)
        let items = (0..<500).map { _ in [UInt8](repeating: 1, count: Int.random(in: 0...300, using: &rng)) }
        let config = FrameConfiguration(maxFrameBytes: 4096)
        let limit = config.maxPayloadBytes(authenticated: true)
        let payloads = try Batch.split(items, maxPayloadBytes: limit)
        #expect(payloads.count > 1)
        #expect(payloads.allSatisfy { $0.count <= limit })
        #expect(try payloads.flatMap { try Batch.decode($0) } == items)
        let encoder = try FrameEncoder(configuration: config, linkKey: SymmetricKey(bytes: [1, 2, 3]))
        for p in payloads { _ = try encoder.encode(Frame(kind: 3, sender: 1, payload: p)) }
        #expect(throws: NetError.self) { _ = try Batch.split([[UInt8](repeating: 0, count: 5000)], maxPayloadBytes: limit) }
    }

    @Test func malformedBatchesAreTypedErrorsNamingTheItem() throws {
        let good = Batch.encode([[1, 2], [3]])
        let cases: [[UInt8]] = [
            [], [0, 0], Array(good.dropLast()), good + [0],
            [0xFF, 0xFF, 0xFF, 0xFF],                       // a count the bytes cannot hold
            [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 1],         // an item length past the end
        ]
        for bytes in cases {
            do {
                _ = try Batch.decode(bytes)
                Issue.record("accepted \(bytes)")
            } catch {
                #expect(error.code == .malformedBatch)
            }
        }
        do {
            _ = try Batch.decodeTransactions(Batch.encode([[0xC0]]))
            Issue.record("accepted a non-transaction")
        } catch {
            #expect(error.code == .malformedBatch)
            #expect(error.details["index"] == "0")
            #expect(error.details["cause"] != nil)
        }
        #expect(throws: NetError.self) { _ = try Batch.decode(Batch.encode([[], [], []]), maxItems: 2) }
    }

    @Test func randomPayloadsNeverCrashTheBatchDecoder() {
        var rng = SplitMix64(seed: 77)
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...8, using: &rng) }
            do { _ = try Batch.decode(bytes) } catch { #expect(error.code == .malformedBatch) }
        }
    }

    @Test func wireErrorCodesStayInTheWireBand() {
        let codes: [NetError.Code] = [.badMagic, .unsupportedFrameVersion, .frameTooLarge, .checksumMismatch, .frameAuthenticationFailed,
                                      .frameTruncated, .malformedFrame, .malformedBatch, .invalidFrameConfiguration,
                                      .authenticationRequired, .linkKeyUnavailable]
        #expect(Set(codes).count == codes.count)
        #expect(codes.allSatisfy { (3001...3049).contains($0.rawValue) })
    }
}
