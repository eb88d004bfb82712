// The EVM's arithmetic on ``UInt256``: every operation wraps modulo 2²⁵⁶ and
// never allocates; division by zero gives zero, as the EVM defines it.

extension UInt256 {
    /// Wrapping addition.
    @inlinable @inline(__always)
    public static func &+ (a: UInt256, b: UInt256) -> UInt256 {
        let (r0, c0) = a.w0.addingReportingOverflow(b.w0)
        let (t1, c1a) = a.w1.addingReportingOverflow(b.w1)
        let (r1, c1b) = t1.addingReportingOverflow(c0 ? 1 : 0)
        let (t2, c2a) = a.w2.addingReportingOverflow(b.w2)
        let (r2, c2b) = t2.addingReportingOverflow((c1a || c1b) ? 1 : 0)
        let r3 = a.w3 &+ b.w3 &+ ((c2a || c2b) ? 1 : 0)
        return UInt256(w0: r0, w1: r1, w2: r2, w3: r3)
    }

    /// Wrapping subtraction.
    @inlinable @inline(__always)
    public static func &- (a: UInt256, b: UInt256) -> UInt256 {
        let (r0, b0) = a.w0.subtractingReportingOverflow(b.w0)
        let (t1, b1a) = a.w1.subtractingReportingOverflow(b.w1)
        let (r1, b1b) = t1.subtractingReportingOverflow(b0 ? 1 : 0)
        let (t2, b2a) = a.w2.subtractingReportingOverflow(b.w2)
        let (r2, b2b) = t2.subtractingReportingOverflow((b1a || b1b) ? 1 : 0)
        let r3 = a.w3 &- b.w3 &- ((b2a || b2b) ? 1 : 0)
        return UInt256(w0: r0, w1: r1, w2: r2, w3: r3)
    }

    /// Wrapping multiplication (the low 256 bits of the product).
    @inlinable @inline(__always)
    public static func &* (a: UInt256, b: UInt256) -> UInt256 {
        // Row 0
        var p = a.w0.multipliedFullWidth(by: b.w0)
        let r0 = p.low
        var r1 = p.high
        p = a.w0.multipliedFullWidth(by: b.w1)
        var (s, o) = r1.addingReportingOverflow(p.low); r1 = s
        var r2 = p.high &+ (o ? 1 : 0)
        p = a.w0.multipliedFullWidth(by: b.w2)
        (s, o) = r2.addingReportingOverflow(p.low); r2 = s
        var r3 = p.high &+ (o ? 1 : 0)
        r3 = r3 &+ a.w0 &* b.w3
        // Row 1
        p = a.w1.multipliedFullWidth(by: b.w0)
        (s, o) = r1.addingReportingOverflow(p.low); r1 = s
        var carry = p.high &+ (o ? 1 : 0)
        p = a.w1.multipliedFullWidth(by: b.w1)
        (s, o) = r2.addingReportingOverflow(p.low); r2 = s
        var hi = p.high &+ (o ? 1 : 0)
        (s, o) = r2.addingReportingOverflow(carry); r2 = s
        hi = hi &+ (o ? 1 : 0)
        r3 = r3 &+ hi &+ a.w1 &* b.w2
        // Row 2
        p = a.w2.multipliedFullWidth(by: b.w0)
        (s, o) = r2.addingReportingOverflow(p.low); r2 = s
        carry = p.high &+ (o ? 1 : 0)
        r3 = r3 &+ carry &+ a.w2 &* b.w1
        // Row 3
        r3 = r3 &+ a.w3 &* b.w0
        return UInt256(w0: r0, w1: r1, w2: r2, w3: r3)
    }

    /// Two's-complement negation.
    @inlinable @inline(__always)
    public var negated: UInt256 { UInt256.zero &- self }

    /// Whether the top bit is set (negative as a signed word).
    @inlinable @inline(__always)
    public var isNegative: Bool { w3 >> 63 != 0 }

    /// Bitwise AND.
    @inlinable @inline(__always)
    public static func & (a: UInt256, b: UInt256) -> UInt256 {
        UInt256(w0: a.w0 & b.w0, w1: a.w1 & b.w1, w2: a.w2 & b.w2, w3: a.w3 & b.w3)
    }

