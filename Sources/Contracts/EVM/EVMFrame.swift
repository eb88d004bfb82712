import LedgerCrypto
#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif

extension UInt256 {
    /// A Keccak-256 digest read as a big-endian word.
    @inline(__always)
    init(digest: Digest) {
        self.init(w0: digest.bigEndianWord(3), w1: digest.bigEndianWord(2), w2: digest.bigEndianWord(1), w3: digest.bigEndianWord(0))
    }
}

/// How a frame ended.
enum EVMFrameStatus: Equatable {
    case success
    case revert
    case halt(String)
}

/// A frame's end as the interpreter loop reports it.
struct EVMFrameEnd {
    var status: EVMFrameStatus
    var output: [UInt8]
}

/// A message call or creation an instruction asks for; the driver runs it as a new frame.
struct EVMChildRequest {
    enum Kind { case call, callCode, delegateCall, staticCall, create, create2 }
    var kind: Kind
    var gas: Int64
    var target: EVMAddress
    var value: UInt256
    var input: [UInt8]
    var returnOffset: Int
    var returnSize: Int
    var salt: UInt256
}

/// What the interpreter loop hands back to the driver.
enum EVMFrameOutcome {
    case finished(EVMFrameEnd)
    case child(EVMChildRequest)
}

/// One execution frame: code, stack, memory, gas and the call's context. Kept on the driver's explicit frame
/// stack, so nested calls never recurse on the host's stack.
final class EVMFrame {
    enum Kind { case call, create(EVMAddress) }

    let code: EVMCode
    let stack: UnsafeMutablePointer<UInt256>
    @exclusivity(unchecked) var sp = 0
    @exclusivity(unchecked) var pc = 0
    @exclusivity(unchecked) var gas: Int64
    /// Memory: `memorySize` bytes (a multiple of 32) at `memory`, zero-filled as it grows (calloc).
    @exclusivity(unchecked) private(set) var memory: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private(set) var memorySize = 0
    @exclusivity(unchecked) private var memoryCapacity = 0
    /// The account whose storage and balance the code acts on.
    let address: EVMAddress
    let caller: EVMAddress
    let value: UInt256
    let input: [UInt8]
    let isStatic: Bool
    let depth: Int
    let kind: Kind
    let snapshot: EVMWorld.Snapshot
    @exclusivity(unchecked) var returnData: [UInt8] = []
    /// Where the pending child call's output goes in this frame's memory.
    var pendingReturnOffset = 0
    var pendingReturnSize = 0

    init(code: EVMCode, stack: UnsafeMutablePointer<UInt256>, gas: Int64, address: EVMAddress, caller: EVMAddress,
         value: UInt256, input: [UInt8], isStatic: Bool, depth: Int, kind: Kind, snapshot: EVMWorld.Snapshot) {
        self.code = code
        self.stack = stack
        self.gas = gas
        self.address = address
        self.caller = caller
        self.value = value
        self.input = input
        self.isStatic = isStatic
        self.depth = depth
        self.kind = kind
        self.snapshot = snapshot
        self.memory = calloc(1, 1)!.assumingMemoryBound(to: UInt8.self)
    }

    deinit { free(memory) }

    @inline(__always)
    static func memoryCost(words: Int) -> Int64 { Int64(3 * words + words * words / 512) }

    /// Grows memory to cover `[offset, offset + size)`, charging the expansion; `false` when gas runs out or the
    /// range cannot be addressed. A zero size never expands.
    @inline(__always)
    func expandMemory(offset: UInt256, size: UInt256, gas: inout Int64) -> Bool {
        if size.isZero { return true }
        guard let o = offset.uint64, let s = size.uint64, o <= 0xFFFF_FFFF, s <= 0xFFFF_FFFF else { return false }
        return expandMemory(end: Int(o + s), gas: &gas)
    }

    @inline(__always)
    func expandMemory(end: Int, gas: inout Int64) -> Bool {
        if end <= memorySize { return true }
        return grow(end: end, gas: &gas)
    }

    @inline(never)
    func grow(end: Int, gas: inout Int64) -> Bool {
        let newWords = (end + 31) / 32
        let oldWords = memorySize / 32
        gas -= Self.memoryCost(words: newWords) - Self.memoryCost(words: oldWords)
        if gas < 0 { return false }
        let newSize = newWords * 32
        if newSize > memoryCapacity {
            let capacity = max(newSize, memoryCapacity * 2)
            guard let fresh = calloc(capacity, 1)?.assumingMemoryBound(to: UInt8.self) else { return false }
            if memorySize > 0 { UnsafeMutableRawPointer(fresh).copyMemory(from: memory, byteCount: memorySize) }
            free(memory)
            memory = fresh
            memoryCapacity = capacity
        }
        memorySize = newSize
        return true
    }

    /// Copies `size` bytes of `source` from `sourceOffset` (zeros past its end) to memory at `offset`.
    /// Memory must already cover the destination.
    func copyToMemory(_ source: UnsafeRawBufferPointer, sourceOffset: UInt256, offset: Int, size: Int) {
        if size == 0 { return }
        let dest = UnsafeMutableRawPointer(memory + offset)
        var available = 0
        var start = 0
        if let so = sourceOffset.uint64, so < UInt64(source.count) {
            start = Int(so)
            available = min(size, source.count - start)
        }
        if available > 0 { dest.copyMemory(from: source.baseAddress! + start, byteCount: available) }
        if available < size { memset(dest + available, 0, size - available) }
    }

    /// Writes `bytes` to memory at `offset` (memory must already cover it).
    func writeMemory(_ bytes: [UInt8], at offset: Int, count: Int) {
        if count == 0 { return }
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(memory + offset).copyMemory(from: $0.baseAddress!, byteCount: count) }
    }

    /// The memory range as bytes (empty for a zero size). Memory must already cover it.
    func memorySlice(offset: UInt256, size: UInt256) -> [UInt8] {
        guard let s = size.uint64, s > 0 else { return [] }
        let o = Int(offset.uint64!), n = Int(s)
        let source = UnsafeRawPointer(memory + o)
        return [UInt8](unsafeUninitializedCapacity: n) { buffer, count in
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source, byteCount: n)
            count = n
        }
    }
}

/// The opcode table flattened for dispatch: minimum stack, maximum stack before the instruction, base gas and
/// flags, read from ``EVMOpcode/table`` (the only table).
struct EVMDispatchEntry {
    var minStack: Int32
    var maxStack: Int32
    var gas: Int32
    var defined: Bool
    var writesState: Bool
}

enum EVMDispatch {
    nonisolated(unsafe) static let entries: UnsafeMutablePointer<EVMDispatchEntry> = {
        let p = UnsafeMutablePointer<EVMDispatchEntry>.allocate(capacity: 256)
        for byte in 0..<256 {
            if let op = EVMOpcode.table[byte] {
                p[byte] = EVMDispatchEntry(minStack: Int32(op.stackIn), maxStack: Int32(1024 - (op.stackOut - op.stackIn)),
                                           gas: Int32(op.baseGas), defined: true, writesState: op.traits.contains(.writesState))
            } else {
                p[byte] = EVMDispatchEntry(minStack: 0, maxStack: 1024, gas: 0, defined: false, writesState: false)
            }
        }
        return p
    }()
}
