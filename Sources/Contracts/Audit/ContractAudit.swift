import LedgerCrypto

/// The bytecode audit: builds the control-flow graph from ``EVMOpcode/table`` and looks for reentrancy,
/// unchecked call results, `tx.origin` authorisation, delegatecall or call to a caller-controlled address,
/// SELFDESTRUCT, block timestamp or number in a branch, unbounded loops over storage and invalid jump targets
/// (``AuditFinding/Kind`` says how each is recognised and how severe it is).
///
/// ```swift
/// let report = try ContractAudit.analyse(bytecode: runtimeCode, sourceMap: map)
/// for finding in report.findings { print(finding.severity, finding.pc, finding.line ?? 0, finding.message) }
/// try DeploymentPolicy.refuseHigh.check(report)
/// ```
///
/// The analysis works on runtime code (what a deployment leaves on chain); given init code it sees only the
/// constructor. It is an over-approximation: a finding names a path the control-flow graph allows, which the
/// contract's own logic may rule out.
public enum ContractAudit {
    /// Code bigger than this is refused: the init-code limit (EIP-3860), twice the deployed-code limit.
    public static let maximumCodeSize = 49_152
    /// The deployed-code limit (EIP-170); bigger code gets an info finding.
    public static let deployedCodeLimit = 24_576
    /// A call with at most this much gas, given as a constant, cannot re-enter to write state (the stipend
    /// that `send` and `transfer` pass).
    public static let stipendGas: UInt64 = 2_300

    /// Analyses bytecode.
    /// - Parameters:
    ///   - bytecode: Required. Runtime code, 1...49,152 bytes.
    ///   - sourceMap: Optional, default `nil`. When given, findings carry the source line of their pc.
    /// - Returns: The report, with the code hash and the findings, most severe first.
    /// - Throws: `ContractError` `.auditBytecodeInvalid` (2360) for empty code or code over 49,152 bytes.
    /// - Note: Roughly linear in the code size (the interpretation has a budget of steps); pure, safe to call
    ///   concurrently.
    public static func analyse(bytecode: [UInt8], sourceMap: AuditSourceMap? = nil) throws(ContractError) -> AuditReport {
        guard !bytecode.isEmpty else {
            throw ContractError(.auditBytecodeInvalid, "the bytecode to audit is empty", details: ["field": "bytecode"])
        }
        guard bytecode.count <= maximumCodeSize else {
            throw ContractError(.auditBytecodeInvalid, "the bytecode to audit is \(bytecode.count) bytes, over the \(maximumCodeSize)-byte limit",
                                details: ["field": "bytecode", "limit": String(maximumCodeSize)])
        }
        let graph = EVMControlFlowGraph(code: bytecode)
        var analyses = AuditAnalyses(graph: graph, sourceMap: sourceMap)
        analyses.run()
        if bytecode.count > deployedCodeLimit {
            analyses.add(.codeSizeLimit, .info, pc: 0, "the code is \(bytecode.count) bytes, over the \(deployedCodeLimit)-byte limit on deployed code")
        }
        return AuditReport(codeHash: Keccak256.hash(bytecode), codeSize: bytecode.count,
                           instructionCount: graph.disassembly.instructions.count, blockCount: graph.blocks.count,
                           reachableBlockCount: graph.blocks.filter(\.isReachable).count,
                           isComplete: graph.isComplete && graph.unresolvedJumps.isEmpty, findings: analyses.findings)
    }

    /// Analyses bytecode given as hex text.
    /// - Parameters:
    ///   - hex: Required. Hex digits, with or without `0x`, surrounding whitespace ignored.
    ///   - sourceMap: Optional, default `nil`.
    /// - Throws: `ContractError` `.auditBytecodeInvalid` (2360) when it is not hex, is empty or too long.
    public static func analyse(hex: String, sourceMap: AuditSourceMap? = nil) throws(ContractError) -> AuditReport {
        try analyse(bytecode: try decodeHex(hex), sourceMap: sourceMap)
    }

    /// Decodes hex bytecode (`0x` optional, whitespace around and between lines ignored).
    /// - Parameter text: Required.
    /// - Throws: `ContractError` `.auditBytecodeInvalid` (2360) when it is not hex.
    public static func decodeHex(_ text: String) throws(ContractError) -> [UInt8] {
        var digits = text.filter { !$0.isWhitespace }
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits.removeFirst(2) }
        do { return try Hex.decode(digits) } catch {
            throw ContractError(.auditBytecodeInvalid, "the bytecode is not hex: \(error.message)", details: ["field": "hex"])
        }
    }
}