    /// Bitwise OR.
    @inlinable @inline(__always)
    public static func | (a: UInt256, b: UInt256) -> UInt256 {
        UInt256(w0: a.w0 | b.w0, w1: a.w1 | b.w1, w2: a.w2 | b.w2, w3: a.w3 | b.w3)
    }

    /// Bitwise XOR.
    @inlinable @inline(__always)
    public static func ^ (a: UInt256, b: UInt256) -> UInt256 {
        UInt256(w0: a.w0 ^ b.w0, w1: a.w1 ^ b.w1, w2: a.w2 ^ b.w2, w3: a.w3 ^ b.w3)
    }

    /// Bitwise NOT.
    @inlinable @inline(__always)
    public static prefix func ~ (a: UInt256) -> UInt256 {
        UInt256(w0: ~a.w0, w1: ~a.w1, w2: ~a.w2, w3: ~a.w3)
    }

    /// Limb `i` (0 least significant).
    @inlinable @inline(__always)
    public func limb(_ i: Int) -> UInt64 {
        switch i { case 0: return w0; case 1: return w1; case 2: return w2; default: return w3 }
    }

    /// The number of significant bits (0 for zero).
    @inlinable public var bitWidth: Int {
        if w3 != 0 { return 256 - w3.leadingZeroBitCount }
        if w2 != 0 { return 192 - w2.leadingZeroBitCount }
        if w1 != 0 { return 128 - w1.leadingZeroBitCount }
        return 64 - w0.leadingZeroBitCount
    }

    /// SHL: `self << shift`, zero for shifts of 256 or more.
    @inlinable
    public func shiftedLeft(by shift: UInt256) -> UInt256 {
        guard let s = shift.uint64, s < 256 else { return .zero }
        return shiftedLeft(Int(s))
    }

    /// `self << s` for `0 ≤ s < 256`.
    @inlinable
    public func shiftedLeft(_ s: Int) -> UInt256 {
        if s == 0 { return self }
        let limbs = s >> 6, bits = UInt64(s & 63)
        var r: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        @inline(__always) func src(_ i: Int) -> UInt64 { i < 0 ? 0 : limb(i) }
        @inline(__always) func at(_ i: Int) -> UInt64 {
            let j = i - limbs
            if bits == 0 { return src(j) }
            return (src(j) << bits) | (src(j - 1) >> (64 - bits))
        }
        r.0 = at(0); r.1 = at(1); r.2 = at(2); r.3 = at(3)
        return UInt256(w0: r.0, w1: r.1, w2: r.2, w3: r.3)
    }

    /// SHR: logical `self >> shift`, zero for shifts of 256 or more.
    @inlinable
    public func shiftedRight(by shift: UInt256) -> UInt256 {
        guard let s = shift.uint64, s < 256 else { return .zero }
        return shiftedRight(Int(s))
    }

    /// Logical `self >> s` for `0 ≤ s < 256`.
    @inlinable
    public func shiftedRight(_ s: Int) -> UInt256 {
        if s == 0 { return self }
        let limbs = s >> 6, bits = UInt64(s & 63)
        @inline(__always) func src(_ i: Int) -> UInt64 { i > 3 ? 0 : limb(i) }
        @inline(__always) func at(_ i: Int) -> UInt64 {
            let j = i + limbs
            if bits == 0 { return src(j) }
            return (src(j) >> bits) | (src(j + 1) << (64 - bits))
        }
        return UInt256(w0: at(0), w1: at(1), w2: at(2), w3: at(3))
    }

    /// SAR: arithmetic `self >> shift` (sign-filling); all ones or zero for shifts of 256 or more.
    @inlinable
    public func arithmeticShiftedRight(by shift: UInt256) -> UInt256 {
        let negative = isNegative
        guard let s = shift.uint64, s < 256 else { return negative ? .max : .zero }
        if !negative { return shiftedRight(Int(s)) }
        return ~((~self).shiftedRight(Int(s)))
    }

