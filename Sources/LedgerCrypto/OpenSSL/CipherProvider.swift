import COpenSSL

/// An OpenSSL cipher implementation fetched once and shared.
///
/// `@unchecked Sendable`: an `EVP_CIPHER` is immutable after
/// `EVP_CIPHER_fetch` and OpenSSL documents fetched algorithms as safe to use
/// from many threads at once. It is never freed (it lives as long as the
/// process), so no thread can see it dangle.
final class EVPCipherAlgorithm: @unchecked Sendable {
    let cipher: OpaquePointer

    private init(name: StaticString, libraryContext: OpaquePointer?) {
        guard let cipher = EVP_CIPHER_fetch(libraryContext, Self.cString(name), nil) else {
            preconditionFailure("OpenSSL does not provide cipher \(name)")
        }
        self.cipher = cipher
    }

    static func cString(_ s: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    static let aes128GCM = EVPCipherAlgorithm(name: "AES-128-GCM", libraryContext: nil)
    static let aes192GCM = EVPCipherAlgorithm(name: "AES-192-GCM", libraryContext: nil)
    static let aes256GCM = EVPCipherAlgorithm(name: "AES-256-GCM", libraryContext: nil)
    static let aes128CBC = EVPCipherAlgorithm(name: "AES-128-CBC", libraryContext: nil)
    static let aes192CBC = EVPCipherAlgorithm(name: "AES-192-CBC", libraryContext: nil)
    static let aes256CBC = EVPCipherAlgorithm(name: "AES-256-CBC", libraryContext: nil)
    static let sm4CBC = EVPCipherAlgorithm(name: "SM4-CBC", libraryContext: nil)
    static let tripleDESCBC = EVPCipherAlgorithm(name: "DES-EDE3-CBC", libraryContext: nil)
    /// Single DES lives only in the `legacy` provider: fetched from the
    /// private library context that has it loaded.
    static let desCBC = EVPCipherAlgorithm(name: "DES-CBC", libraryContext: LegacyLibraryContext.shared.context)

    // ECB, used internally for known-answer tests only.
    static let aes128ECB = EVPCipherAlgorithm(name: "AES-128-ECB", libraryContext: nil)
    static let aes192ECB = EVPCipherAlgorithm(name: "AES-192-ECB", libraryContext: nil)
    static let aes256ECB = EVPCipherAlgorithm(name: "AES-256-ECB", libraryContext: nil)
    static let sm4ECB = EVPCipherAlgorithm(name: "SM4-ECB", libraryContext: nil)
    static let tripleDESECB = EVPCipherAlgorithm(name: "DES-EDE3-ECB", libraryContext: nil)
    static let desECB = EVPCipherAlgorithm(name: "DES-ECB", libraryContext: LegacyLibraryContext.shared.context)
}

/// A private OpenSSL library context with the `default` and `legacy`
/// providers loaded, for single DES.
///
/// A private context keeps the legacy provider out of the process-wide
/// default context, which other code shares. Loading any provider into a
/// context stops `default` from loading by itself, so both are loaded.
/// Initialised once, lazily and thread-safely (a Swift `static let`).
///
/// `@unchecked Sendable`: the context and providers are created once in the
/// initializer and never modified or freed afterwards; OpenSSL library
/// contexts are safe for concurrent fetches.
final class LegacyLibraryContext: @unchecked Sendable {
    let context: OpaquePointer

    static let shared = LegacyLibraryContext()

    private init() {
        guard let ctx = OSSL_LIB_CTX_new() else {
            preconditionFailure("OSSL_LIB_CTX_new failed")
        }
        guard OSSL_PROVIDER_load(ctx, EVPCipherAlgorithm.cString("default")) != nil else {
            preconditionFailure("cannot load the OpenSSL default provider")
        }
        guard OSSL_PROVIDER_load(ctx, EVPCipherAlgorithm.cString("legacy")) != nil else {
            preconditionFailure("cannot load the OpenSSL legacy provider (needed for single DES)")
        }
        context = ctx
    }
}

/// An `EVP_CIPHER_CTX` owned by one operation; freed (and its key schedule
/// cleansed by OpenSSL) in `deinit`. Never shared between threads.
final class CipherContext {
    let ctx: OpaquePointer

    init() throws(LedgerError) {
        guard let ctx = EVP_CIPHER_CTX_new() else {
            throw LedgerError(.cryptoBackend, "EVP_CIPHER_CTX_new failed")
        }
        self.ctx = ctx
    }

    deinit { EVP_CIPHER_CTX_free(ctx) }
}

/// Pointer helpers that never hand OpenSSL a nil pointer for an empty buffer.
enum CipherBytes {
    /// 16 zero bytes, allocated once and never written: OpenSSL only reads
    /// input buffers, so sharing it across threads is safe (hence
    /// `nonisolated(unsafe)`, which only silences the non-`Sendable` pointer).
    nonisolated(unsafe) static let dummy: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
        p.initialize(repeating: 0, count: 16)
        return p
    }()

    /// Calls `body` with a non-nil base address (a shared read-only dummy
    /// when `bytes` is empty) and the count.
    @inline(__always)
    static func with<R, E: Error>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) throws(E) -> R) throws(E) -> R {
        if bytes.isEmpty { return try body(UnsafePointer(dummy), 0) }
        return try bytes.withUnsafeBufferPointer { (buf) throws(E) -> R in try body(buf.baseAddress!, buf.count) }
    }
}
