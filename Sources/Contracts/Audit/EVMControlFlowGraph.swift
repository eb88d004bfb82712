/// A basic block: a straight run of instructions entered only at its first and left only at its last.
public struct EVMBasicBlock: Sendable, Hashable {
    /// The block's position in ``EVMControlFlowGraph/blocks`` (blocks are in code order).
    public let index: Int
    /// The pc of its first instruction.
    public let startPC: Int
    /// The pc of its last instruction.
    public let lastPC: Int
    /// Its instructions, as indices into ``EVMDisassembly/instructions``.
    public let instructionRange: Range<Int>
    /// The blocks control can pass to (fall-through and resolved jump targets), by index, ascending.
    public internal(set) var successors: [Int]
    /// Whether the analysis reached it from pc 0.
    public internal(set) var isReachable: Bool
}

/// A jump whose constant target is not a valid JUMPDEST: executing it halts the frame with an exceptional abort.
public struct EVMInvalidJump: Sendable, Hashable {
    /// The pc of the JUMP or JUMPI.
    public let pc: Int
    /// The target it would jump to.
    public let target: UInt256
}

/// The control-flow graph of bytecode, built from ``EVMOpcode/table``: basic blocks, fall-through edges and jump
/// edges whose targets an abstract interpretation of the stack resolves (constants pushed and moved around,
/// return addresses of internal functions as small sets, Vyper's selector tables read with CODECOPY).
///
/// ```swift
/// let graph = EVMControlFlowGraph(code: try Hex.decode("6004565b00"))
/// graph.blocks.count          // 2
/// graph.unresolvedJumps       // []
/// ```
/// - Note: The interpretation is bounded: each block's entry state is joined (sets of at most 64 constants, then
///   unknown; widened after 8 revisits) and the whole run stops after a budget of steps proportional to the code
///   size (``isComplete`` is then `false`). A value type, safe to share.
public struct EVMControlFlowGraph: Sendable {
    /// The instructions.
    public let disassembly: EVMDisassembly
    /// The blocks, in code order.
    public let blocks: [EVMBasicBlock]
    /// The pcs of reachable jumps whose target the interpretation could not reduce to constants.
    public let unresolvedJumps: [Int]
    /// Reachable jumps to a constant target that is not a JUMPDEST.
    public let invalidJumps: [EVMInvalidJump]
    /// `false` when the interpretation ran out of its budget before reaching a fixed point.
    public let isComplete: Bool
    let facts: AuditFacts

    /// Builds the graph of `code`.
    /// - Parameter code: Required. Any bytes (runtime code; init code is analysed as the constructor only).
    public init(code: [UInt8]) {
        self.init(disassembly: EVMDisassembly(code: code))
    }

    /// Builds the graph of already disassembled code.
    /// - Parameter disassembly: Required.
    public init(disassembly: EVMDisassembly) {
        var analysis = AuditStackAnalysis(disassembly: disassembly)
        analysis.run()
        self.disassembly = disassembly
        self.blocks = analysis.blocks
        self.unresolvedJumps = analysis.facts.unresolvedJumps
        self.invalidJumps = analysis.facts.invalidJumps
        self.isComplete = analysis.isComplete
        self.facts = analysis.facts
    }

    /// The index of the block holding the instruction at `pc`, or `nil` when `pc` is not an instruction.
    /// - Parameter pc: Required. Any integer.
    public func blockIndex(containingPC pc: Int) -> Int? {
        guard let instruction = disassembly.instructionIndex(atPC: pc) else { return nil }
        var low = 0, high = blocks.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if blocks[mid].instructionRange.upperBound <= instruction { low = mid + 1 }
            else if blocks[mid].instructionRange.lowerBound > instruction { high = mid - 1 }
            else { return mid }
        }
        return nil
    }
}