/// The analyses over a built graph.
struct AuditAnalyses {
    let graph: EVMControlFlowGraph
    let sourceMap: AuditSourceMap?
    var findings: [AuditFinding] = []
    private var reported = Set<String>()

    init(graph: EVMControlFlowGraph, sourceMap: AuditSourceMap?) {
        self.graph = graph
        self.sourceMap = sourceMap
    }

    private var facts: AuditFacts { graph.facts }
    private var instructions: [EVMInstruction] { graph.disassembly.instructions }

    mutating func add(_ kind: AuditFinding.Kind, _ severity: AuditSeverity, pc: Int, _ message: String, related: [Int] = []) {
        let finding = AuditFinding(kind: kind, severity: severity, pc: pc,
                                   opcode: graph.disassembly.instruction(atPC: pc)?.name ?? "-", message: message,
                                   relatedPCs: Array(Set(related)).sorted(), line: sourceMap?.location(forPC: pc)?.line,
                                   column: sourceMap?.location(forPC: pc)?.column)
        guard reported.insert(finding.id).inserted else { return }
        findings.append(finding)
    }

    mutating func run() {
        reentrancy()
        callResultsAndTargets()
        branchConditions()
        selfdestructs()
        storageLoops()
        jumps()
    }

    private static func callName(_ byte: UInt8) -> String { EVMOpcode.table[Int(byte)]?.name ?? "call" }

    /// The pcs of reentrancy-lock writes: a constant non-zero value stored to a constant slot (transient or
    /// persistent) whose load, somewhere, decides a branch (Vyper's `@nonreentrant`, OpenZeppelin's
    /// ReentrancyGuard).
    private func lockWrites() -> [Int] {
        struct Slot: Hashable { let transient: Bool; let slot: UInt256 }
        var checked = Set<Slot>()
        for branch in facts.branches {
            for source in branch.condition.sources {
                guard let slot = facts.loadSlots[Int(source)], let byte = graph.disassembly.instruction(atPC: Int(source))?.byte else { continue }
                checked.insert(Slot(transient: byte == 0x5C, slot: slot))
            }
        }
        return facts.constantStores.filter { !$0.value.isZero && checked.contains(Slot(transient: $0.transient, slot: $0.slot)) }.map(\.pc)
    }

    /// Immediate dominators of the reachable blocks (Cooper, Harvey and Kennedy's iteration over reverse
    /// postorder); `-1` for unreachable blocks.
    private func dominators() -> [Int] {
        let blocks = graph.blocks
        var order: [Int] = []
        var visited = [Bool](repeating: false, count: blocks.count)
        var stack: [(block: Int, next: Int)] = [(0, 0)]
        visited[0] = true
        while let top = stack.last {
            let successors = blocks[top.block].successors
            if top.next < successors.count {
                stack[stack.count - 1].next += 1
                let successor = successors[top.next]
                if !visited[successor] {
                    visited[successor] = true
                    stack.append((successor, 0))
                }
            } else {
                order.append(top.block)
                stack.removeLast()
            }
        }
        order.reverse()
        var position = [Int](repeating: -1, count: blocks.count)
        for (index, block) in order.enumerated() { position[block] = index }
        var predecessors = [[Int]](repeating: [], count: blocks.count)
        for block in order { for successor in blocks[block].successors { predecessors[successor].append(block) } }
        var idom = [Int](repeating: -1, count: blocks.count)
        idom[0] = 0
        var changed = true
        while changed {
            changed = false
            for block in order.dropFirst() {
                var candidate = -1
                for predecessor in predecessors[block] where idom[predecessor] != -1 {
                    if candidate == -1 { candidate = predecessor; continue }
                    var a = predecessor, b = candidate
                    while a != b {
                        while position[a] > position[b] { a = idom[a] }
                        while position[b] > position[a] { b = idom[b] }
                    }
                    candidate = a
                }
                if candidate != -1 && idom[block] != candidate {
                    idom[block] = candidate
                    changed = true
                }
            }
        }
        return idom
    }

