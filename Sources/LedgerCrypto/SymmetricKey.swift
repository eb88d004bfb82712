import COpenSSL
import Synchronization

/// Secret key bytes for a ``SymmetricCipher`` or ``HMAC``, zeroed when
/// destroyed.
///
/// The bytes live in one manually allocated buffer owned by a reference-type
/// storage shared by every copy of the key. That buffer is overwritten with
/// zeros (`OPENSSL_cleanse`, which the compiler cannot elide) either when
/// ``destroy()`` is called or when the last copy of the key is released.
/// After ``destroy()`` every use throws `.keyDestroyed` (1361).
///
/// Limits of what Swift allows (N-S-2 key destruction):
/// - ``init(bytes:)`` copies its argument; the caller's array (and any copy
///   the Swift runtime made of it) is not zeroed by this type.
/// - Bytes that escape through ``withUnsafeBytes(_:)`` or ``bytesCopy()``
///   are the caller's to clear.
/// - The buffer is not locked in memory (`mlock`), so the OS may page it out.
/// - OpenSSL's expanded key schedules are cleansed by `EVP_CIPHER_CTX_free`
///   at the end of each operation.
///
/// Example:
/// ```swift
/// let key = SymmetricKey.generate(for: .aes256GCM)
/// let box = try SymmetricCipher.aes256GCM.seal(Array("data".utf8), using: key)
/// ```
/// Thread-safety: `Sendable`; every method may be called concurrently. A
/// use that races with ``destroy()`` either completes with the intact key
/// or throws `.keyDestroyed` (uses hold a lock while they read the bytes).
public struct SymmetricKey: Sendable, Equatable {
    let storage: SymmetricKeyStorage

    /// Copies key bytes.
    /// - Parameter bytes: Required. Any length, including 0; ciphers check
    ///   the length when the key is used.
    public init(bytes: some Sequence<UInt8>) {
        storage = SymmetricKeyStorage(Array(bytes))
    }

    /// A new random key of `byteCount` bytes from ``SecureRandom``.
    /// - Parameter byteCount: Required. `0...` bytes.
    /// - Precondition: `byteCount >= 0`.
    public init(randomByteCount byteCount: Int) {
        precondition(byteCount >= 0, "byteCount must not be negative, got \(byteCount)")
        storage = SymmetricKeyStorage(count: byteCount)
    }

    /// A new random key of the default length of `cipher`
    /// (``SymmetricCipher/keyLength``): 16 bytes for AES-128 and SM4, 24
    /// for AES-192 and 3DES, 32 for AES-256, 8 for DES.
    public static func generate(for cipher: SymmetricCipher) -> SymmetricKey {
        SymmetricKey(randomByteCount: cipher.keyLength)
    }

    /// The key length in bytes (still known after ``destroy()``).
    public var byteCount: Int { storage.count }

    /// The key length in bits.
    public var bitCount: Int { storage.count * 8 }

    /// Whether ``destroy()`` has been called on this key or a copy of it.
    public var isDestroyed: Bool { storage.destroyed.withLock { $0 } }

    /// Zeroes the key bytes now, for this key and every copy of it. Later
    /// uses throw `.keyDestroyed` (1361). Idempotent.
    public func destroy() { storage.destroy() }

    /// Calls `body` with the key bytes. Do not let the pointer escape.
    /// - Throws: `LedgerError` `.keyDestroyed` (1361), or what `body` throws.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws(LedgerError) -> R) throws(LedgerError) -> R {
        try storage.withBytes(body)
    }

    /// A copy of the key bytes as an array (which the caller must clear if it
    /// cares; see the type's limits).
    /// - Throws: `LedgerError` `.keyDestroyed` (1361).
    public func bytesCopy() throws(LedgerError) -> [UInt8] {
        try storage.withBytes { Array($0) }
    }

    /// Constant-time comparison of the key bytes (`CRYPTO_memcmp`); keys of
    /// different lengths, or a destroyed key, are unequal.
    public static func == (lhs: SymmetricKey, rhs: SymmetricKey) -> Bool {
        if lhs.storage === rhs.storage { return !lhs.isDestroyed }
        guard lhs.byteCount == rhs.byteCount,
              let a = try? lhs.bytesCopy(), let b = try? rhs.bytesCopy() else { return false }
        defer {
            var a = a, b = b
            a.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) }
            b.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) }
        }
        if a.isEmpty { return true }
        return CRYPTO_memcmp(a, b, a.count) == 0
    }
}

/// Owns the key buffer. `@unchecked Sendable`: the buffer is written only
/// in `init` (before the storage is shared) and by `destroy`/`deinit`
/// (zeroing); every read and `destroy` take the `destroyed` mutex, so no
/// read overlaps the zeroing.
final class SymmetricKeyStorage: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    let count: Int
    let destroyed = Mutex(false)

    init(_ bytes: [UInt8]) {
        count = bytes.count
        buffer = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }

    init(count: Int) {
        self.count = count
        buffer = .allocate(byteCount: max(count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        SecureRandom.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(LedgerError) -> R) throws(LedgerError) -> R {
        try destroyed.withLock { (isDestroyed: inout Bool) throws(LedgerError) -> R in
            guard !isDestroyed else {
                throw LedgerError(.keyDestroyed, "symmetric key (\(count) bytes) was destroyed and cannot be used")
            }
            return try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    func destroy() {
        destroyed.withLock { isDestroyed in
            forgechain_cleanse(buffer.baseAddress, buffer.count)
            isDestroyed = true
        }
    }

    deinit {
        forgechain_cleanse(buffer.baseAddress, buffer.count)
        buffer.deallocate()
    }
}
