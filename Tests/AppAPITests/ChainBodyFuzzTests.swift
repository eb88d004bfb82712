import Foundation
@testable import AppAPI
import LedgerCore
@testable import ChainRuntime
import Testing

/// What a records transaction, a block's records and an upload receipt carry arrives from peers and
/// files: the records body, the canonical record encoding and the operations commitment decode or
/// throw a typed error for random bytes and for mutations of valid encodings, never trap.
struct ChainBodyFuzzTests {
    @Test(arguments: [UInt64(1), 2, 3, 0x5eed_f00d])
    func chainBodiesDecodeOrThrowNeverTrap(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let record = RecordsFixture.production(7)
        let bytes = record.canonicalEncoding
        let operations = [RecordOperation(kind: .create, recordID: "P-7", version: 1, recordBytes: bytes,
                                          digest: HashAlgorithm.sha256.hash(bytes), uploader: "root"),
                          RecordOperation(kind: .update, recordID: "P-7", version: 2, recordBytes: bytes, digest: HashAlgorithm.sha256.hash(bytes),
                                          uploader: "root", condition: .field("propara.pro_temperature", equals: "71.5"),
                                          changedFields: ["propara.pro_temperature"], previousBytes: bytes)]
        let body = RecordOperation.body(operations, deadline: Timestamp(rawValue: 1_900_000_000_000))
        #expect(try RecordOperation.decodeBody(body).operations == operations)
        #expect(try ManufacturingRecord(canonicalEncoding: bytes) == record)
        var bodyCodes = Set<UInt32>(), recordCodes = Set<UInt32>()
        for round in 0..<3_000 {
            func mutated(_ valid: [UInt8]) -> [UInt8] {
                if round % 4 == 0 { return (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
                var m = valid
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let i = Int(rng.next() % UInt64(m.count))
                    if rng.next() % 4 == 0 { m.remove(at: i) } else { m[i] = UInt8(truncatingIfNeeded: rng.next()) }
                    if m.isEmpty { m = [0xc0] }
                }
                return m
            }
            do throws(LedgerError) { _ = try RecordOperation.decodeBody(mutated(body)) } catch {
                bodyCodes.insert(error.numericCode)
            }
            let input = mutated(bytes)
            do throws(AppError) {
                // Strictly canonical: whatever decodes encodes back to the very bytes it came from.
                #expect(try ManufacturingRecord(canonicalEncoding: input).canonicalEncoding == input)
            } catch {
                recordCodes.insert(error.numericCode)
            }
        }
        #expect(bodyCodes.count >= 3, "records body: only codes \(bodyCodes.sorted())")
        #expect(recordCodes == [AppError.Code.malformedRecordEncoding.rawValue], "record: codes \(recordCodes.sorted())")
    }

    /// Access transactions and the accounts they store arrive from peers too: they decode or throw, never trap.
    @Test(arguments: [UInt64(4), 5, 0xacce_55])
    func accessBodiesAndAccountsDecodeOrThrowNeverTrap(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let key = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 3, count: 32)).publicKey
        let operations: [AccessOperation] = [.putAccount(user: "qa-lead", roles: [.recordManager, .auditor], scope: .factories(["F-1", "F-2"]), enabled: true),
                                             .addKey(user: "qa-lead", key: key), .removeKey(user: "qa-lead", key: key), .deleteAccount(user: "qa-lead"),
                                             .setNode(4, status: .suspended, certificateKeyHash: HashAlgorithm.sha256.hash([1])),
                                             .scheduleConsensus(height: 40, config: .pbft(PBFTConfig(validators: try ValidatorSet(
                                                 try (0..<4).map { Validator(id: NodeID(UInt32($0)), publicKey: try PrivateKey(scheme: .ed25519,
                                                     rawRepresentation: [UInt8](repeating: UInt8(40 + $0), count: 32)).publicKey) }))))]
        let body = AccessOperation.body(operations)
        #expect(try AccessOperation.operations(inBody: body) == operations)
        let account = ChainAccount(user: "qa-lead", roles: [.operator], scope: .factories(["F-1"]), enabled: false, keys: [key]).encoded
        #expect(try ChainAccount(decoding: account) == ChainAccount(user: "qa-lead", roles: [.operator], scope: .factories(["F-1"]), enabled: false, keys: [key]))
        var codes = Set<UInt32>()
        for round in 0..<3_000 {
            let registration = NodeRegistration(status: .revoked, certificateKeyHash: HashAlgorithm.sha256.hash([2])).encoded
            for valid in [body, account, registration] {
                var m = valid
                if round % 4 == 0 {
                    m = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                } else {
                    for _ in 0..<(1 + Int(rng.next() % 3)) where !m.isEmpty {
                        let i = Int(rng.next() % UInt64(m.count))
                        if rng.next() % 4 == 0 { m.remove(at: i) } else { m[i] = UInt8(truncatingIfNeeded: rng.next()) }
                    }
                }
                do throws(LedgerError) {
                    if valid == body { _ = try AccessOperation.operations(inBody: m) } else if valid == account { _ = try ChainAccount(decoding: m) } else {
                        _ = try NodeRegistration(decoding: m)
                    }
                } catch {
                    codes.insert(error.numericCode)
                }
            }
        }
        #expect(codes.count >= 3, "access: only codes \(codes.sorted())")
    }

    /// The consensus schedule a governance transaction stores is read by every node at start: a damaged value
    /// throws the one schedule code, and a node given it runs its configured schedule (never traps).
    @Test func theChainsConsensusScheduleDecodesOrThrowsOneCode() throws {
        var rng = SplitMix64(seed: 0x5c4e)
        let set = try ValidatorSet(try (0..<4).map { Validator(id: NodeID(UInt32($0)), publicKey: try PrivateKey(scheme: .ed25519,
                                                             rawRepresentation: [UInt8](repeating: UInt8(40 + $0), count: 32)).publicKey) })
        let changes = [ConsensusSchedule.Change(height: 10, config: .pbft(PBFTConfig(validators: set)))]
        let valid = ConsensusSchedule.chainValue(changes)
        #expect(try ConsensusSchedule.chainChanges(from: valid) == changes)
        #expect(try ConsensusSchedule.chainChanges(from: nil).isEmpty)
        let base = ConsensusSchedule(initial: .pbft(PBFTConfig(validators: set)))
        var codes = Set<UInt32>()
        for _ in 0..<2_000 {
            var m = valid
            for _ in 0..<(1 + Int(rng.next() % 4)) where !m.isEmpty {
                let i = Int(rng.next() % UInt64(m.count))
                if rng.next() % 4 == 0 { m.remove(at: i) } else { m[i] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            do throws(LedgerError) { _ = try ConsensusSchedule.chainChanges(from: m) } catch { codes.insert(error.numericCode) }
            let merged = ChainSchedule.merged(base, bytes: m)
            #expect(merged.changes.allSatisfy { (try? $0.config.validate()) != nil }, "only valid changes are merged")
        }
        #expect(codes == [LedgerError.Code.consensusConfigFile.rawValue])
    }
}
