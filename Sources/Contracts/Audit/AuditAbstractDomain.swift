// The abstract values of the audit's stack interpretation: small sets of constants (enough to resolve jump
// targets, return addresses and Vyper's selector tables), the kinds of outside input a value derives from, and
// the pcs of the instructions that produced those inputs.

/// Where a value's bits may come from.
struct AuditTaint: OptionSet, Hashable, Sendable {
    let rawValue: UInt16
    static let calldata = AuditTaint(rawValue: 1 << 0)
    static let caller = AuditTaint(rawValue: 1 << 1)
    static let origin = AuditTaint(rawValue: 1 << 2)
    static let timestamp = AuditTaint(rawValue: 1 << 3)
    static let blockNumber = AuditTaint(rawValue: 1 << 4)
    static let storage = AuditTaint(rawValue: 1 << 5)
    static let callResult = AuditTaint(rawValue: 1 << 6)
    static let returnData = AuditTaint(rawValue: 1 << 7)
    static let transient = AuditTaint(rawValue: 1 << 8)
}

/// An abstract 256-bit word.
struct AbstractWord: Hashable, Sendable {
    /// At most ``AbstractWord/maxConstants`` possible values, sorted; `nil` when unknown.
    var constants: [UInt256]?
    var taint: AuditTaint
    /// The pcs of the source instructions (calls, ORIGIN, TIMESTAMP, NUMBER, SLOAD) it derives from, sorted, at
    /// most ``AbstractWord/maxSources``; ``sourcesOverflowed`` when more were dropped.
    var sources: [Int32]
    var sourcesOverflowed: Bool

    static let maxConstants = 64
    static let maxSources = 8
    static let unknown = AbstractWord(constants: nil, taint: [], sources: [], sourcesOverflowed: false)

    static func constant(_ value: UInt256) -> AbstractWord {
        AbstractWord(constants: [value], taint: [], sources: [], sourcesOverflowed: false)
    }

    static func source(_ taint: AuditTaint, pc: Int) -> AbstractWord {
        AbstractWord(constants: nil, taint: taint, sources: [Int32(pc)], sourcesOverflowed: false)
    }

    static func tainted(_ taint: AuditTaint) -> AbstractWord {
        AbstractWord(constants: nil, taint: taint, sources: [], sourcesOverflowed: false)
    }

    var single: UInt256? {
        guard let constants, constants.count == 1 else { return nil }
        return constants[0]
    }

    var singleInt: Int? {
        guard let value = single?.uint64, value <= UInt64(Int32.max) else { return nil }
        return Int(value)
    }

    /// The taint and sources of both, with no constants.
    func mergingProvenance(_ other: AbstractWord) -> AbstractWord {
        var result = AbstractWord(constants: nil, taint: taint.union(other.taint), sources: sources,
                                  sourcesOverflowed: sourcesOverflowed || other.sourcesOverflowed)
        result.addSources(other.sources)
        return result
    }

    mutating func addSources(_ more: [Int32]) {
        guard !more.isEmpty else { return }
        var merged = sources
        for pc in more where !merged.contains(pc) { merged.append(pc) }
        merged.sort()
        if merged.count > Self.maxSources {
            merged.removeLast(merged.count - Self.maxSources)
            sourcesOverflowed = true
        }
        sources = merged
    }

    /// The least upper bound; with `widen`, a constant set that would grow becomes unknown.
    func joined(_ other: AbstractWord, widen: Bool) -> AbstractWord {
        var result = mergingProvenance(other)
        if let a = constants, let b = other.constants {
            if a == b {
                result.constants = a
            } else if !widen {
                let union = Array(Set(a).union(b)).sorted()
                result.constants = union.count <= Self.maxConstants ? union : nil
            }
        }
        return result
    }
}

/// A stretch of memory written at a known offset with a known length (at most 32 bytes).
struct MemoryCell: Hashable, Sendable {
    var offset: Int
    var size: Int
    var value: AbstractWord
    var end: Int { offset + size }
}

