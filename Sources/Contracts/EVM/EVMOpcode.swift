/// One row of the opcode table (Cancun): the single description of every
/// instruction that dispatch, tracing, disassembly and the bytecode audit
/// all read.
///
/// ```swift
/// let add = EVMOpcode.table[0x01]!   // ADD: 2 in, 1 out, 3 gas
/// EVMOpcode.named["SSTORE"]?.byte      // 0x55
/// ```
public struct EVMOpcode: Sendable, Hashable {
    /// What an instruction does beyond the stack, for the audit and the interpreter.
    public struct Traits: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// Ends the frame (STOP, RETURN, REVERT, INVALID, SELFDESTRUCT).
        public static let terminates = Traits(rawValue: 1 << 0)
        /// Moves the program counter (JUMP, JUMPI).
        public static let jumps = Traits(rawValue: 1 << 1)
        /// Changes persistent or transient state, or emits a log: refused in a static call.
        public static let writesState = Traits(rawValue: 1 << 2)
        /// Hands control to other code (CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2).
        public static let externalCall = Traits(rawValue: 1 << 3)
        /// Reads memory or grows it (the cost of expansion is charged).
        public static let touchesMemory = Traits(rawValue: 1 << 4)
        /// Its gas depends on its operands or on state beyond ``EVMOpcode/baseGas``.
        public static let dynamicGas = Traits(rawValue: 1 << 5)
    }

    /// The byte.
    public let byte: UInt8
    /// The mnemonic (`PUSH1`, `SSTORE`, ...).
    public let name: String
    /// Words popped.
    public let stackIn: Int
    /// Words pushed.
    public let stackOut: Int
    /// The static gas charged before the instruction runs (dynamic parts, such as memory expansion, cold access
    /// or copy costs, come on top).
    public let baseGas: UInt64
    /// Immediate bytes after the opcode (1…32 for PUSH1…PUSH32, else 0).
    public let immediateBytes: Int
    /// What it does beyond the stack.
    public let traits: Traits

    /// The 256 rows, indexed by byte; `nil` where the byte is not an instruction (it halts like INVALID).
    public static let table: [EVMOpcode?] = {
        var rows = [EVMOpcode?](repeating: nil, count: 256)
        func add(_ byte: UInt8, _ name: String, _ stackIn: Int, _ stackOut: Int, _ gas: UInt64, _ traits: Traits = [], immediate: Int = 0) {
            rows[Int(byte)] = EVMOpcode(byte: byte, name: name, stackIn: stackIn, stackOut: stackOut, baseGas: gas,
                                        immediateBytes: immediate, traits: traits)
        }
        add(0x00, "STOP", 0, 0, 0, .terminates)
        add(0x01, "ADD", 2, 1, 3); add(0x02, "MUL", 2, 1, 5); add(0x03, "SUB", 2, 1, 3)
        add(0x04, "DIV", 2, 1, 5); add(0x05, "SDIV", 2, 1, 5); add(0x06, "MOD", 2, 1, 5); add(0x07, "SMOD", 2, 1, 5)
        add(0x08, "ADDMOD", 3, 1, 8); add(0x09, "MULMOD", 3, 1, 8); add(0x0A, "EXP", 2, 1, 10, .dynamicGas)
        add(0x0B, "SIGNEXTEND", 2, 1, 5)
        add(0x10, "LT", 2, 1, 3); add(0x11, "GT", 2, 1, 3); add(0x12, "SLT", 2, 1, 3); add(0x13, "SGT", 2, 1, 3)
        add(0x14, "EQ", 2, 1, 3); add(0x15, "ISZERO", 1, 1, 3); add(0x16, "AND", 2, 1, 3); add(0x17, "OR", 2, 1, 3)
        add(0x18, "XOR", 2, 1, 3); add(0x19, "NOT", 1, 1, 3); add(0x1A, "BYTE", 2, 1, 3); add(0x1B, "SHL", 2, 1, 3)
        add(0x1C, "SHR", 2, 1, 3); add(0x1D, "SAR", 2, 1, 3)
        add(0x20, "KECCAK256", 2, 1, 30, [.touchesMemory, .dynamicGas])
        add(0x30, "ADDRESS", 0, 1, 2); add(0x31, "BALANCE", 1, 1, 0, .dynamicGas); add(0x32, "ORIGIN", 0, 1, 2)
        add(0x33, "CALLER", 0, 1, 2); add(0x34, "CALLVALUE", 0, 1, 2); add(0x35, "CALLDATALOAD", 1, 1, 3)
        add(0x36, "CALLDATASIZE", 0, 1, 2); add(0x37, "CALLDATACOPY", 3, 0, 3, [.touchesMemory, .dynamicGas])
        add(0x38, "CODESIZE", 0, 1, 2); add(0x39, "CODECOPY", 3, 0, 3, [.touchesMemory, .dynamicGas])
        add(0x3A, "GASPRICE", 0, 1, 2); add(0x3B, "EXTCODESIZE", 1, 1, 0, .dynamicGas)
        add(0x3C, "EXTCODECOPY", 4, 0, 0, [.touchesMemory, .dynamicGas]); add(0x3D, "RETURNDATASIZE", 0, 1, 2)
        add(0x3E, "RETURNDATACOPY", 3, 0, 3, [.touchesMemory, .dynamicGas]); add(0x3F, "EXTCODEHASH", 1, 1, 0, .dynamicGas)
        add(0x40, "BLOCKHASH", 1, 1, 20); add(0x41, "COINBASE", 0, 1, 2); add(0x42, "TIMESTAMP", 0, 1, 2)
        add(0x43, "NUMBER", 0, 1, 2); add(0x44, "PREVRANDAO", 0, 1, 2); add(0x45, "GASLIMIT", 0, 1, 2)
        add(0x46, "CHAINID", 0, 1, 2); add(0x47, "SELFBALANCE", 0, 1, 5); add(0x48, "BASEFEE", 0, 1, 2)
        add(0x49, "BLOBHASH", 1, 1, 3); add(0x4A, "BLOBBASEFEE", 0, 1, 2)
        add(0x50, "POP", 1, 0, 2); add(0x51, "MLOAD", 1, 1, 3, [.touchesMemory, .dynamicGas])
        add(0x52, "MSTORE", 2, 0, 3, [.touchesMemory, .dynamicGas]); add(0x53, "MSTORE8", 2, 0, 3, [.touchesMemory, .dynamicGas])
        add(0x54, "SLOAD", 1, 1, 0, .dynamicGas); add(0x55, "SSTORE", 2, 0, 0, [.writesState, .dynamicGas])
        add(0x56, "JUMP", 1, 0, 8, .jumps); add(0x57, "JUMPI", 2, 0, 10, .jumps); add(0x58, "PC", 0, 1, 2)
        add(0x59, "MSIZE", 0, 1, 2); add(0x5A, "GAS", 0, 1, 2); add(0x5B, "JUMPDEST", 0, 0, 1)
        add(0x5C, "TLOAD", 1, 1, 100); add(0x5D, "TSTORE", 2, 0, 100, .writesState)
        add(0x5E, "MCOPY", 3, 0, 3, [.touchesMemory, .dynamicGas]); add(0x5F, "PUSH0", 0, 1, 2)
        for n in 1...32 { add(UInt8(0x5F + n), "PUSH\(n)", 0, 1, 3, immediate: n) }
        for n in 1...16 { add(UInt8(0x7F + n), "DUP\(n)", n, n + 1, 3) }
        for n in 1...16 { add(UInt8(0x8F + n), "SWAP\(n)", n + 1, n + 1, 3) }
        for n in 0...4 { add(UInt8(0xA0 + n), "LOG\(n)", 2 + n, 0, 375 * UInt64(n + 1), [.writesState, .touchesMemory, .dynamicGas]) }
        add(0xF0, "CREATE", 3, 1, 32_000, [.writesState, .externalCall, .touchesMemory, .dynamicGas])
        add(0xF1, "CALL", 7, 1, 0, [.externalCall, .touchesMemory, .dynamicGas])
        add(0xF2, "CALLCODE", 7, 1, 0, [.externalCall, .touchesMemory, .dynamicGas])
        add(0xF3, "RETURN", 2, 0, 0, [.terminates, .touchesMemory, .dynamicGas])
        add(0xF4, "DELEGATECALL", 6, 1, 0, [.externalCall, .touchesMemory, .dynamicGas])
        add(0xF5, "CREATE2", 4, 1, 32_000, [.writesState, .externalCall, .touchesMemory, .dynamicGas])
        add(0xFA, "STATICCALL", 6, 1, 0, [.externalCall, .touchesMemory, .dynamicGas])
        add(0xFD, "REVERT", 2, 0, 0, [.terminates, .touchesMemory, .dynamicGas])
        add(0xFE, "INVALID", 0, 0, 0, .terminates)
        add(0xFF, "SELFDESTRUCT", 1, 0, 5_000, [.terminates, .writesState, .dynamicGas])
        return rows
    }()

    /// The rows by mnemonic.
    public static let named: [String: EVMOpcode] = Dictionary(uniqueKeysWithValues: table.compactMap { $0 }.map { ($0.name, $0) })
}