    /// BYTE: byte `index` counted from the most significant (0…31), zero beyond.
    @inlinable
    public func byte(at index: UInt256) -> UInt256 {
        guard let i = index.uint64, i < 32 else { return .zero }
        let fromLow = 31 - Int(i)
        return UInt256(UInt64((limb(fromLow >> 3) >> UInt64((fromLow & 7) * 8)) & 0xFF))
    }

    /// SIGNEXTEND: extends the sign of the byte at `byteIndex` (0 least significant); unchanged for 31 or more.
    @inlinable
    public func signExtended(fromByte byteIndex: UInt256) -> UInt256 {
        guard let b = byteIndex.uint64, b < 31 else { return self }
        let bit = Int(b) * 8 + 7
        let mask = UInt256.one.shiftedLeft(bit + 1) &- UInt256.one
        let signSet = (limb(bit >> 6) >> UInt64(bit & 63)) & 1 == 1
        return signSet ? (self | ~mask) : (self & mask)
    }

    /// SLT: signed less-than.
    @inlinable @inline(__always)
    public func signedLessThan(_ other: UInt256) -> Bool {
        let a = isNegative, b = other.isNegative
        if a != b { return a }
        return self < other
    }

    /// DIV: `self / divisor`, zero when `divisor` is zero.
    @inlinable
    public func dividedOrZero(by divisor: UInt256) -> UInt256 { quotientAndRemainderOrZero(dividingBy: divisor).quotient }

    /// MOD: `self % divisor`, zero when `divisor` is zero.
    @inlinable
    public func remainderOrZero(dividingBy divisor: UInt256) -> UInt256 { quotientAndRemainderOrZero(dividingBy: divisor).remainder }