/// Memory as far as constant offsets tell: cells at known offsets, whether every other byte is still zero (the
/// frame's fresh memory), and the provenance of whatever was written where the analysis lost track.
struct AbstractMemory: Hashable, Sendable {
    var cells: [MemoryCell] = []
    var zeroElsewhere: Bool
    var spill = AbstractWord.unknown

    static let maxCells = 96
    static let maxTrackedOffset = 1 << 20

    init(fresh: Bool) { zeroElsewhere = fresh }

    private mutating func spillCell(_ cell: MemoryCell) {
        spill = spill.mergingProvenance(cell.value)
    }

    mutating func forgetAll(adding value: AbstractWord) {
        for cell in cells { spillCell(cell) }
        cells.removeAll()
        zeroElsewhere = false
        spill = spill.mergingProvenance(value)
    }

    mutating func write(offset: Int, size: Int, value: AbstractWord) {
        guard size > 0 else { return }
        guard offset >= 0, offset <= Self.maxTrackedOffset, size <= 32 else {
            forgetAll(adding: value)
            return
        }
        let end = offset + size
        var kept: [MemoryCell] = []
        kept.reserveCapacity(cells.count + 1)
        var inserted = false
        for cell in cells {
            if cell.end <= offset || cell.offset >= end {
                if !inserted && cell.offset >= end {
                    kept.append(MemoryCell(offset: offset, size: size, value: value))
                    inserted = true
                }
                kept.append(cell)
            } else {
                // Overwritten, fully or in part: the part left over is no longer known.
                if cell.offset < offset || cell.end > end { zeroElsewhere = false }
                spillCell(cell)
            }
        }
        if !inserted { kept.append(MemoryCell(offset: offset, size: size, value: value)) }
        cells = kept
        if cells.count > Self.maxCells {
            spillCell(cells.removeFirst())
            zeroElsewhere = false
        }
    }

    /// Writes `length` bytes at `offset` of a value known only by its provenance (a copy).
    mutating func writeRange(offset: AbstractWord, length: AbstractWord, value: AbstractWord) {
        guard let start = offset.singleInt, let count = length.singleInt else {
            if length.single?.isZero == true { return }
            forgetAll(adding: value)
            return
        }
        guard count > 0 else { return }
        guard count <= 32 * 32 else {
            forgetAll(adding: value)
            return
        }
        var position = start
        while position < start + count {
            let size = min(32, start + count - position)
            write(offset: position, size: size, value: AbstractWord(constants: nil, taint: value.taint, sources: value.sources,
                                                                    sourcesOverflowed: value.sourcesOverflowed))
            position += size
        }
    }

    /// The word at `offset`.
    func read(offset: AbstractWord) -> AbstractWord {
        guard let start = offset.singleInt, start <= Self.maxTrackedOffset else {
            return cells.reduce(spill) { $0.mergingProvenance($1.value) }.withoutConstants
        }
        let end = start + 32
        let overlapping = cells.filter { $0.end > start && $0.offset < end }
        if overlapping.count == 1, overlapping[0].offset == start, overlapping[0].size == 32 { return overlapping[0].value }
        var provenance = AbstractWord.unknown
        for cell in overlapping { provenance = provenance.mergingProvenance(cell.value) }
        let coveredBytes = overlapping.reduce(0) { $0 + min($1.end, end) - max($1.offset, start) }
        if !zeroElsewhere && coveredBytes < 32 { provenance = provenance.mergingProvenance(spill) }
        // Compose constants when every byte is known: cells inside the word, zeros around them.
        guard zeroElsewhere, overlapping.allSatisfy({ $0.offset >= start && $0.end <= end && $0.value.constants != nil }) else {
            return provenance
        }
        var values: [UInt256] = [.zero]
        for cell in overlapping {
            let shift = (end - cell.end) * 8
            var next: [UInt256] = []
            for base in values {
                for part in cell.value.constants! {
                    next.append(AuditWordMath.or(base, AuditWordMath.shl(AuditWordMath.truncate(part, bytes: cell.size), by: shift)))
                    if next.count > AbstractWord.maxConstants { return provenance }
                }
            }
            values = next
        }
        provenance.constants = Array(Set(values)).sorted()
        return provenance
    }