/// What the final pass of the interpretation saw, for the audit's analyses.
struct AuditFacts: Sendable {
    struct Call: Sendable {
        let pc: Int
        let byte: UInt8
        let gas: AbstractWord
        let target: AbstractWord
        let value: AbstractWord?
    }
    struct Branch: Sendable {
        let pc: Int
        let condition: AbstractWord
    }
    var calls: [Call] = []
    var branches: [Branch] = []
    /// Source pcs (SLOADs) of values compared with a constant: a length checked against a bound.
    var comparedWithConstant = Set<Int32>()
    var unresolvedJumps: [Int] = []
    var invalidJumps: [EVMInvalidJump] = []
    /// The constant slot each SLOAD or TLOAD reads, by pc, where the slot is one constant.
    var loadSlots: [Int: UInt256] = [:]
    /// SSTOREs and TSTOREs of one constant value to one constant slot: candidate reentrancy-lock writes.
    var constantStores: [(pc: Int, transient: Bool, slot: UInt256, value: UInt256)] = []
}

/// The abstract interpretation that resolves jump targets and records the facts the audit needs.
struct AuditStackAnalysis {
    let disassembly: EVMDisassembly
    var blocks: [EVMBasicBlock] = []
    var facts = AuditFacts()
    var isComplete = true
    private var blockByStartPC: [Int: Int] = [:]

    static let widenAfterVisits = 8

    init(disassembly: EVMDisassembly) {
        self.disassembly = disassembly
        splitBlocks()
    }

    private static func endsBlock(_ byte: UInt8) -> Bool {
        guard let opcode = EVMOpcode.table[Int(byte)] else { return true }
        return opcode.traits.contains(.terminates) || opcode.traits.contains(.jumps)
    }

    private mutating func splitBlocks() {
        let instructions = disassembly.instructions
        var start = 0
        for (index, instruction) in instructions.enumerated() {
            let isLast = index == instructions.count - 1
            let nextIsLeader = !isLast && instructions[index + 1].byte == 0x5B
            if isLast || nextIsLeader || Self.endsBlock(instruction.byte) {
                blockByStartPC[instructions[start].pc] = blocks.count
                blocks.append(EVMBasicBlock(index: blocks.count, startPC: instructions[start].pc, lastPC: instruction.pc,
                                            instructionRange: start..<(index + 1), successors: [], isReachable: false))
                start = index + 1
            }
        }
    }

    /// Runs the interpretation to a fixed point (or the budget), then once more over every reached block to
    /// record edges and facts.
    mutating func run() {
        guard !blocks.isEmpty else { return }
        var entry = [AbstractState?](repeating: nil, count: blocks.count)
        var visits = [Int](repeating: 0, count: blocks.count)
        var queued = [Bool](repeating: false, count: blocks.count)
        entry[0] = AbstractState(stack: [], memory: AbstractMemory(fresh: true))
        var queue: [Int] = [0]
        var head = 0
        queued[0] = true
        let budget = max(200_000, disassembly.instructions.count * 400)
        var steps = 0
        while head < queue.count {
            let block = queue[head]
            head += 1
            queued[block] = false
            steps += blocks[block].instructionRange.count
            if steps > budget {
                isComplete = false
                break
            }
            var state = entry[block]!
            let successors = execute(block: block, state: &state, record: false)
            for successor in successors {
                if let old = entry[successor] {
                    let joined = old.joined(state, widen: visits[successor] >= Self.widenAfterVisits)
                    guard joined != old else { continue }
                    entry[successor] = joined
                } else {
                    entry[successor] = state
                }
                visits[successor] += 1
                if !queued[successor] {
                    queued[successor] = true
                    queue.append(successor)
                }
            }
            if head > 4096 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
        }
        for block in blocks.indices {
            guard var state = entry[block] else { continue }
            blocks[block].isReachable = true
            blocks[block].successors = Array(Set(execute(block: block, state: &state, record: true))).sorted()
        }
    }

