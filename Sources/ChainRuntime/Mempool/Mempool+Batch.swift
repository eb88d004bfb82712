import Foundation
import LedgerCore
import Synchronization

/// Transactions encoded, hashed and signature-checked ahead of admission
/// (``Mempool/prepare(_:configuration:parallelism:)``), so the expensive part
/// of intake can run before the mempool's owner takes them.
struct PreparedTransactions: Sendable {
    struct Item: Sendable {
        var encoded: [UInt8]
        var id: Digest
        var signatureError: LedgerError?
    }

    var transactions: [Transaction]
    var items: [Item]
}

extension Mempool {
    /// Admits many transactions at once, verifying their signatures on all
    /// cores first (a peer's transaction batch, a client's bulk upload).
    ///
    /// Equivalent to calling ``add(_:now:nextNonce:refusal:)`` for each transaction in
    /// order (the same checks, errors and final state), except that encoding,
    /// hashing and signature verification run in parallel beforehand. A
    /// transaction that fails an earlier check still costs its verification.
    /// - Parameters:
    ///   - txs: Required. Any number, any order; nonces of one sender may
    ///     follow each other in the batch.
    ///   - now: Required. The local time; decides expiry.
    ///   - parallelism: Optional, default the active processor count; at least 1.
    ///   - nextNonce: Required. As for ``add(_:now:nextNonce:refusal:)``; called serially.
    ///   - refusal: Optional, default none. As for ``add(_:now:nextNonce:refusal:)``; called serially.
    /// - Returns: One result per input, in input order: the ID or the error
    ///   ``add(_:now:nextNonce:refusal:)`` would have thrown.
    /// - Note: Blocks the caller until the verification threads finish.
    public mutating func addBatch(_ txs: [Transaction], now: Timestamp, parallelism: Int? = nil,
                                  nextNonce: (PublicKey) -> UInt64,
                                  refusal: (Transaction) -> LedgerError? = { _ in nil }) -> [Result<Digest, ChainError>] {
        addBatch(Self.prepare(txs, configuration: configuration, parallelism: parallelism), now: now, nextNonce: nextNonce, refusal: refusal)
    }

    /// The parallel half of ``addBatch(_:now:parallelism:nextNonce:refusal:)``: encodes, hashes and
    /// verifies signatures (through the process-wide memo of verified transaction signatures).
    /// Pure apart from the memo; safe to call from any thread, concurrently.
    static func prepare(_ txs: [Transaction], configuration: MempoolConfiguration, parallelism: Int? = nil) -> PreparedTransactions {
        let threads = max(1, parallelism ?? ProcessInfo.processInfo.activeProcessorCount)
        return PreparedTransactions(transactions: txs, items: BatchParallel.map(txs, threads: threads, chunkSize: 32, preparation(configuration)))
    }

    /// ``prepare(_:configuration:parallelism:)`` for async callers: the calling task's thread takes its
    /// share of the work and then suspends (it never blocks a cooperative thread) until the other
    /// threads finish.
    static func prepare(_ txs: [Transaction], configuration: MempoolConfiguration) async -> PreparedTransactions {
        let threads = ProcessInfo.processInfo.activeProcessorCount
        return PreparedTransactions(transactions: txs,
                                    items: await BatchParallel.map(txs, threads: threads, chunkSize: 32, preparation(configuration)))
    }

    private static func preparation(_ configuration: MempoolConfiguration) -> @Sendable (Transaction) -> PreparedTransactions.Item {
        let algorithm = configuration.hashAlgorithm
        let chainID = configuration.chainID
        let maxBytes = min(configuration.maxTransactionBytes, configuration.maxBytes)
        return { tx -> PreparedTransactions.Item in
            let encoded = tx.encoded
            let id = algorithm.hash(encoded)
            var error: LedgerError?
            if tx.chainID == chainID, encoded.count <= maxBytes {
                do throws(LedgerError) { try tx.verifySignatureOnce(hashAlgorithm: algorithm) } catch let e { error = e }
            }
            return PreparedTransactions.Item(encoded: encoded, id: id, signatureError: error)
        }
    }