    /// Quotient and remainder; both zero when `divisor` is zero.
    @inlinable
    public func quotientAndRemainderOrZero(dividingBy divisor: UInt256) -> (quotient: UInt256, remainder: UInt256) {
        if divisor.isZero { return (.zero, .zero) }
        if self < divisor { return (.zero, self) }
        if (w1 | w2 | w3) == 0 { return (UInt256(w0 / divisor.w0), UInt256(w0 % divisor.w0)) }
        if (divisor.w1 | divisor.w2 | divisor.w3) == 0 {
            // Short division by one limb.
            let d = divisor.w0
            var r: UInt64 = 0
            let (q3, r3) = d.dividingFullWidth((r, w3)); r = r3
            let (q2, r2) = d.dividingFullWidth((r, w2)); r = r2
            let (q1, r1) = d.dividingFullWidth((r, w1)); r = r1
            let (q0, r0) = d.dividingFullWidth((r, w0))
            return (UInt256(w0: q0, w1: q1, w2: q2, w3: q3), UInt256(r0))
        }
        var u: (UInt64, UInt64, UInt64, UInt64) = (w0, w1, w2, w3)
        var v: (UInt64, UInt64, UInt64, UInt64) = (divisor.w0, divisor.w1, divisor.w2, divisor.w3)
        var q: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var r: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &u) { ub in
            withUnsafeMutableBytes(of: &v) { vb in
                withUnsafeMutableBytes(of: &q) { qb in
                    withUnsafeMutableBytes(of: &r) { rb in
                        EVMLimbs.divide(ub.baseAddress!.assumingMemoryBound(to: UInt64.self), 4,
                                        vb.baseAddress!.assumingMemoryBound(to: UInt64.self), 4,
                                        quotient: qb.baseAddress!.assumingMemoryBound(to: UInt64.self),
                                        remainder: rb.baseAddress!.assumingMemoryBound(to: UInt64.self))
                    }
                }
            }
        }
        return (UInt256(w0: q.0, w1: q.1, w2: q.2, w3: q.3), UInt256(w0: r.0, w1: r.1, w2: r.2, w3: r.3))
    }

    /// SDIV: signed division truncating toward zero; zero for a zero divisor; −2²⁵⁵ / −1 is −2²⁵⁵.
    @inlinable
    public func signedDividedOrZero(by divisor: UInt256) -> UInt256 {
        if divisor.isZero { return .zero }
        let an = isNegative, bn = divisor.isNegative
        let q = (an ? negated : self).dividedOrZero(by: bn ? divisor.negated : divisor)
        return an != bn ? q.negated : q
    }

    /// SMOD: signed remainder with the sign of the dividend; zero for a zero divisor.
    @inlinable
    public func signedRemainderOrZero(dividingBy divisor: UInt256) -> UInt256 {
        if divisor.isZero { return .zero }
        let an = isNegative
        let r = (an ? negated : self).remainderOrZero(dividingBy: divisor.isNegative ? divisor.negated : divisor)
        return an ? r.negated : r
    }

    /// ADDMOD: `(self + other) % modulus` without wrapping the sum; zero for a zero modulus.
    @inlinable
    public func addMod(_ other: UInt256, modulus: UInt256) -> UInt256 {
        if modulus.isZero { return .zero }
        let sum = self &+ other
        let overflow = sum < self
        if !overflow { return sum.remainderOrZero(dividingBy: modulus) }
        var u: (UInt64, UInt64, UInt64, UInt64, UInt64) = (sum.w0, sum.w1, sum.w2, sum.w3, 1)
        return Self.reduce(&u, count: 5, modulus: modulus)
    }

    /// MULMOD: `(self × other) % modulus` with the full 512-bit product; zero for a zero modulus.
    @inlinable
    public func mulMod(_ other: UInt256, modulus: UInt256) -> UInt256 {
        if modulus.isZero { return .zero }
        // Both below 2¹²⁸: the product fits in one word.
        if (w2 | w3 | other.w2 | other.w3) == 0 { return (self &* other).remainderOrZero(dividingBy: modulus) }
        var u = fullProduct(other)
        if u.4 | u.5 | u.6 | u.7 == 0 {
            return UInt256(w0: u.0, w1: u.1, w2: u.2, w3: u.3).remainderOrZero(dividingBy: modulus)
        }
        return Self.reduce(&u, count: 8, modulus: modulus)
    }

    /// The 512-bit product, eight limbs least significant first.
    @inlinable
    public func fullProduct(_ other: UInt256) -> (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) {
        var out: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &out) { raw in
            let r = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
            for i in 0..<4 {
                var carry: UInt64 = 0
                let a = limb(i)
                for j in 0..<4 {
                    let p = a.multipliedFullWidth(by: other.limb(j))
                    let (s1, o1) = r[i + j].addingReportingOverflow(p.low)
                    let (s2, o2) = s1.addingReportingOverflow(carry)
                    r[i + j] = s2
                    carry = p.high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
                }
                r[i + 4] = carry
            }
        }
        return out
    }

    @inlinable
    static func reduce<T>(_ u: inout T, count: Int, modulus: UInt256) -> UInt256 {
        var v: (UInt64, UInt64, UInt64, UInt64) = (modulus.w0, modulus.w1, modulus.w2, modulus.w3)
        var r: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &u) { ub in
            withUnsafeMutableBytes(of: &v) { vb in
                withUnsafeMutableBytes(of: &r) { rb in
                    EVMLimbs.divide(ub.baseAddress!.assumingMemoryBound(to: UInt64.self), count,
                                    vb.baseAddress!.assumingMemoryBound(to: UInt64.self), 4,
                                    quotient: nil, remainder: rb.baseAddress!.assumingMemoryBound(to: UInt64.self))
                }
            }
        }
        return UInt256(w0: r.0, w1: r.1, w2: r.2, w3: r.3)
    }

    /// EXP: `self ** exponent` modulo 2²⁵⁶.
    @inlinable
    public func power(_ exponent: UInt256) -> UInt256 {
        var result = UInt256.one
        var base = self
        let bits = exponent.bitWidth
        var i = 0
        while i < bits {
            if (exponent.limb(i >> 6) >> UInt64(i & 63)) & 1 == 1 { result = result &* base }
            i += 1
            if i < bits { base = base &* base }
        }
        return result
    }

    /// The number of bytes without leading zeros (0 for zero): EXP charges 50 gas per byte of the exponent.
    @inlinable public var byteWidth: Int { (bitWidth + 7) / 8 }
}

