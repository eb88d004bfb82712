import Foundation
import Synchronization

/// Data-parallel loops on dedicated threads, for the CPU-bound hot paths
/// (Merkle roots, transaction IDs and signatures of a block).
///
/// Dedicated `Thread`s rather than `DispatchQueue.concurrentPerform`: on
/// Linux, libdispatch's pool declines to add workers while the machine is
/// loaded, which silently serialises the work. Work is claimed one chunk at
/// a time from a shared counter, so a thread whose core is busy simply does
/// fewer chunks.
package enum ParallelWork {
    /// Runs `body(0)` on the calling thread and `body(1)` … `body(count - 1)`
    /// on fresh threads, and returns when all have finished.
    package static func run(threads count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard count > 1 else { body(0); return }
        let done = DispatchSemaphore(value: 0)
        for t in 1..<count {
            let thread = Thread {
                body(t)
                done.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        body(0)
        for _ in 1..<count { done.wait() }
    }

    /// Calls `body(worker, chunk)` once for every chunk in `0..<chunks`, on up
    /// to `threads` threads; `worker` is the thread's index in
    /// `0..<threads` (for per-thread scratch space).
    package static func forEachChunk(_ chunks: Int, threads: Int, _ body: @escaping @Sendable (_ worker: Int, _ chunk: Int) -> Void) {
        let workers = max(1, min(threads, chunks))
        if workers == 1 {
            for j in 0..<chunks { body(0, j) }
            return
        }
        let next = ChunkCounter()
        run(threads: workers) { t in
            while true {
                let j = next.value.wrappingAdd(1, ordering: .relaxed).oldValue
                if j >= chunks { break }
                body(t, j)
            }
        }
    }

    /// `items.map(transform)`, computed on up to `threads` threads in chunks
    /// of `chunkSize` items. The output order is the input order.
    package static func map<T: Sendable, R>(_ items: [T], threads: Int, chunkSize: Int,
                                    _ transform: @escaping @Sendable (T) -> R) -> [R] {
        let chunks = (items.count + chunkSize - 1) / chunkSize
        guard threads > 1, chunks > 1 else { return items.map(transform) }
        return [R](unsafeUninitializedCapacity: items.count) { out, initialized in
            let output = SharedMutablePointer(raw: UnsafeMutableRawPointer(out.baseAddress!))
            let input = items   // one reference shared read-only by the workers
            forEachChunk(chunks, threads: threads) { _, j in
                let base = output.raw.assumingMemoryBound(to: R.self)
                for i in (j * chunkSize)..<min(input.count, (j + 1) * chunkSize) {
                    (base + i).initialize(to: transform(input[i]))
                }
            }
            initialized = items.count
        }
    }
}

private final class ChunkCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// A pointer handed to the workers of one parallel loop. Each worker writes
/// only its own disjoint region, and the caller reads the results only after
/// every worker has finished (``ParallelWork/run(threads:_:)`` returns after
/// they all signal), so there is no concurrent access to one location.
package struct SharedMutablePointer: @unchecked Sendable {
    package let raw: UnsafeMutableRawPointer
    package init(raw: UnsafeMutableRawPointer) { self.raw = raw }
}