    /// Interprets one block from `state`; returns its successors (block indices).
    private mutating func execute(block index: Int, state: inout AbstractState, record: Bool) -> [Int] {
        let block = blocks[index]
        var jumpTarget: AbstractWord?
        for instructionIndex in block.instructionRange {
            let instruction = disassembly.instructions[instructionIndex]
            jumpTarget = step(instruction, &state, record: record)
        }
        let last = disassembly.instructions[block.instructionRange.upperBound - 1]
        var successors: [Int] = []
        let fallsThrough: Bool
        switch last.byte {
        case 0x56: fallsThrough = false
        case 0x57: fallsThrough = true
        default: fallsThrough = !Self.endsBlock(last.byte)
        }
        if fallsThrough, index + 1 < blocks.count { successors.append(index + 1) }
        if last.byte == 0x56 || last.byte == 0x57, let target = jumpTarget {
            if let constants = target.constants {
                for value in constants {
                    if let pc = value.uint64, pc <= UInt64(Int32.max), disassembly.jumpDestinations.contains(Int(pc)),
                       let destination = blockByStartPC[Int(pc)] {
                        successors.append(destination)
                    } else if record {
                        facts.invalidJumps.append(EVMInvalidJump(pc: last.pc, target: value))
                    }
                }
            } else if record {
                facts.unresolvedJumps.append(last.pc)
            }
        }
        return successors
    }

    /// Interprets one instruction; returns the target word of a JUMP or JUMPI.
    private mutating func step(_ instruction: EVMInstruction, _ state: inout AbstractState, record: Bool) -> AbstractWord? {
        guard let opcode = instruction.opcode else { return nil }
        let byte = instruction.byte
        func pop() -> AbstractWord { state.stack.popLast() ?? .unknown }
        func push(_ word: AbstractWord) {
            state.stack.append(word)
            if state.stack.count > AbstractState.maxTrackedDepth { state.stack.removeFirst() }
        }
        switch byte {
        case 0x5F...0x7F:
            push(.constant(instruction.pushValue ?? .zero))
        case 0x80...0x8F:
            let depth = Int(byte - 0x7F)
            push(state.stack.count >= depth ? state.stack[state.stack.count - depth] : .unknown)
        case 0x90...0x9F:
            let depth = Int(byte - 0x8F)
            if state.stack.count < depth + 1 {
                state.stack.insert(contentsOf: [AbstractWord](repeating: .unknown, count: depth + 1 - state.stack.count), at: 0)
            }
            state.stack.swapAt(state.stack.count - 1, state.stack.count - 1 - depth)
        case 0x56:
            return pop()
        case 0x57:
            let target = pop()
            let condition = pop()
            if record { facts.branches.append(AuditFacts.Branch(pc: instruction.pc, condition: condition)) }
            return target
        case 0x32: push(.source(.origin, pc: instruction.pc))
        case 0x33: push(.tainted(.caller))
        case 0x35:
            _ = pop()
            push(.tainted(.calldata))
        case 0x36: push(.tainted(.calldata))
        case 0x3D: push(.tainted(.returnData))
        case 0x42: push(.source(.timestamp, pc: instruction.pc))
        case 0x43: push(.source(.blockNumber, pc: instruction.pc))
        case 0x54, 0x5C:
            let slot = pop()
            if record, let constant = slot.single { facts.loadSlots[instruction.pc] = constant }
            push(.source(byte == 0x54 ? .storage : .transient, pc: instruction.pc))
        case 0x55, 0x5D:
            let slot = pop(), value = pop()
            if record, let slot = slot.single, let value = value.single {
                facts.constantStores.append((instruction.pc, byte == 0x5D, slot, value))
            }
        case 0x51:
            let offset = pop()
            push(state.memory.read(offset: offset))
        case 0x52, 0x53:
            let offset = pop()
            var value = pop()
            if byte == 0x53 { value.constants = value.constants.map { Array(Set($0.map { AuditWordMath.truncate($0, bytes: 1) })).sorted() } }
            if let start = offset.singleInt {
                state.memory.write(offset: start, size: byte == 0x52 ? 32 : 1, value: value)
            } else {
                state.memory.forgetAll(adding: value)
            }
        case 0x37, 0x3E:
            let destination = pop(), _ = pop(), length = pop()
            state.memory.writeRange(offset: destination, length: length, value: .tainted(byte == 0x37 ? .calldata : .returnData))
        case 0x39:
            let destination = pop(), source = pop(), length = pop()
            if let start = destination.singleInt, let count = length.singleInt, count > 0, count <= 32,
               let offsets = source.constants {
                let values = offsets.map { offset -> UInt256 in
                    let from = Int(clamping: offset.uint64 ?? UInt64.max)
                    var bytes = [UInt8](repeating: 0, count: count)
                    for i in 0..<count where from < disassembly.code.count - i { bytes[i] = disassembly.code[from + i] }
                    return UInt256(bigEndian: bytes)
                }
                state.memory.write(offset: start, size: count, value: AbstractWord(constants: Array(Set(values)).sorted(), taint: [], sources: [], sourcesOverflowed: false))
            } else {
                state.memory.writeRange(offset: destination, length: length, value: .unknown)
            }
        case 0x3C:
            _ = pop()
            let destination = pop(), _ = pop(), length = pop()
            state.memory.writeRange(offset: destination, length: length, value: .unknown)
        case 0x5E:
            let destination = pop(), _ = pop(), length = pop()
            state.memory.writeRange(offset: destination, length: length, value: state.memory.read(offset: .unknown))
        case 0xF1, 0xF2, 0xF4, 0xFA:
            let gas = pop(), target = pop()
            let value: AbstractWord? = (byte == 0xF1 || byte == 0xF2) ? pop() : nil
            _ = pop(); _ = pop()
            let returnOffset = pop(), returnLength = pop()
            if record { facts.calls.append(AuditFacts.Call(pc: instruction.pc, byte: byte, gas: gas, target: target, value: value)) }
            state.memory.writeRange(offset: returnOffset, length: returnLength, value: .tainted(.returnData))
            push(.source(.callResult, pc: instruction.pc))
        default:
            var arguments: [AbstractWord] = []
            arguments.reserveCapacity(opcode.stackIn)
            for _ in 0..<opcode.stackIn { arguments.append(pop()) }
            if byte < 0x20 {
                if record, (0x10...0x14).contains(byte), arguments.count == 2 {
                    for (a, b) in [(arguments[0], arguments[1]), (arguments[1], arguments[0])]
                    where a.single != nil && b.taint.contains(.storage) {
                        facts.comparedWithConstant.formUnion(b.sources)
                    }
                }
                push(Self.evaluate(byte, arguments))
            } else if byte == 0xF0 || byte == 0xF5 {
                state.memory.forgetAll(adding: .unknown)
                push(.tainted(.returnData))
            } else {
                for _ in 0..<opcode.stackOut { push(.unknown) }
            }
        }
        return nil
    }

