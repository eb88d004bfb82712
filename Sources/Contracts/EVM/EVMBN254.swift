/// The alt_bn128 (bn254) curve y² = x³ + 3 over F_p, for the precompiles ECADD (0x06) and ECMUL (0x07)
/// (EIP-196, EIP-1108 gas).
enum BN254 {
    static let p = UInt256(hex: "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47")!
    static let pMinus2 = p &- UInt256(2)

    @inline(__always) static func add(_ a: UInt256, _ b: UInt256) -> UInt256 { a.addMod(b, modulus: p) }
    @inline(__always) static func sub(_ a: UInt256, _ b: UInt256) -> UInt256 { a >= b ? a &- b : (a &+ p) &- b }
    @inline(__always) static func mul(_ a: UInt256, _ b: UInt256) -> UInt256 { a.mulMod(b, modulus: p) }
    /// The inverse modulo p by the binary extended Euclidean algorithm (zero for zero).
    static func inverse(_ a: UInt256) -> UInt256 {
        if a.isZero { return .zero }
        var u = a, v = p, x1 = UInt256.one, x2 = UInt256.zero
        @inline(__always) func half(_ x: UInt256) -> UInt256 { (x.w0 & 1 == 0 ? x : x &+ p).shiftedRight(1) }
        while u != .one && v != .one {
            while u.w0 & 1 == 0 { u = u.shiftedRight(1); x1 = half(x1) }
            while v.w0 & 1 == 0 { v = v.shiftedRight(1); x2 = half(x2) }
            if u >= v {
                u = u &- v; x1 = sub(x1, x2)
            } else {
                v = v &- u; x2 = sub(x2, x1)
            }
        }
        return u == .one ? x1 : x2
    }
    static func pow(_ a: UInt256, _ e: UInt256) -> UInt256 {
        var result = UInt256.one, base = a
        for i in 0..<e.bitWidth {
            if (e.limb(i >> 6) >> UInt64(i & 63)) & 1 == 1 { result = mul(result, base) }
            base = mul(base, base)
        }
        return result
    }

    /// A point in Jacobian coordinates; `z == 0` is the point at infinity.
    struct Point {
        var x: UInt256, y: UInt256, z: UInt256
        static let infinity = Point(x: .one, y: .one, z: .zero)
        var isInfinity: Bool { z.isZero }
    }

    /// Parses 64 bytes as an affine point; (0, 0) is infinity. `nil` when a coordinate is ≥ p or the point is off
    /// the curve.
    static func parse(_ bytes: ArraySlice<UInt8>) -> Point? {
        let x = UInt256(bigEndian: bytes.prefix(32)), y = UInt256(bigEndian: bytes.dropFirst(32).prefix(32))
        guard x < p, y < p else { return nil }
        if x.isZero && y.isZero { return .infinity }
        guard mul(y, y) == add(mul(mul(x, x), x), UInt256(3)) else { return nil }
        return Point(x: x, y: y, z: .one)
    }

    static func serialize(_ point: Point) -> [UInt8] {
        if point.isInfinity { return [UInt8](repeating: 0, count: 64) }
        let zInv = inverse(point.z)
        let zInv2 = mul(zInv, zInv)
        return mul(point.x, zInv2).bigEndianBytes + mul(point.y, mul(zInv2, zInv)).bigEndianBytes
    }

    static func double(_ a: Point) -> Point {
        if a.isInfinity || a.y.isZero { return .infinity }
        let xx = mul(a.x, a.x), yy = mul(a.y, a.y), yyyy = mul(yy, yy)
        let s = mul(UInt256(4), mul(a.x, yy))
        let m = mul(UInt256(3), xx)
        let x3 = sub(mul(m, m), add(s, s))
        let y3 = sub(mul(m, sub(s, x3)), mul(UInt256(8), yyyy))
        let z3 = mul(UInt256(2), mul(a.y, a.z))
        return Point(x: x3, y: y3, z: z3)
    }

    static func add(_ a: Point, _ b: Point) -> Point {
        if a.isInfinity { return b }
        if b.isInfinity { return a }
        let z1z1 = mul(a.z, a.z), z2z2 = mul(b.z, b.z)
        let u1 = mul(a.x, z2z2), u2 = mul(b.x, z1z1)
        let s1 = mul(a.y, mul(b.z, z2z2)), s2 = mul(b.y, mul(a.z, z1z1))
        if u1 == u2 { return s1 == s2 ? double(a) : .infinity }
        let h = sub(u2, u1), r = sub(s2, s1)
        let hh = mul(h, h), hhh = mul(h, hh)
        let v = mul(u1, hh)
        let x3 = sub(sub(mul(r, r), hhh), add(v, v))
        let y3 = sub(mul(r, sub(v, x3)), mul(s1, hhh))
        let z3 = mul(h, mul(a.z, b.z))
        return Point(x: x3, y: y3, z: z3)
    }

    static func multiply(_ a: Point, _ k: UInt256) -> Point {
        var result = Point.infinity
        var i = k.bitWidth - 1
        while i >= 0 {
            result = double(result)
            if (k.limb(i >> 6) >> UInt64(i & 63)) & 1 == 1 { result = add(result, a) }
            i -= 1
        }
        return result
    }

    static func ecAdd(_ input: [UInt8], gas: Int64) -> EVMPrecompiles.Result {
        guard gas >= 150 else { return .failure }
        let data = EVMPrecompiles.slice(input, 0, 128)
        guard let a = parse(data[0..<64]), let b = parse(data[64..<128]) else { return .failure }
        return .success(gasUsed: 150, output: serialize(add(a, b)))
    }

    static func ecMul(_ input: [UInt8], gas: Int64) -> EVMPrecompiles.Result {
        guard gas >= 6_000 else { return .failure }
        let data = EVMPrecompiles.slice(input, 0, 96)
        guard let a = parse(data[0..<64]) else { return .failure }
        return .success(gasUsed: 6_000, output: serialize(multiply(a, UInt256(bigEndian: data[64..<96]))))
    }
}