    func joined(_ other: AbstractMemory, widen: Bool) -> AbstractMemory {
        var result = AbstractMemory(fresh: zeroElsewhere && other.zeroElsewhere)
        result.spill = spill.mergingProvenance(other.spill)
        var index = 0
        for cell in cells {
            while index < other.cells.count && other.cells[index].offset < cell.offset {
                result.spill = result.spill.mergingProvenance(other.cells[index].value)
                result.zeroElsewhere = false
                index += 1
            }
            if index < other.cells.count, other.cells[index].offset == cell.offset, other.cells[index].size == cell.size {
                result.cells.append(MemoryCell(offset: cell.offset, size: cell.size, value: cell.value.joined(other.cells[index].value, widen: widen)))
                index += 1
            } else {
                result.spill = result.spill.mergingProvenance(cell.value)
                result.zeroElsewhere = false
            }
        }
        while index < other.cells.count {
            result.spill = result.spill.mergingProvenance(other.cells[index].value)
            result.zeroElsewhere = false
            index += 1
        }
        return result
    }
}

extension AbstractWord {
    var withoutConstants: AbstractWord {
        var copy = self
        copy.constants = nil
        return copy
    }
}

/// The machine state at a block boundary.
struct AbstractState: Hashable, Sendable {
    /// The stack, top last; words below its bottom are unknown.
    var stack: [AbstractWord]
    var memory: AbstractMemory

    /// Compilers reach at most 17 deep (DUP16, SWAP16) and keep return addresses a few dozen deep; deeper
    /// words are dropped (read as unknown), which bounds the cost of a join.
    static let maxTrackedDepth = 128

    func joined(_ other: AbstractState, widen: Bool) -> AbstractState {
        let depth = min(stack.count, other.stack.count)
        var merged: [AbstractWord] = []
        merged.reserveCapacity(depth)
        let a = stack.suffix(depth), b = other.stack.suffix(depth)
        for (x, y) in zip(a, b) { merged.append(x.joined(y, widen: widen)) }
        return AbstractState(stack: merged, memory: memory.joined(other.memory, widen: widen))
    }
}

/// The few 256-bit operations the interpretation folds, on the foundation's four limbs (the interpreter's
/// arithmetic is its own; this keeps the audit independent of it).
enum AuditWordMath {
    static func limbs(_ v: UInt256) -> [UInt64] { [v.w0, v.w1, v.w2, v.w3] }
    static func word(_ l: [UInt64]) -> UInt256 { UInt256(w0: l[0], w1: l[1], w2: l[2], w3: l[3]) }

