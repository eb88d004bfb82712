import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes`),
/// for keys, nonces, IVs and salts.
///
/// If OpenSSL cannot produce random bytes (its entropy source failed) the
/// process stops with a fatal error: returning predictable bytes for key
/// material is never acceptable, and no caller could recover.
///
/// Example: `let salt = SecureRandom.bytes(count: 16)`.
/// Thread-safety: safe to call concurrently (OpenSSL's DRBGs are per-thread).
public enum SecureRandom {
    /// Returns `count` random bytes.
    /// - Parameter count: Required. `0...`; `0` returns `[]`.
    /// - Precondition: `count >= 0`.
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0, "random byte count must not be negative, got \(count)")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Overwrites every byte of `buffer` with random bytes.
    /// - Parameter buffer: Required. Any length, including empty.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard var p = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let n = min(remaining, Int(Int32.max))
            guard RAND_bytes(p, Int32(n)) == 1 else {
                fatalError("OpenSSL RAND_bytes failed: no secure randomness available")
            }
            p += n
            remaining -= n
        }
    }

    /// Overwrites every element of `bytes` with random bytes.
    /// - Parameter bytes: Required. Any length, including empty.
    public static func fill(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { fill($0) }
    }
}

/// A `RandomNumberGenerator` over ``SecureRandom`` (`RAND_bytes`), for the
/// standard library's random APIs where unpredictability matters:
///
/// ```swift
/// var rng = SecureRandomNumberGenerator()
/// let pick = (0..<100).randomElement(using: &rng)
/// ```
/// Stateless and `Sendable`; any number of instances may be used concurrently.
public struct SecureRandomNumberGenerator: RandomNumberGenerator, Sendable {
    /// Creates a generator. It has no state.
    public init() {}

    /// 64 random bits.
    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { SecureRandom.fill($0) }
        return value
    }
}
