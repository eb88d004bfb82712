import LedgerCore

/// One record operation of a group.
struct Operation: Sendable { var id: String; var version: UInt64 }

/// Hands out a transaction ID per group, like a node's intake.
actor Queue {
    private var count = 0
    func enqueue(_ size: Int) throws -> Digest {
        count += 1
        if count < 0 { throw ProbeFailure(task: count, round: size) }
        return HashAlgorithm.sha256.hash([UInt8(truncatingIfNeeded: count)])
    }
}

/// Sends groups from an actor method and keeps each returned ID with its group in a tuple built around the
/// `try await`: with `Digest` as a `SIMD32<UInt8>` (alignment 16) this exact function wrote 8 bytes past its
/// async context in unoptimised builds (AddressSanitizer, task slab allocator off). Whether a function
/// overflows depends on its frame layout, so this one is kept as it was seen to fail.
actor Sender {
    let queue: Queue
    init(queue: Queue) { self.queue = queue }

    func send(_ groups: [[Operation]], user: String) async throws -> Int {
        var sent = [(Digest, [Operation])]()
        for group in groups {
            do {
                sent.append((try await queue.enqueue(group.count), group))
            } catch {
                throw ProbeFailure(task: sent.reduce(0) { $0 + $1.1.count }, round: -1)
            }
        }
        return sent.count + user.count
    }
}