    /// The serial half of ``addBatch(_:now:parallelism:nextNonce:refusal:)``: the admission checks, in order.
    /// `prepared` must come from ``prepare(_:configuration:parallelism:)`` with this mempool's configuration.
    mutating func addBatch(_ prepared: PreparedTransactions, now: Timestamp,
                           nextNonce: (PublicKey) -> UInt64, refusal: (Transaction) -> LedgerError?) -> [Result<Digest, ChainError>] {
        var results: [Result<Digest, ChainError>] = []
        results.reserveCapacity(prepared.transactions.count)
        for (tx, p) in zip(prepared.transactions, prepared.items) {
            do throws(ChainError) {
                let candidate = try precheck(tx, now: now, encoded: p.encoded, id: p.id)
                results.append(.success(try admit(tx, candidate, nextNonce: nextNonce, refusal: refusal) { p.signatureError }))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

/// `items.map(transform)` on dedicated threads, claiming chunks from a shared
/// counter (the same design as LedgerCore's internal `ParallelWork`, which is
/// not public): libdispatch's pool on Linux declines to add workers while the
/// machine is loaded.
enum BatchParallel {
    static func map<T: Sendable, R: Sendable>(_ items: [T], threads: Int, chunkSize: Int,
                                              _ transform: @escaping @Sendable (T) -> R) -> [R] {
        let chunks = (items.count + chunkSize - 1) / chunkSize
        let workers = min(threads, chunks)
        guard workers > 1 else { return items.map(transform) }
        let results = ResultSlots<R>(count: chunks)
        let next = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        let work: @Sendable () -> Void = {
            while true {
                let j = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if j >= chunks { break }
                let range = (j * chunkSize)..<min(items.count, (j + 1) * chunkSize)
                results.store(items[range].map(transform), at: j)
            }
        }
        // `next` is a noncopyable atomic captured by reference in the closure
        // above; the threads below finish before this function returns.
        for _ in 1..<workers {
            let thread = Thread { work(); done.signal() }
            thread.stackSize = 1 << 20
            thread.start()
        }
        work()
        for _ in 1..<workers { done.wait() }
        return results.collect()
    }

    /// ``map(_:threads:chunkSize:_:)`` that suspends instead of blocking while the other threads finish:
    /// the last thread to finish resumes the caller.
    static func map<T: Sendable, R: Sendable>(_ items: [T], threads: Int, chunkSize: Int,
                                              _ transform: @escaping @Sendable (T) -> R) async -> [R] {
        let chunks = (items.count + chunkSize - 1) / chunkSize
        let workers = min(threads, chunks)
        guard workers > 1 else { return items.map(transform) }
        let results = ResultSlots<R>(count: chunks)
        let shared = SharedProgress(workers: workers)
        let work: @Sendable () -> Void = {
            while true {
                let j = shared.next.wrappingAdd(1, ordering: .relaxed).oldValue
                if j >= chunks { break }
                let range = (j * chunkSize)..<min(items.count, (j + 1) * chunkSize)
                results.store(items[range].map(transform), at: j)
            }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            shared.setContinuation(c)
            for _ in 1..<workers {
                let thread = Thread { work(); shared.finished() }
                thread.stackSize = 1 << 20
                thread.start()
            }
            work()
            shared.finished()
        }
        return results.collect()
    }
}

/// The chunk counter and the count of workers still running, shared by the threads of one async map;
/// the last worker to finish resumes the caller.
private final class SharedProgress: Sendable {
    let next = Atomic<Int>(0)
    private let state: Mutex<(running: Int, continuation: CheckedContinuation<Void, Never>?)>

    init(workers: Int) { state = Mutex((workers, nil)) }

    func setContinuation(_ c: CheckedContinuation<Void, Never>) { state.withLock { $0.continuation = c } }

    func finished() {
        let resume: CheckedContinuation<Void, Never>? = state.withLock { s in
            s.running -= 1
            guard s.running == 0 else { return nil }
            defer { s.continuation = nil }
            return s.continuation
        }
        resume?.resume()
    }
}

/// One slot per chunk, each written by exactly one worker; guarded by `lock`.
private final class ResultSlots<R: Sendable>: Sendable {
    private let lock: Mutex<[[R]?]>
    init(count: Int) { lock = Mutex([[R]?](repeating: nil, count: count)) }
    func store(_ value: [R], at index: Int) { lock.withLock { $0[index] = value } }
    func collect() -> [R] { lock.withLock { $0.flatMap { $0! } } }
}
