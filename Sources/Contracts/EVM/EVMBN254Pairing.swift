/// The optimal ate pairing check on bn254 for precompile 0x08 (EIP-197, EIP-1108 gas: 45000 + 34000 per pair).
/// G2 lives on the twist y² = x³ + 3/(9 + i) over F_p² = F_p[i]/(i² + 1); the pairing's values live in
/// F_p¹² = F_p[w]/(w¹² − 18w⁶ + 82), where i = w⁶ − 9.
enum BN254Pairing {
    typealias F = BN254

    /// An element a + b·i of F_p².
    struct Fp2: Equatable {
        var a: UInt256, b: UInt256
        static let zero = Fp2(a: .zero, b: .zero)
        static let one = Fp2(a: .one, b: .zero)
        var isZero: Bool { a.isZero && b.isZero }
        static func + (x: Fp2, y: Fp2) -> Fp2 { Fp2(a: F.add(x.a, y.a), b: F.add(x.b, y.b)) }
        static func - (x: Fp2, y: Fp2) -> Fp2 { Fp2(a: F.sub(x.a, y.a), b: F.sub(x.b, y.b)) }
        static func * (x: Fp2, y: Fp2) -> Fp2 {
            Fp2(a: F.sub(F.mul(x.a, y.a), F.mul(x.b, y.b)), b: F.add(F.mul(x.a, y.b), F.mul(x.b, y.a)))
        }
        func scaled(_ k: UInt256) -> Fp2 { Fp2(a: F.mul(a, k), b: F.mul(b, k)) }
        var negated: Fp2 { Fp2.zero - self }
        var conjugate: Fp2 { Fp2(a: a, b: F.sub(.zero, b)) }
        var inverse: Fp2 {
            let norm = F.inverse(F.add(F.mul(a, a), F.mul(b, b)))
            return Fp2(a: F.mul(a, norm), b: F.mul(F.sub(.zero, b), norm))
        }
        func power(_ e: [UInt64]) -> Fp2 {
            var result = Fp2.one
            for limb in e.reversed() {
                for bit in stride(from: 63, through: 0, by: -1) {
                    result = result * result
                    if (limb >> UInt64(bit)) & 1 == 1 { result = result * self }
                }
            }
            return result
        }
    }

    /// An element of F_p¹², twelve coefficients of powers of w.
    struct Fp12: Equatable {
        var c: [UInt256]
        static let one = Fp12(c: [.one] + [UInt256](repeating: .zero, count: 11))

        /// Schoolbook product with lazy reduction: each coefficient sums its 512-bit products (at most 12 below
        /// p², under 2⁵¹²) and is reduced once.
        static func * (x: Fp12, y: Fp12) -> Fp12 {
            var acc = [UInt64](repeating: 0, count: 23 * 8)
            @inline(__always) func accumulate(_ k: Int, _ p: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)) {
                var carry: UInt64 = 0
                withUnsafeBytes(of: p) { raw in
                    let limbs = raw.bindMemory(to: UInt64.self)
                    for i in 0..<8 {
                        let (s1, o1) = acc[k * 8 + i].addingReportingOverflow(limbs[i])
                        let (s2, o2) = s1.addingReportingOverflow(carry)
                        acc[k * 8 + i] = s2
                        carry = (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
                    }
                }
            }
            @inline(__always) func reduced(_ k: Int) -> UInt256 {
                var u: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
                    (acc[k * 8], acc[k * 8 + 1], acc[k * 8 + 2], acc[k * 8 + 3], acc[k * 8 + 4], acc[k * 8 + 5], acc[k * 8 + 6], acc[k * 8 + 7])
                return UInt256.reduce(&u, count: 8, modulus: F.p)
            }
            for i in 0..<12 where !x.c[i].isZero {
                for j in 0..<12 where !y.c[j].isZero {
                    accumulate(i + j, x.c[i].fullProduct(y.c[j]))
                }
            }
            // w¹² = 18w⁶ − 82.
            var k = 22
            while k >= 12 {
                let top = reduced(k)
                if !top.isZero {
                    accumulate(k - 6, top.fullProduct(UInt256(18)))
                    accumulate(k - 12, F.sub(.zero, top).fullProduct(UInt256(82)))
                }
                k -= 1
            }
            return Fp12(c: (0..<12).map { reduced($0) })
        }