    /// SSTOREs reachable after a call that may re-enter and that no reentrancy lock guards.
    private mutating func reentrancy() {
        var callsBeforeWrite: [Int: [Int]] = [:]
        let locks = lockWrites()
        let idom = locks.isEmpty ? [] : dominators()
        func guarded(_ callPC: Int) -> Bool {
            guard let callBlock = graph.blockIndex(containingPC: callPC) else { return false }
            for lock in locks {
                guard let lockBlock = graph.blockIndex(containingPC: lock) else { continue }
                if lockBlock == callBlock {
                    if lock < callPC { return true }
                    continue
                }
                var block = callBlock
                while block != 0 && idom[block] != -1 && block != lockBlock { block = idom[block] }
                if block == lockBlock { return true }
            }
            return false
        }
        for call in facts.calls where call.byte != 0xFA {
            if let gas = call.gas.constants, gas.allSatisfy({ ($0.uint64 ?? .max) <= ContractAudit.stipendGas }) { continue }
            if guarded(call.pc) { continue }
            guard let blockIndex = graph.blockIndex(containingPC: call.pc) else { continue }
            let block = graph.blocks[blockIndex]
            var writes: [Int] = []
            let callIndex = graph.disassembly.instructionIndex(atPC: call.pc)!
            for index in (callIndex + 1)..<block.instructionRange.upperBound where instructions[index].byte == 0x55 {
                writes.append(instructions[index].pc)
            }
            var seen = Set<Int>()
            var stack = block.successors
            while let next = stack.popLast() {
                guard seen.insert(next).inserted else { continue }
                for index in graph.blocks[next].instructionRange where instructions[index].byte == 0x55 {
                    writes.append(instructions[index].pc)
                }
                stack.append(contentsOf: graph.blocks[next].successors)
            }
            for write in writes { callsBeforeWrite[write, default: []].append(call.pc) }
        }
        for (write, calls) in callsBeforeWrite.sorted(by: { $0.key < $1.key }) {
            let first = calls.min()!
            add(.reentrancy, .high, pc: write,
                "storage is written at pc \(write) after the external call at pc \(first) (\(Self.callName(instructions[graph.disassembly.instructionIndex(atPC: first)!].byte))), which can re-enter before the write",
                related: calls)
        }
    }

    private mutating func callResultsAndTargets() {
        var checked = Set<Int32>()
        var overflowed = false
        for branch in facts.branches where branch.condition.taint.contains(.callResult) {
            checked.formUnion(branch.condition.sources)
            overflowed = overflowed || branch.condition.sourcesOverflowed
        }
        var seenCalls = Set<Int>()
        for call in facts.calls where seenCalls.insert(call.pc).inserted {
            let name = Self.callName(call.byte)
            if !checked.contains(Int32(call.pc)) && !overflowed {
                add(.uncheckedCallResult, .medium, pc: call.pc, "the success flag of the \(name) at pc \(call.pc) never decides a branch: a failed call goes unnoticed")
            }
            let fromCalldata = call.target.taint.contains(.calldata)
            let fromCaller = call.target.taint.contains(.caller)
            guard fromCalldata || fromCaller else { continue }
            let origin = fromCalldata ? "calldata" : "the caller (msg.sender)"
            switch call.byte {
            case 0xF4, 0xF2:
                add(.controlledDelegateCall, .high, pc: call.pc, "\(name) to an address taken from \(origin): the caller chooses the code that runs on this contract's storage")
            case 0xF1:
                let valueIsZero = call.value?.constants == [.zero]
                let severity: AuditSeverity = fromCalldata && !valueIsZero ? .medium : .low
                add(.controlledCallTarget, severity, pc: call.pc,
                    "CALL to an address taken from \(origin)" + (valueIsZero ? " (no value)" : ", with value the caller may influence"))
            default:
                break
            }
        }
    }

    private mutating func branchConditions() {
        for branch in facts.branches {
            let condition = branch.condition
            for source in condition.sources {
                let pc = Int(source)
                guard let instruction = graph.disassembly.instruction(atPC: pc) else { continue }
                switch instruction.byte {
                case 0x32:
                    add(.txOriginAuthorisation, .medium, pc: pc, "tx.origin (ORIGIN at pc \(pc)) decides the branch at pc \(branch.pc): any contract the user calls passes this check", related: [branch.pc])
                case 0x42:
                    add(.timestampInBranch, .low, pc: pc, "the block timestamp (TIMESTAMP at pc \(pc)) decides the branch at pc \(branch.pc); the proposer picks it within limits", related: [branch.pc])
                case 0x43:
                    add(.blockNumberInBranch, .low, pc: pc, "the block number (NUMBER at pc \(pc)) decides the branch at pc \(branch.pc)", related: [branch.pc])
                default:
                    break
                }
            }
        }
    }

