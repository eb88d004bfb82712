// Holds digests, and values that contain them, across suspension points in many
// tasks at once, and checks every one afterwards. Built unoptimised under
// AddressSanitizer it shows whether an async frame is large enough for what it
// keeps (Documentation/Architecture.md, "Values held across await"):
//
//   swift build --sanitize=address --product forgechain-await-probe
//   SWIFT_DEBUG_ENABLE_TASK_SLAB_ALLOCATOR=false .build/debug/forgechain-await-probe 2000
import Foundation
import LedgerCore

actor Ledger {
    private var seen: [Digest: Int] = [:]
    private var headers: [BlockHeader] = []

    func record(_ digest: Digest, round: Int) -> Digest {
        seen[digest] = round
        return HashAlgorithm.sha256.hash(digest.bytes)
    }

    func keep(_ header: BlockHeader) -> Int {
        headers.append(header)
        return headers.count
    }

    var count: Int { seen.count }
}

func work(task: Int, rounds: Int, ledger: Ledger, key: PrivateKey) async throws -> Int {
    var chain: [Digest] = []
    var sent: [(Digest, Int)] = []
    var last = HashAlgorithm.sha256.hash(Array("task-\(task)".utf8))
    let parent = last
    var header = BlockHeader(chainID: 1, height: Height(UInt64(task)), parentHash: parent, timestamp: .now(),
                             transactionRoot: .zero, stateRoot: last, receiptRoot: .zero, producer: key.publicKey)
    for round in 0..<rounds {
        let before = last
        let next = await ledger.record(last, round: round)
        guard next == HashAlgorithm.sha256.hash(before.bytes), before == last else { throw ProbeFailure(task: task, round: round) }
        chain.append(next)
        // An await inside the expression that builds a tuple holding a digest: the shape that overflowed
        // the async context while `Digest` was a SIMD32<UInt8> (alignment 16).
        sent.append((await ledger.record(next, round: round), round))
        guard sent.last?.0 == HashAlgorithm.sha256.hash(next.bytes) else { throw ProbeFailure(task: task, round: round) }
        header.stateRoot = next
        _ = await ledger.keep(header)
        guard header.stateRoot == next, header.parentHash == parent else {
            throw ProbeFailure(task: task, round: round)
        }
        last = next
        await Task.yield()
    }
    return chain.count + sent.count
}

struct ProbeFailure: Error { var task: Int; var round: Int }

let tasks = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 500 : 500
let ledger = Ledger()
let key = try PrivateKey.generate(.ed25519)
let total = try await withThrowingTaskGroup(of: Int.self) { group in
    let sender = Sender(queue: Queue())
    for task in 0..<tasks {
        group.addTask { try await work(task: task, rounds: 8, ledger: ledger, key: key) }
        group.addTask { try await sender.send([[Operation(id: "t\(task)-a", version: 1)], [Operation(id: "t\(task)-b", version: 1), Operation(id: "x", version: 2)]], user: "u") }
    }
    var sum = 0
    for try await rounds in group { sum += rounds }
    return sum
}
let distinct = await ledger.count
guard total == tasks * 19, distinct > 0 else { fatalError("await probe: \(total) rounds, \(distinct) distinct digests") }
FileHandle.standardOutput.write(Data("await probe: \(tasks) tasks, \(total) digests kept across awaits, \(distinct) distinct\n".utf8))