/// Multi-limb helpers over 64-bit limbs, least significant first (no allocation beyond the stack).
@usableFromInline
enum EVMLimbs {
    /// Knuth's algorithm D: divides `u` (`m` limbs) by `v` (`n` limbs, not zero). `quotient` needs `m` limbs
    /// (when given) and `remainder` `n` limbs. `u` and `v` are left unchanged.
    @usableFromInline
    static func divide(_ u: UnsafeMutablePointer<UInt64>, _ m0: Int, _ v: UnsafeMutablePointer<UInt64>, _ n0: Int,
                       quotient: UnsafeMutablePointer<UInt64>?, remainder: UnsafeMutablePointer<UInt64>) {
        var m = m0
        while m > 0 && u[m - 1] == 0 { m -= 1 }
        var n = n0
        while n > 0 && v[n - 1] == 0 { n -= 1 }
        precondition(n > 0, "division by zero limbs")
        if let q = quotient { for i in 0..<m0 { q[i] = 0 } }
        for i in 0..<n0 { remainder[i] = 0 }
        if m < n {
            for i in 0..<m { remainder[i] = u[i] }
            return
        }
        if n == 1 {
            let d = v[0]
            var r: UInt64 = 0
            var j = m - 1
            while j >= 0 {
                let (qq, rr) = d.dividingFullWidth((r, u[j]))
                quotient?[j] = qq
                r = rr
                j -= 1
            }
            remainder[0] = r
            return
        }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: m + 1 + n) { buffer in
            let un = buffer.baseAddress!
            let vn = un + (m + 1)
            let s = UInt64(v[n - 1].leadingZeroBitCount)
            if s == 0 {
                for i in 0..<n { vn[i] = v[i] }
                for i in 0..<m { un[i] = u[i] }
                un[m] = 0
            } else {
                for i in stride(from: n - 1, to: 0, by: -1) { vn[i] = (v[i] << s) | (v[i - 1] >> (64 - s)) }
                vn[0] = v[0] << s
                un[m] = u[m - 1] >> (64 - s)
                for i in stride(from: m - 1, to: 0, by: -1) { un[i] = (u[i] << s) | (u[i - 1] >> (64 - s)) }
                un[0] = u[0] << s
            }
            let vTop = vn[n - 1], vNext = vn[n - 2]
            var j = m - n
            while j >= 0 {
                var qhat: UInt64
                var rhat: UInt64
                var rhatOverflow = false
                if un[j + n] >= vTop {
                    qhat = .max
                    (rhat, rhatOverflow) = un[j + n - 1].addingReportingOverflow(vTop)
                } else {
                    (qhat, rhat) = vTop.dividingFullWidth((un[j + n], un[j + n - 1]))
                }
                while !rhatOverflow {
                    let p = qhat.multipliedFullWidth(by: vNext)
                    if p.high > rhat || (p.high == rhat && p.low > un[j + n - 2]) {
                        qhat -= 1
                        (rhat, rhatOverflow) = rhat.addingReportingOverflow(vTop)
                    } else {
                        break
                    }
                }
                var borrow: UInt64 = 0
                var carry: UInt64 = 0
                for i in 0..<n {
                    let p = qhat.multipliedFullWidth(by: vn[i])
                    let (plo, c1) = p.low.addingReportingOverflow(carry)
                    carry = p.high &+ (c1 ? 1 : 0)
                    let (t, b1) = un[i + j].subtractingReportingOverflow(plo)
                    let (t2, b2) = t.subtractingReportingOverflow(borrow)
                    un[i + j] = t2
                    borrow = (b1 ? 1 : 0) &+ (b2 ? 1 : 0)
                }
                let (t, b1) = un[j + n].subtractingReportingOverflow(carry)
                let (t2, b2) = t.subtractingReportingOverflow(borrow)
                un[j + n] = t2
                if b1 || b2 {
                    qhat &-= 1
                    var c: UInt64 = 0
                    for i in 0..<n {
                        let (s1, o1) = un[i + j].addingReportingOverflow(vn[i])
                        let (s2, o2) = s1.addingReportingOverflow(c)
                        un[i + j] = s2
                        c = (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
                    }
                    un[j + n] &+= c
                }
                quotient?[j] = qhat
                j -= 1
            }
            if s == 0 {
                for i in 0..<n { remainder[i] = un[i] }
            } else {
                for i in 0..<n { remainder[i] = (un[i] >> s) | (un[i + 1] << (64 - s)) }
            }
        }
    }
}