    /// An arithmetic, comparison or bitwise instruction over abstract words.
    static func evaluate(_ byte: UInt8, _ arguments: [AbstractWord]) -> AbstractWord {
        var result = arguments.dropFirst().reduce(arguments.first ?? .unknown) { $0.mergingProvenance($1) }.withoutConstants
        let sets = arguments.map(\.constants)
        if sets.allSatisfy({ $0 != nil }) {
            let product = sets.reduce(1) { $0 * $1!.count }
            if product <= 256 {
                var values = Set<UInt256>()
                var folded = true
                func combine(_ prefix: [UInt256]) {
                    guard folded else { return }
                    if prefix.count == sets.count {
                        if let value = AuditWordMath.fold(byte, prefix) { values.insert(value) } else { folded = false }
                        return
                    }
                    for value in sets[prefix.count]! { combine(prefix + [value]) }
                }
                combine([])
                if folded && values.count <= AbstractWord.maxConstants { result.constants = values.sorted() }
            }
            return result
        }
        // A word reduced modulo, or masked by, a small constant takes few values: selector buckets.
        if arguments.count == 2 {
            if byte == 0x06, let modulus = arguments[1].single?.uint64, modulus >= 1, modulus <= UInt64(AbstractWord.maxConstants) {
                result.constants = (0..<modulus).map { UInt256($0) }
            } else if byte == 0x16 {
                for (mask, other) in [(arguments[0], arguments[1]), (arguments[1], arguments[0])] where other.constants == nil {
                    if let m = mask.single?.uint64, m < UInt64(AbstractWord.maxConstants) {
                        result.constants = (0...m).filter { $0 & m == $0 }.map { UInt256($0) }
                    }
                }
            }
        }
        return result
    }
}