        func power(_ e: [UInt64]) -> Fp12 {
            var result = Fp12.one
            var started = false
            for limb in e.reversed() {
                for bit in stride(from: 63, through: 0, by: -1) {
                    if started { result = result * result }
                    if (limb >> UInt64(bit)) & 1 == 1 { result = started ? result * self : self; started = true }
                }
            }
            return result
        }
    }

    static let p = F.p
    static let r = UInt256(hex: "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")!
    static let xi = Fp2(a: UInt256(9), b: .one)
    static let twistB = Fp2(a: UInt256(3), b: .zero) * xi.inverse
    static let pLimbs = [p.w0, p.w1, p.w2, p.w3]
    /// ξ^((p−1)/3) and ξ^((p−1)/2): the Frobenius twist constants.
    static let gamma2: Fp2 = {
        let e = (p &- .one).dividedOrZero(by: UInt256(3))
        return xi.power([e.w0, e.w1, e.w2, e.w3])
    }()
    static let gamma3: Fp2 = {
        let e = (p &- .one).dividedOrZero(by: UInt256(2))
        return xi.power([e.w0, e.w1, e.w2, e.w3])
    }()
    /// (p¹² − 1) / r, little-endian limbs.
    static let finalExponent: [UInt64] = {
        var power: [UInt64] = [1]
        for _ in 0..<12 { power = multiply(power, pLimbs) }
        // minus one (p¹² is odd, so no borrow beyond the first limb)
        power[0] -= 1
        var q = [UInt64](repeating: 0, count: power.count)
        var rem = [UInt64](repeating: 0, count: 4)
        var rl = [r.w0, r.w1, r.w2, r.w3]
        let count = power.count
        power.withUnsafeMutableBufferPointer { u in
            rl.withUnsafeMutableBufferPointer { v in
                q.withUnsafeMutableBufferPointer { qb in
                    rem.withUnsafeMutableBufferPointer { rb in
                        EVMLimbs.divide(u.baseAddress!, count, v.baseAddress!, 4, quotient: qb.baseAddress!, remainder: rb.baseAddress!)
                    }
                }
            }
        }
        while q.count > 1 && q.last == 0 { q.removeLast() }
        return q
    }()
    /// 6u + 2 − 2⁶⁴: the ate loop count without its top bit (bit 64).
    static let ateLoopLow: UInt64 = 11_347_224_129_447_541_672

    static func multiply(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: a.count + b.count)
        for i in 0..<a.count {
            var carry: UInt64 = 0
            for j in 0..<b.count {
                let p = a[i].multipliedFullWidth(by: b[j])
                let (s1, o1) = out[i + j].addingReportingOverflow(p.low)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                out[i + j] = s2
                carry = p.high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            out[i + b.count] = carry
        }
        while out.count > 1 && out.last == 0 { out.removeLast() }
        return out
    }

    /// An affine G2 point; `nil` is infinity.
    typealias G2 = (x: Fp2, y: Fp2)

    static func isOnTwist(_ q: G2) -> Bool { q.y * q.y == q.x * q.x * q.x + twistB }

    static func g2Double(_ q: G2) -> G2? {
        if q.y.isZero { return nil }
        let m = (q.x * q.x).scaled(UInt256(3)) * (q.y + q.y).inverse
        let x = m * m - q.x - q.x
        return (x, m * (q.x - x) - q.y)
    }

    static func g2Add(_ a: G2?, _ b: G2?) -> G2? {
        guard let a else { return b }
        guard let b else { return a }
        if a.x == b.x { return a.y == b.y ? g2Double(a) : nil }
        let m = (b.y - a.y) * (b.x - a.x).inverse
        let x = m * m - a.x - b.x
        return (x, m * (a.x - x) - a.y)
    }

