import Contracts
import Foundation
import LedgerCrypto
import Testing

/// The audit reads code from anyone (a deployment, the CLI): random and mutated bytecode and source maps must
/// give a report or a typed error, never a crash, and the same input the same report.
@Suite struct AuditFuzzTests {
    /// SplitMix64: a seeded generator so a failure replays.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func checkReport(_ code: [UInt8]) throws {
        let report = try ContractAudit.analyse(bytecode: code)
        let listing = EVMDisassembly(code: code)
        #expect(report.codeHash == Keccak256.hash(code))
        #expect(report.instructionCount == listing.instructions.count)
        for finding in report.findings {
            #expect(listing.instruction(atPC: finding.pc) != nil, "finding \(finding.id) is not at an instruction")
        }
        #expect(try ContractAudit.analyse(bytecode: code) == report, "the same code gives the same report")
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func randomBytecodeGivesAReportWhosePCsAreInstructions(seed: UInt64) throws {
        var random = Generator(state: seed)
        // Bytes biased toward the instructions that shape the graph: pushes, jumps, JUMPDESTs, calls, SSTORE.
        let favourites: [UInt8] = [0x60, 0x61, 0x56, 0x57, 0x5B, 0x5B, 0x80, 0x90, 0x54, 0x55, 0xF1, 0xF4, 0x32, 0x42, 0x35, 0x52, 0x51, 0x39]
        for _ in 0..<300 {
            let count = Int.random(in: 1...400, using: &random)
            let code = (0..<count).map { _ in
                Bool.random(using: &random) ? favourites.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            }
            try Self.checkReport(code)
        }
    }

    @Test func aDeepStackJoinedFromThousandsOfBlocksStaysWithinTheBudget() throws {
        // 1,000 pushes, then 4,000 blocks that each jump back to one header: the worst shape for joins.
        var code = [UInt8]()
        for index in 0..<1_000 { code += [0x60, UInt8(truncatingIfNeeded: index)] }
        let header = code.count
        code += [0x5B]
        for _ in 0..<4_000 { code += [0x5B, 0x61, UInt8(header >> 8), UInt8(header & 0xFF), 0x5F, 0x35, 0x57] }
        code += [0x00]
        let clock = ContinuousClock()
        var report: AuditReport?
        let elapsed = try clock.measure { report = try ContractAudit.analyse(bytecode: code) }
        print("deep-stack joins: \(code.count) bytes analysed in \(elapsed)")
        let result = try #require(report)
        #expect(result.reachableBlockCount == result.blockCount)
        #expect(result.findings.allSatisfy { $0.severity == .info }, "\(result.text)")
    }

    @Test func mutatedVyperCodeGivesAReport() throws {
        var random = Generator(state: 7)
        let original = try ContractFixtures.runtime("Traceability")
        for _ in 0..<150 {
            var code = original
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                code[Int.random(in: 0..<code.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if Bool.random(using: &random) { code = Array(code.prefix(Int.random(in: 1...code.count, using: &random))) }
            try Self.checkReport(code)
        }
    }

    @Test func randomSourceMapsAreReadOrRefusedWithTheirCode() {
        var random = Generator(state: 11)
        let alphabet = Array("0123456789:;-io{}[],\"pc_pos_map ".utf8)
        for _ in 0..<500 {
            let text = String(decoding: (0..<Int.random(in: 0...60, using: &random)).map { _ in alphabet.randomElement(using: &random)! }, as: UTF8.self)
            do { _ = try AuditSourceMap(vyperSourceMapJSON: Data(text.utf8)) } catch { #expect(error.code == .auditSourceMapInvalid) }
            do { _ = try AuditSourceMap(solcSourceMap: text, source: "a\nb", bytecode: [0x60, 0x00, 0x00]) } catch {
                #expect(error.code == .auditSourceMapInvalid)
            }
        }
    }
}
