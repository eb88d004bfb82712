import Contracts
import Foundation
import LedgerCrypto
import Testing

/// The committed contract fixtures (Tests/Fixtures/Contracts) and a small assembler for the `.evmasm` ones.
enum ContractFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Contracts")

    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    static func text(_ name: String) throws -> String { try String(contentsOf: url(name), encoding: .utf8) }

    static func runtime(_ stem: String) throws -> [UInt8] { try ContractAudit.decodeHex(text(stem + ".bin-runtime")) }

    static func sourceMap(_ stem: String) throws -> AuditSourceMap {
        try AuditSourceMap(vyperSourceMapJSON: Data(contentsOf: url(stem + ".srcmap-runtime.json")))
    }

    /// The 1-based line of the first source line containing `fragment`.
    static func line(of fragment: String, in stem: String) throws -> Int {
        let lines = try text(stem + ".vy").components(separatedBy: "\n")
        return try #require(lines.firstIndex { $0.contains(fragment) }) + 1
    }

    /// Assembles one instruction per line: `label:` is a JUMPDEST, `PUSHn @label` its address, `;` starts a comment.
    static func assemble(_ source: String) throws -> [UInt8] {
        struct Line { let mnemonic: String; let operand: String? }
        var lines: [Line] = []
        for raw in source.components(separatedBy: "\n") {
            let code = raw.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let words = code.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = words.first else { continue }
            lines.append(Line(mnemonic: first, operand: words.count > 1 ? words[1] : nil))
        }
        var labels: [String: Int] = [:]
        var pc = 0
        for line in lines {
            if line.mnemonic.hasSuffix(":") {
                labels[String(line.mnemonic.dropLast())] = pc
                pc += 1
            } else {
                pc += 1 + (try #require(EVMOpcode.named[line.mnemonic], "unknown \(line.mnemonic)")).immediateBytes
            }
        }
        var code: [UInt8] = []
        for line in lines {
            if line.mnemonic.hasSuffix(":") {
                code.append(0x5B)
                continue
            }
            let opcode = EVMOpcode.named[line.mnemonic]!
            code.append(opcode.byte)
            guard opcode.immediateBytes > 0 else { continue }
            let operand = try #require(line.operand, "\(line.mnemonic) needs an operand")
            if operand.hasPrefix("0x") {
                let bytes = try ContractAudit.decodeHex(operand.count % 2 == 0 ? operand : "0" + operand.dropFirst(2))
                try #require(bytes.count <= opcode.immediateBytes, "\(operand) is wider than \(line.mnemonic)")
                code += [UInt8](repeating: 0, count: opcode.immediateBytes - bytes.count) + bytes
                continue
            }
            let value: Int
            if operand.hasPrefix("@") {
                value = try #require(labels[String(operand.dropFirst())], "unknown label \(operand)")
            } else {
                value = try #require(Int(operand))
            }
            for index in (0..<opcode.immediateBytes).reversed() { code.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
        }
        return code
    }

    static func assembled(_ name: String) throws -> [UInt8] { try assemble(text("Audit/" + name + ".evmasm")) }
}

/// One vulnerable Vyper fixture and the finding it must produce.
struct VyperDefect: Sendable, CustomTestStringConvertible {
    let stem: String
    let kind: AuditFinding.Kind
    let severity: AuditSeverity
    let opcode: String
    /// Text on the source line the finding must point at.
    let line: String
    var testDescription: String { stem }

    static let all = [
        VyperDefect(stem: "Audit/Reentrancy", kind: .reentrancy, severity: .high, opcode: "SSTORE", line: "self.balances[msg.sender] = 0"),
        VyperDefect(stem: "Audit/UncheckedCall", kind: .uncheckedCallResult, severity: .medium, opcode: "CALL", line: "raw_call(self.target"),
        VyperDefect(stem: "Audit/TxOrigin", kind: .txOriginAuthorisation, severity: .medium, opcode: "ORIGIN", line: "assert tx.origin"),
        VyperDefect(stem: "Audit/DelegateToCaller", kind: .controlledDelegateCall, severity: .high, opcode: "DELEGATECALL", line: "is_delegate_call=True"),
        VyperDefect(stem: "Audit/CallToCaller", kind: .controlledCallTarget, severity: .medium, opcode: "CALL", line: "raw_call(to,"),
        VyperDefect(stem: "Audit/TimestampBranch", kind: .timestampInBranch, severity: .low, opcode: "TIMESTAMP", line: "if block.timestamp"),
        VyperDefect(stem: "Audit/BlockNumberBranch", kind: .blockNumberInBranch, severity: .low, opcode: "NUMBER", line: "if block.number"),
    ]
}

@Suite struct AuditTests {
    static func report(_ stem: String) throws -> AuditReport {
        try ContractAudit.analyse(bytecode: ContractFixtures.runtime(stem), sourceMap: ContractFixtures.sourceMap(stem))
    }

    @Test(arguments: VyperDefect.all)
    func eachVulnerableVyperContractGetsItsFindingAtTheDefectsInstructionAndLine(defect: VyperDefect) throws {
        let code = try ContractFixtures.runtime(defect.stem)
        let report = try Self.report(defect.stem)
        let findings = report.findings(of: defect.kind)
        try #require(findings.count == 1, "\(report.text)")
        let finding = findings[0]
        #expect(finding.severity == defect.severity)
        #expect(finding.opcode == defect.opcode)
        #expect(EVMDisassembly(code: code).instruction(atPC: finding.pc)?.name == defect.opcode, "the pc points at the instruction named")
        #expect(finding.line == (try ContractFixtures.line(of: defect.line, in: defect.stem)), "\(report.text)")
        #expect(finding.id == "\(defect.kind.rawValue)@\(finding.pc)")
        // Nothing else of medium or high severity: each fixture has one defect (the reentrant one also calls
        // msg.sender, a low finding).
        #expect(report.findings(atOrAbove: .medium).map(\.kind) == (defect.severity >= .medium ? [defect.kind] : []), "\(report.text)")
        #expect(report.isComplete)
    }

    @Test func theReentrantWriteNamesTheCallBeforeItAndACheckedCallIsNotUnchecked() throws {
        let report = try Self.report("Audit/Reentrancy")
        let write = try #require(report.findings(of: .reentrancy).first)
        let call = try #require(report.findings(of: .controlledCallTarget).first)
        #expect(call.opcode == "CALL" && call.severity == .low)
        #expect(write.relatedPCs == [call.pc] && write.pc > call.pc)
        #expect(report.findings(of: .uncheckedCallResult).isEmpty, "raw_call reverts on failure: its flag reaches a JUMPI")
    }

    @Test func aWriteAfterACallBehindVypersReentrancyLockIsNotReentrancy() throws {
        let report = try Self.report("Audit/GuardedWithdraw")
        #expect(report.findings(of: .reentrancy).isEmpty, "\(report.text)")
        #expect(report.findings(atOrAbove: .medium).isEmpty, "\(report.text)")
        #expect(report.findings.map(\.kind) == [.controlledCallTarget], "the call to msg.sender stays a low finding")
    }

    @Test func handAssembledDefectsAreFoundAtTheirPC() throws {
        let loop = try ContractAudit.analyse(bytecode: ContractFixtures.assembled("UnboundedStorageLoop"))
        #expect(loop.findings.map(\.id) == ["unbounded-storage-loop@11"], "\(loop.text)")
        #expect(loop.findings.first?.relatedPCs == [1], "the loop header")
        let bounded = try ContractAudit.analyse(bytecode: ContractFixtures.assembled("BoundedStorageLoop"))
        #expect(bounded.findings.isEmpty, "\(bounded.text)")
        let jump = try ContractAudit.analyse(bytecode: ContractFixtures.assembled("InvalidJump"))
        #expect(jump.findings.map(\.id) == ["invalid-jump-target@7"], "\(jump.text)")
        let destruct = try ContractAudit.analyse(bytecode: ContractFixtures.assembled("Selfdestruct"))
        #expect(destruct.findings.map(\.id) == ["selfdestruct@1"], "\(destruct.text)")
    }

    @Test func aCallWithOnlyTheStipendCannotReenterButOneWithAllGasCan() throws {
        func program(gas: String) throws -> [UInt8] {
            try ContractFixtures.assemble("""
                PUSH0
                PUSH0
                PUSH0
                PUSH0
                PUSH1 0x01
                PUSH20 0x1111111111111111111111111111111111111111
                \(gas)
                CALL
                PUSH1 @ok
                JUMPI
                PUSH0
                PUSH0
                REVERT
            ok:
                PUSH1 0x01
                PUSH0
                SSTORE
                STOP
            """)
        }
        let stipend = try ContractAudit.analyse(bytecode: program(gas: "PUSH2 0x08fc"))
        #expect(stipend.findings.isEmpty, "\(stipend.text)")
        let allGas = try ContractAudit.analyse(bytecode: program(gas: "GAS"))
        #expect(allGas.findings.map(\.kind) == [.reentrancy], "\(allGas.text)")
    }

    @Test func theTraceabilityContractIsCleanAndFullyResolved() throws {
        let code = try ContractFixtures.runtime("Traceability")
        let report = try Self.report("Traceability")
        #expect(report.findings(atOrAbove: .medium).isEmpty, "\(report.text)")
        #expect(report.findings.isEmpty, "\(report.text)")
        #expect(report.isComplete)
        #expect(report.codeHash == Keccak256.hash(code))
        #expect(report.codeSize == code.count)
        // Vyper's selector table (CODECOPY + MLOAD) resolves: every function's body is reached.
        let graph = EVMControlFlowGraph(code: code)
        #expect(graph.unresolvedJumps.isEmpty && graph.invalidJumps.isEmpty && graph.isComplete)
        for selector: [UInt8] in [[0x0f, 0xf5, 0xce, 0x72], [0x1a, 0x04, 0x87, 0xb7]] {
            let push = try #require(graph.disassembly.instructions.first { $0.byte == 0x63 && $0.immediate == selector })
            #expect(graph.blocks[try #require(graph.blockIndex(containingPC: push.pc))].isReachable)
        }
    }

    @Test func aContractNearTheSizeLimitIsAnalysedToAFixedPointWithinTheBudget() throws {
        let code = try ContractFixtures.runtime("Audit/NearSizeLimit")
        #expect(code.count > 20_000 && code.count <= ContractAudit.deployedCodeLimit)
        let clock = ContinuousClock()
        var report: AuditReport?
        let elapsed = try clock.measure { report = try ContractAudit.analyse(bytecode: code) }
        let result = try #require(report)
        print("NearSizeLimit: \(code.count) bytes, \(result.instructionCount) instructions, \(result.blockCount) blocks, analysed in \(elapsed)")
        #expect(result.isComplete, "\(result.text)")
        #expect(result.findings(atOrAbove: .medium).isEmpty, "\(result.text)")
    }

    @Test func theDeploymentPolicyRefusesAHighFindingUnlessAllowed() throws {
        let code = try ContractFixtures.runtime("Audit/Reentrancy")
        let report = try ContractAudit.analyse(bytecode: code)
        let id = try #require(report.findings(of: .reentrancy).first?.id)
        let error = #expect(throws: ContractError.self) { try DeploymentPolicy.refuseHigh.check(bytecode: code) }
        #expect(error?.code == .deploymentRefusedByAudit)
        #expect(error?.details["findings"] == id)
        #expect(error?.details["codeHash"] == "0x" + Keccak256.hash(code).hex)
        #expect(DeploymentPolicy(allowed: [id]).allows(report))
        #expect(DeploymentPolicy(allowed: ["reentrancy"]).allows(report))
        #expect(DeploymentPolicy.permissive.allows(report))
        #expect(!DeploymentPolicy(refuseAtOrAbove: .low, allowed: [id]).allows(report), "the low call finding still refuses")

        let unchecked = try Self.report("Audit/UncheckedCall")
        #expect(DeploymentPolicy.refuseHigh.allows(unchecked))
        #expect(DeploymentPolicy.refuseMediumAndAbove.refusingFindings(in: unchecked).map(\.kind) == [.uncheckedCallResult])
        #expect(try DeploymentPolicy.refuseMediumAndAbove.check(bytecode: ContractFixtures.runtime("Traceability")).findings.isEmpty)
    }

    @Test func badInputIsATypedErrorAndChangesNothing() throws {
        let empty = #expect(throws: ContractError.self) { try ContractAudit.analyse(bytecode: []) }
        #expect(empty?.code == .auditBytecodeInvalid)
        let notHex = #expect(throws: ContractError.self) { try ContractAudit.analyse(hex: "0x60zz") }
        #expect(notHex?.code == .auditBytecodeInvalid)
        let oversized = #expect(throws: ContractError.self) {
            try ContractAudit.analyse(bytecode: [UInt8](repeating: 0x5B, count: ContractAudit.maximumCodeSize + 1))
        }
        #expect(oversized?.code == .auditBytecodeInvalid)
        let map = #expect(throws: ContractError.self) { try AuditSourceMap(vyperSourceMapJSON: Data("{\"pc\": 1}".utf8)) }
        #expect(map?.code == .auditSourceMapInvalid)
        let solc = #expect(throws: ContractError.self) { try AuditSourceMap(solcSourceMap: "x:1:0", source: "a", bytecode: [0]) }
        #expect(solc?.code == .auditSourceMapInvalid)
        #expect(try ContractAudit.analyse(hex: " 0x6001\n00 ").codeSize == 3)
    }

    @Test func sourceMapsGiveTheNearestEntryAtOrBeforeAPC() throws {
        let vyper = try AuditSourceMap(vyperSourceMapJSON: Data(#"{"pc_pos_map": {"0": [1, 0, 1, 4], "10": [7, 4, 7, 20]}}"#.utf8))
        #expect(vyper.location(forPC: 0) == .init(line: 1, column: 0))
        #expect(vyper.location(forPC: 9)?.line == 1)
        #expect(vyper.location(forPC: 10) == .init(line: 7, column: 4))
        #expect(vyper.location(forPC: 500)?.line == 7)
        // solc: one entry per instruction, empty fields repeat the previous one.
        let source = "contract C {\n  uint x;\n  function f() {}\n}"
        let code: [UInt8] = [0x60, 0x01, 0x60, 0x02, 0x01, 0x00] // PUSH1 PUSH1 ADD STOP at pcs 0, 2, 4, 5
        let solc = try AuditSourceMap(solcSourceMap: "0:44:0:-;15:7;;25:15:0:i", source: source, bytecode: code)
        #expect(solc.location(forPC: 0) == .init(line: 1, column: 0))
        #expect(solc.location(forPC: 2) == .init(line: 2, column: 2))
        #expect(solc.location(forPC: 4) == .init(line: 2, column: 2))
        #expect(solc.location(forPC: 5) == .init(line: 3, column: 2))
    }

    @Test func theReportRoundTripsThroughJSONAndItsTextListsEveryFinding() throws {
        let report = try Self.report("Audit/Reentrancy")
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(AuditReport.self, from: data) == report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["codeHash"] as? String == "0x" + report.codeHash.hex)
        let lines = report.text.components(separatedBy: "\n")
        #expect(lines.count == report.findings.count + 1)
        #expect(lines[0].contains("2 findings (1 high, 1 low)"))
        #expect(lines[1].hasPrefix("high   pc \(report.findings[0].pc) SSTORE line 18 reentrancy@"))
    }

    @Test func theGraphSplitsBlocksAndResolvesPushedTargets() throws {
        // PUSH1 0 CALLDATALOAD PUSH1 @8 JUMPI STOP | 7: (PUSH data 0x5b) | JUMPDEST STOP
        let code: [UInt8] = [0x60, 0x00, 0x35, 0x60, 0x09, 0x57, 0x00, 0x60, 0x5B, 0x5B, 0x00]
        let graph = EVMControlFlowGraph(code: code)
        #expect(graph.disassembly.jumpDestinations == [9], "a 0x5b inside PUSH data is not a destination")
        #expect(graph.blocks.map(\.startPC) == [0, 6, 7, 9], "STOP ends a block, a JUMPDEST starts one")
        #expect(graph.blocks[0].successors == [1, 3])
        #expect(graph.blocks[1].successors.isEmpty)
        #expect(graph.blocks.map(\.isReachable) == [true, true, false, true], "nothing reaches the code after STOP")
        #expect(graph.blockIndex(containingPC: 8) == nil && graph.blockIndex(containingPC: 7) == 2)
        #expect(graph.disassembly.text.components(separatedBy: "\n")[1] == "0002 CALLDATALOAD")
        // A truncated PUSH reads zeros for its missing bytes.
        #expect(EVMDisassembly(code: [0x61, 0x01]).instructions[0].pushValue == UInt256(0x0100))
    }

    @Test func aJumpFromUnknownDataIsReportedAsUnresolved() throws {
        let report = try ContractAudit.analyse(bytecode: [0x5F, 0x35, 0x56, 0x5B, 0x00]) // PUSH0 CALLDATALOAD JUMP JUMPDEST STOP
        #expect(report.findings.map(\.id) == ["unresolved-jump@2"])
        #expect(!report.isComplete)
    }
}