    static func g2Multiply(_ q: G2, _ k: UInt256) -> G2? {
        var result: G2? = nil
        var i = k.bitWidth - 1
        while i >= 0 {
            if let current = result { result = g2Double(current) }
            if (k.limb(i >> 6) >> UInt64(i & 63)) & 1 == 1 { result = g2Add(result, q) }
            i -= 1
        }
        return result
    }

    /// The line through `a` and `b` (the tangent when equal) on the twist, evaluated at the G1 point (xp, yp).
    static func line(_ a: G2, _ b: G2, _ xp: UInt256, _ yp: UInt256) -> Fp12 {
        var c = [UInt256](repeating: .zero, count: 12)
        let m: Fp2
        if a.x != b.x {
            m = (b.y - a.y) * (b.x - a.x).inverse
        } else if a.y == b.y {
            m = (a.x * a.x).scaled(UInt256(3)) * (a.y + a.y).inverse
        } else {
            // Vertical: xp − x·w².
            c[0] = xp
            c[2] = F.sub(.zero, F.sub(a.x.a, F.mul(UInt256(9), a.x.b)))
            c[8] = F.sub(.zero, a.x.b)
            return Fp12(c: c)
        }
        let k = a.y - m * a.x
        c[0] = F.sub(.zero, yp)
        c[1] = F.mul(xp, F.sub(m.a, F.mul(UInt256(9), m.b)))
        c[7] = F.mul(xp, m.b)
        c[3] = F.sub(k.a, F.mul(UInt256(9), k.b))
        c[9] = k.b
        return Fp12(c: c)
    }

    static func millerLoop(_ q: G2, _ xp: UInt256, _ yp: UInt256) -> Fp12 {
        var r = q
        var f = Fp12.one
        for i in stride(from: 63, through: 0, by: -1) {
            f = f * f * line(r, r, xp, yp)
            guard let doubled = g2Double(r) else { return f }
            r = doubled
            if (ateLoopLow >> UInt64(i)) & 1 == 1 {
                f = f * line(r, q, xp, yp)
                guard let sum = g2Add(r, q) else { return f }
                r = sum
            }
        }
        let q1: G2 = (q.x.conjugate * gamma2, q.y.conjugate * gamma3)
        let nq2: G2 = (q1.x.conjugate * gamma2, (q1.y.conjugate * gamma3).negated)
        f = f * line(r, q1, xp, yp)
        guard let r2 = g2Add(r, q1) else { return f }
        return f * line(r2, nq2, xp, yp)
    }

    static func pairingCheck(_ input: [UInt8], gas: Int64) -> EVMPrecompiles.Result {
        guard input.count % 192 == 0 else { return .failure }
        let pairs = input.count / 192
        let cost = 45_000 + 34_000 * Int64(pairs)
        guard cost <= gas else { return .failure }
        var product = Fp12.one
        for k in 0..<pairs {
            let o = k * 192
            guard let g1 = F.parse(input[o..<(o + 64)]) else { return .failure }
            func word(_ at: Int) -> UInt256 { UInt256(bigEndian: input[(o + at)..<(o + at + 32)]) }
            let xi = word(64), xr = word(96), yi = word(128), yr = word(160)
            guard xi < p, xr < p, yi < p, yr < p else { return .failure }
            let infinity2 = xi.isZero && xr.isZero && yi.isZero && yr.isZero
            var g2: G2? = nil
            if !infinity2 {
                let point: G2 = (Fp2(a: xr, b: xi), Fp2(a: yr, b: yi))
                guard isOnTwist(point), g2Multiply(point, r) == nil else { return .failure }
                g2 = point
            }
            guard let q = g2, !g1.isInfinity else { continue }
            product = product * millerLoop(q, g1.x, g1.y)
        }
        let result = product == .one ? Fp12.one : product.power(finalExponent)
        var out = [UInt8](repeating: 0, count: 32)
        if result == .one { out[31] = 1 }
        return .success(gasUsed: cost, output: out)
    }
}
