/// One instruction of disassembled bytecode, read through ``EVMOpcode/table``.
///
/// ```swift
/// let listing = EVMDisassembly(code: [0x60, 0x01, 0x56])
/// listing.instructions[0].name        // "PUSH1"
/// listing.instructions[0].pushValue   // 1
/// ```
public struct EVMInstruction: Sendable, Hashable {
    /// The byte offset of the opcode in the code.
    public let pc: Int
    /// The opcode byte.
    public let byte: UInt8
    /// The immediate bytes of a PUSH as they appear in the code (fewer than the PUSH's width when the code ends
    /// inside them; the EVM reads the missing bytes as zeros).
    public let immediate: [UInt8]

    /// The opcode table's row, or `nil` for a byte that is not an instruction (it halts like INVALID).
    public var opcode: EVMOpcode? { EVMOpcode.table[Int(byte)] }

    /// The mnemonic, or `UNDEFINED(0x..)` for a byte that is not an instruction.
    public var name: String {
        if let opcode { return opcode.name }
        return "UNDEFINED(0x" + String(byte, radix: 16) + ")"
    }

    /// The word a PUSH0…PUSH32 pushes (missing trailing bytes read as zeros); `nil` for other instructions.
    public var pushValue: UInt256? {
        guard let opcode, opcode.byte == 0x5F || opcode.immediateBytes > 0 else { return nil }
        var bytes = immediate
        if bytes.count < opcode.immediateBytes { bytes += [UInt8](repeating: 0, count: opcode.immediateBytes - bytes.count) }
        return UInt256(bigEndian: bytes)
    }

    /// The pc of the next instruction.
    public var nextPC: Int { pc + 1 + (opcode?.immediateBytes ?? 0) }
}

/// Bytecode split into instructions, with the valid jump destinations (JUMPDEST bytes that are not PUSH data),
/// exactly as the EVM reads it.
///
/// ```swift
/// let listing = EVMDisassembly(code: try Hex.decode("6003565b00"))
/// listing.jumpDestinations.contains(3)   // true
/// print(listing.text)                    // "0000 PUSH1 0x03\n0002 JUMP\n..."
/// ```
/// - Note: Linear in the code size; a value type, safe to share.
public struct EVMDisassembly: Sendable {
    /// The code.
    public let code: [UInt8]
    /// Every instruction, in code order.
    public let instructions: [EVMInstruction]
    /// The pcs of the valid jump destinations.
    public let jumpDestinations: Set<Int>
    /// For each code byte, the index in ``instructions`` of the instruction starting there, or −1 (PUSH data).
    private let indexByPC: [Int32]

    /// Disassembles `code`.
    /// - Parameter code: Required. Any bytes (an empty array gives no instructions).
    public init(code: [UInt8]) {
        self.code = code
        var instructions: [EVMInstruction] = []
        instructions.reserveCapacity(code.count)
        var indexByPC = [Int32](repeating: -1, count: code.count)
        var destinations = Set<Int>()
        var pc = 0
        while pc < code.count {
            let byte = code[pc]
            let width = EVMOpcode.table[Int(byte)]?.immediateBytes ?? 0
            let end = min(code.count, pc + 1 + width)
            indexByPC[pc] = Int32(instructions.count)
            instructions.append(EVMInstruction(pc: pc, byte: byte, immediate: width > 0 ? Array(code[(pc + 1)..<end]) : []))
            if byte == 0x5B { destinations.insert(pc) }
            pc += 1 + width
        }
        self.instructions = instructions
        self.jumpDestinations = destinations
        self.indexByPC = indexByPC
    }

    /// The index in ``instructions`` of the instruction at `pc`, or `nil` when `pc` is PUSH data or past the end.
    /// - Parameter pc: Required. Any integer.
    public func instructionIndex(atPC pc: Int) -> Int? {
        guard pc >= 0, pc < indexByPC.count, indexByPC[pc] >= 0 else { return nil }
        return Int(indexByPC[pc])
    }

    /// The instruction at `pc`, or `nil` when `pc` is PUSH data or past the end.
    /// - Parameter pc: Required. Any integer.
    public func instruction(atPC pc: Int) -> EVMInstruction? {
        instructionIndex(atPC: pc).map { instructions[$0] }
    }

    /// One line per instruction: the pc in hex, the mnemonic and a PUSH's immediate.
    public var text: String {
        var lines: [String] = []
        lines.reserveCapacity(instructions.count)
        for instruction in instructions {
            let pc = String(instruction.pc, radix: 16)
            var line = String(repeating: "0", count: max(0, 4 - pc.count)) + pc + " " + instruction.name
            if let value = instruction.pushValue, instruction.byte != 0x5F { line += " " + value.description }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