    static func add(_ a: UInt256, _ b: UInt256) -> UInt256 {
        let x = limbs(a), y = limbs(b)
        var out = [UInt64](repeating: 0, count: 4)
        var carry: UInt64 = 0
        for i in 0..<4 {
            let (s1, o1) = x[i].addingReportingOverflow(y[i])
            let (s2, o2) = s1.addingReportingOverflow(carry)
            out[i] = s2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return word(out)
    }

    static func not(_ a: UInt256) -> UInt256 { UInt256(w0: ~a.w0, w1: ~a.w1, w2: ~a.w2, w3: ~a.w3) }
    static func sub(_ a: UInt256, _ b: UInt256) -> UInt256 { add(a, add(not(b), .one)) }
    static func and(_ a: UInt256, _ b: UInt256) -> UInt256 { UInt256(w0: a.w0 & b.w0, w1: a.w1 & b.w1, w2: a.w2 & b.w2, w3: a.w3 & b.w3) }
    static func or(_ a: UInt256, _ b: UInt256) -> UInt256 { UInt256(w0: a.w0 | b.w0, w1: a.w1 | b.w1, w2: a.w2 | b.w2, w3: a.w3 | b.w3) }
    static func xor(_ a: UInt256, _ b: UInt256) -> UInt256 { UInt256(w0: a.w0 ^ b.w0, w1: a.w1 ^ b.w1, w2: a.w2 ^ b.w2, w3: a.w3 ^ b.w3) }

    static func mul(_ a: UInt256, _ b: UInt256) -> UInt256 {
        let x = limbs(a), y = limbs(b)
        var out = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 {
            var carry: UInt64 = 0
            for j in 0..<(4 - i) {
                let (high, low) = x[i].multipliedFullWidth(by: y[j])
                let (s1, o1) = out[i + j].addingReportingOverflow(low)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                out[i + j] = s2
                carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
        }
        return word(out)
    }

    static func shl(_ a: UInt256, by shift: Int) -> UInt256 {
        guard shift < 256 else { return .zero }
        guard shift > 0 else { return a }
        let x = limbs(a)
        var out = [UInt64](repeating: 0, count: 4)
        let limbShift = shift / 64, bitShift = UInt64(shift % 64)
        for i in stride(from: 3, through: limbShift, by: -1) {
            var v = x[i - limbShift] << bitShift
            if bitShift > 0 && i - limbShift - 1 >= 0 { v |= x[i - limbShift - 1] >> (64 - bitShift) }
            out[i] = v
        }
        return word(out)
    }

    static func shr(_ a: UInt256, by shift: Int) -> UInt256 {
        guard shift < 256 else { return .zero }
        guard shift > 0 else { return a }
        let x = limbs(a)
        var out = [UInt64](repeating: 0, count: 4)
        let limbShift = shift / 64, bitShift = UInt64(shift % 64)
        for i in 0..<(4 - limbShift) {
            var v = x[i + limbShift] >> bitShift
            if bitShift > 0 && i + limbShift + 1 < 4 { v |= x[i + limbShift + 1] << (64 - bitShift) }
            out[i] = v
        }
        return word(out)
    }

    /// The low `bytes` bytes.
    static func truncate(_ a: UInt256, bytes: Int) -> UInt256 {
        guard bytes < 32 else { return a }
        return and(a, sub(shl(.one, by: bytes * 8), .one))
    }

    static func bool(_ flag: Bool) -> UInt256 { flag ? .one : .zero }

    /// Folds a pure instruction over constants, or `nil` when the audit does not fold it.
    static func fold(_ byte: UInt8, _ args: [UInt256]) -> UInt256? {
        func small(_ v: UInt256) -> Int? { v.uint64.flatMap { $0 <= 1024 ? Int($0) : nil } }
        switch byte {
        case 0x01: return add(args[0], args[1])
        case 0x02: return mul(args[0], args[1])
        case 0x03: return sub(args[0], args[1])
        case 0x04:
            guard let a = args[0].uint64, let b = args[1].uint64 else { return nil }
            return UInt256(b == 0 ? 0 : a / b)
        case 0x06:
            guard let a = args[0].uint64, let b = args[1].uint64 else { return nil }
            return UInt256(b == 0 ? 0 : a % b)
        case 0x10: return bool(args[0] < args[1])
        case 0x11: return bool(args[1] < args[0])
        case 0x14: return bool(args[0] == args[1])
        case 0x15: return bool(args[0].isZero)
        case 0x16: return and(args[0], args[1])
        case 0x17: return or(args[0], args[1])
        case 0x18: return xor(args[0], args[1])
        case 0x19: return not(args[0])
        case 0x1B: return small(args[0]).map { shl(args[1], by: $0) } ?? .zero
        case 0x1C: return small(args[0]).map { shr(args[1], by: $0) } ?? .zero
        default: return nil
        }
    }
}