    private mutating func selfdestructs() {
        for block in graph.blocks {
            for index in block.instructionRange where instructions[index].byte == 0xFF {
                let pc = instructions[index].pc
                if block.isReachable {
                    add(.selfdestruct, .medium, pc: pc, "SELFDESTRUCT at pc \(pc) sends the contract's whole balance to an address on the stack")
                } else if !graph.unresolvedJumps.isEmpty, block.startPC != 0, graph.disassembly.jumpDestinations.contains(block.startPC) {
                    add(.selfdestruct, .low, pc: pc, "SELFDESTRUCT at pc \(pc) in code the analysis did not reach (some jumps are unresolved)")
                }
            }
        }
    }

    /// Natural loops whose every exit depends on an unbounded storage value.
    private mutating func storageLoops() {
        let blocks = graph.blocks
        guard !blocks.isEmpty, blocks[0].isReachable else { return }
        var predecessors = [[Int]](repeating: [], count: blocks.count)
        for block in blocks where block.isReachable {
            for successor in block.successors { predecessors[successor].append(block.index) }
        }
        // Back edges from an iterative depth-first search.
        var state = [UInt8](repeating: 0, count: blocks.count) // 0 new, 1 on stack, 2 done
        var backEdges: [(from: Int, to: Int)] = []
        var stack: [(block: Int, next: Int)] = [(0, 0)]
        state[0] = 1
        while let top = stack.last {
            let successors = blocks[top.block].successors
            if top.next < successors.count {
                stack[stack.count - 1].next += 1
                let successor = successors[top.next]
                if state[successor] == 0 {
                    state[successor] = 1
                    stack.append((successor, 0))
                } else if state[successor] == 1 {
                    backEdges.append((top.block, successor))
                }
            } else {
                state[top.block] = 2
                stack.removeLast()
            }
        }
        var conditionByPC: [Int: AbstractWord] = [:]
        for branch in facts.branches { conditionByPC[branch.pc] = branch.condition }
        var loopsByHeader: [Int: Set<Int>] = [:]
        for edge in backEdges {
            var body: Set<Int> = [edge.to, edge.from]
            var work = edge.from == edge.to ? [] : [edge.from]
            while let node = work.popLast() {
                for predecessor in predecessors[node] where body.insert(predecessor).inserted { work.append(predecessor) }
            }
            loopsByHeader[edge.to, default: []].formUnion(body)
        }
        for (header, body) in loopsByHeader.sorted(by: { $0.key < $1.key }) {
            var exits: [(pc: Int, condition: AbstractWord)] = []
            for member in body.sorted() where instructions[blocks[member].instructionRange.upperBound - 1].byte == 0x57 {
                guard blocks[member].successors.contains(where: { !body.contains($0) }),
                      let condition = conditionByPC[blocks[member].lastPC] else { continue }
                exits.append((blocks[member].lastPC, condition))
            }
            let disassembly = graph.disassembly, clamped = facts.comparedWithConstant
            let unbounded = { (condition: AbstractWord) -> Bool in
                guard condition.taint.contains(.storage) else { return false }
                if condition.sourcesOverflowed { return true }
                let storageSources = condition.sources.filter { disassembly.instruction(atPC: Int($0))?.byte == 0x54 }
                return storageSources.isEmpty || storageSources.contains { !clamped.contains($0) }
            }
            guard !exits.isEmpty, exits.allSatisfy({ unbounded($0.condition) }) else { continue }
            let exit = exits[0]
            add(.unboundedStorageLoop, .medium, pc: exit.pc,
                "the loop at pc \(blocks[header].startPC) ends only on a value read from storage (exit at pc \(exit.pc)) with no constant bound: its gas grows with the stored data",
                related: [blocks[header].startPC])
        }
    }

    private mutating func jumps() {
        for jump in facts.invalidJumps {
            add(.invalidJumpTarget, .medium, pc: jump.pc, "the jump at pc \(jump.pc) goes to \(jump.target), which is not a JUMPDEST: executing it aborts the call")
        }
        for pc in Set(facts.unresolvedJumps).sorted() {
            add(.unresolvedJump, .info, pc: pc, "the target of the jump at pc \(pc) is not a constant the analysis could find; code reached only through it is not analysed")
        }
        if !graph.isComplete {
            add(.analysisIncomplete, .info, pc: 0, "the analysis stopped at its step budget before a fixed point: findings may be missing")
        }
    }
}
