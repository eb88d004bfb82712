import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore
import Synchronization

/// `forgechain bench tps --only pbft4-processes`: four `forgechain node run` processes (PBFT, mutual TLS on
/// 127.0.0.1, the consortium made by `forgechain certs --executors kv`), fed pre-signed key-value transactions
/// through their control sockets, each sender's transactions to one node (senders spread over the four).
///
/// Throughput = transactions ÷ time from the first submission until every node's head holds them all (heads
/// polled every 20 ms). Commit latency = a transaction's `submitBatch` request → the poll that found its block on
/// node 0 (read from node 0's ledger, read-only). CPU = user + system seconds of the four node processes
/// (`/proc/<pid>/stat`) over the same span; the submitting process's own CPU is reported apart. At the end every
/// node's next nonce of every sender is checked against the transactions submitted.
///
/// The children are killed when the run ends or fails (and on SIGINT or SIGTERM of this process), and the
/// temporary folder is removed.
enum ProcessClusterBench {
    static let passphrase = "Bench-Cluster-Keystore-2025"
    static let chainID: UInt64 = 53_1407
    static let nodes = 4
    /// Transactions per `submitBatch` request.
    static let chunk = 1_000

    struct Result {
        var tps: TPSBench.Result
        var submitted: Int
        /// The smallest count of the submitted transactions committed on any node (the sum of its senders' nonces).
        var committed: Int
        /// CPU seconds of each node process over the measured span.
        var nodeCPUSeconds: [Double]
        var clientCPUSeconds: Double
        var senders: Int
        var height: Int
    }

    static func run(count: Int, scheme: TPSBench.Scheme) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fc-cluster-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let children = ChildProcesses()
        // SIGINT/SIGTERM while the nodes run: kill them and end the measurement; the cleanup below runs once, on
        // this path, and the exit status says which signal ended the run. (The stream is made here, before any
        // child starts, so no signal finds the default handling.)
        let stream = Signals.stream([SIGINT, SIGTERM])
        let interrupted = Atomic<Int32>(0)
        // Whichever path gets here first (the measurement ending, or a signal's grace running out) cleans up and
        // ends the run; the other never does.
        let finishing = Atomic<Bool>(false)
        let measurement = Task { try await measure(count: count, scheme: scheme, dir: dir, children: children) }
        let signals = Task {
            for await signal in stream {
                interrupted.store(signal, ordering: .sequentiallyConsistent)
                measurement.cancel()
                children.killAll()
                // The measurement ends at once unless it is in work that does not look at cancellation (signing a
                // million transactions takes tens of seconds on a busy machine): it must not hold up the exit.
                try? await Task.sleep(for: .seconds(3))   // cancelled only when the run already ended
                if finishing.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
                    await children.waitAll()
                    try? FileManager.default.removeItem(atPath: dir)
                    exit(128 + signal)
                }
                break
            }
        }
        let outcome = await measurement.result
        guard finishing.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged else {
            _ = await signals.value   // the signal path is cleaning up and exits the process
            exit(128 + interrupted.load(ordering: .sequentiallyConsistent))
        }
        children.killAll()
        await children.waitAll()
        signals.cancel()
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        try? FileManager.default.removeItem(atPath: dir)
        let signal = interrupted.load(ordering: .sequentiallyConsistent)
        if signal != 0 { exit(128 + signal) }
        return try outcome.get()
    }

    private static func measure(count: Int, scheme: TPSBench.Scheme, dir: String, children: ChildProcesses) async throws -> Result {
        let ports = ReservedPorts(nodes)
        defer { ports.release() }
        // Short paths: a control socket's path may not exceed 107 bytes.
        let folder = dir + "/c"
        let certs = try await ChildProcesses.runToEnd(["certs", "--nodes", String(nodes), "--out", folder, "--ports", ports.ports.map(String.init).joined(separator: ","),
                                                       "--consensus", "pbft", "--client-port-offset", "0", "--executors", "kv",
                                                       "--chain-id", String(chainID)],
                                                      environment: environment, log: dir + "/certs.log")
        guard certs == 0 else { throw ValidationError("bench tps.pbft4-processes: forgechain certs exited with \(certs): \(tail(dir + "/certs.log"))") }
        let configs = (0..<nodes).map { "\(folder)/node\($0)/config.json" }
        for config in configs { try setBlockSize(config, transactions: 2_000) }
        let sockets = (0..<nodes).map { "\(folder)/node\($0)/data/node.sock" }
        let logs = (0..<nodes).map { "\(dir)/node\($0).log" }
        for i in 0..<nodes { try children.start(["node", "run", "--config", configs[i]], environment: environment, log: logs[i]) }
        func failure(_ text: String) -> ValidationError {
            ValidationError("bench tps.pbft4-processes: \(text)\n" + logs.enumerated().map { "node \($0.offset): \(tail($0.element))" }.joined(separator: "\n"))
        }

        // Linked: every node sees the three others.
        let linkedBy = ContinuousClock.now + .seconds(90)
        var startHeights = [Int]()
        while true {
            if let exited = children.exited { throw failure("node process \(exited) exited before the run") }
            let statuses = await (0..<nodes).asyncMap { try? await NodeControlClient(path: sockets[$0]).request(["op": "status"]) }
            if statuses.allSatisfy({ ($0?["peers"] as? [Int])?.count == nodes - 1 }) {
                startHeights = statuses.map { $0?["height"] as? Int ?? 0 }
                break
            }
            guard ContinuousClock.now < linkedBy else { throw failure("the four nodes did not link within 90 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
        ports.release()
        let startHeight = startHeights[0]

        let senders = (max(8, count / 500) + nodes - 1) / nodes * nodes
        let txs = try TPSBench.workload(count: count, senders: senders, chainID: chainID, seed: 4, scheme: scheme.signatureScheme)
        let hex = txs.map { Hex.encode($0.encoded) }
        let byNode = (0..<nodes).map { n in txs.indices.filter { $0 % senders % nodes == n } }
        let submittedAt = SubmitTimes()
        let store = try LedgerStore(path: "\(folder)/node0/data/ledger.sqlite",
                                    configuration: .init(readOnly: true, quickCheckBlocks: 0, sqliteQuickCheckOnOpen: false))
        defer { store.close() }

        let cpuStart = children.cpuSeconds()
        let clientCPUStart = cpuTime()
        let start = ContinuousClock.now
        let watch = try await withThrowingTaskGroup(of: CommitWatch?.self) { group -> CommitWatch in
            for n in 0..<nodes {
                group.addTask {
                    try await submit(byNode[n], hex: hex, to: sockets[n], node: n) { id, at in submittedAt.times.withLock { $0[id] = at } }
                    return nil
                }
            }
            group.addTask {
                try await watchCommits(count: count, sockets: sockets, store: store, from: startHeight, children: children)
            }
            var watch: CommitWatch?
            for try await w in group where w != nil { watch = w }
            guard let watch else { throw failure("the commit watch ended without a result") }
            return watch
        }
        let cpu = zip(children.cpuSeconds(), cpuStart).map { $0 - $1 }
        let clientCPU = cpuTime() - clientCPUStart

        // Every node holds every transaction: each sender's next nonce is its count of transactions.
        var perSender = [PublicKey: Int]()
        var order = [PublicKey]()
        for tx in txs {
            if perSender[tx.sender] == nil { order.append(tx.sender) }
            perSender[tx.sender, default: 0] += 1
        }
        var committed = Int.max
        for socket in sockets {
            var total = 0
            for sender in order {
                let answer = try await NodeControlClient(path: socket).request(["op": "nonce", "sender": Hex.encode(sender.rawRepresentation),
                                                                                  "scheme": scheme.rawValue])
                total += min(answer["nextNonce"] as? Int ?? 0, perSender[sender] ?? 0)
            }
            committed = min(committed, total)
        }

        let submitted = submittedAt.times.withLock { $0 }
        var latencies = [Double]()
        latencies.reserveCapacity(watch.committedAt.count)
        for (id, at) in watch.committedAt { if let s = submitted[id] { latencies.append((at - s).seconds) } }
        latencies.sort()
        func pct(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let tps = TPSBench.Result(count: watch.committedAt.count, seconds: (watch.end - start).seconds, p50: pct(0.50), p99: pct(0.99),
                                  cpuSeconds: cpu.reduce(0, +), loadAverage: StartBench.loadAverage())

        // A clean stop; whatever does not stop in 20 s is killed by the caller.
        children.signalAll(SIGTERM)
        await children.waitAll(within: .seconds(20))
        return Result(tps: tps, submitted: submitted.count, committed: committed, nodeCPUSeconds: cpu, clientCPUSeconds: clientCPU,
                      senders: senders, height: watch.height)
    }

    /// The children's environment: the keystore passphrase, warnings and errors logged only.
    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
        environment[LogLevelOption.environmentVariable] = "warning"
        environment["FORGECHAIN_PASSPHRASE"] = passphrase
        return environment
    }

    /// Blocks of up to `transactions`, as in the in-process cluster.
    static func setBlockSize(_ config: String, transactions: Int) throws {
        let url = URL(fileURLWithPath: config)
        guard var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw ValidationError("bench tps.pbft4-processes: \(config) is not a JSON object")
        }
        object["maximumTransactionsPerBlock"] = transactions
        try DurableFile.write(Array(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])), to: config, mode: 0o644)
    }

    /// The last 2,000 characters of a log file.
    static func tail(_ path: String) -> String {
        String(((try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log)").suffix(2_000))
    }

    /// Submits the transactions `indices` of `hex`, in order, in `submitBatch` requests of ``chunk``; refusals of a
    /// full mempool, a sender's limit or a nonce gap are retried after 10 ms, any other refusal fails the run.
    static func submit(_ indices: [Int], hex: [String], to socket: String, node: Int,
                       record: @Sendable (String, ContinuousClock.Instant) -> Void) async throws {
        let retryable = Set([ChainError.Code.mempoolFull, .senderLimitReached, .nonceGap].map { Int($0.rawValue) })
        var offset = 0
        while offset < indices.count {
            let end = min(indices.count, offset + chunk)
            var pending = Array(indices[offset..<end])
            while !pending.isEmpty {
                let at = ContinuousClock.now
                let answer = try await NodeControlClient(path: socket).request(["op": "submitBatch", "transactions": pending.map { hex[$0] }],
                                                                               timeout: .seconds(120))
                guard answer["ok"] as? Bool == true, let results = answer["results"] as? [[String: Any]], results.count == pending.count else {
                    throw ValidationError("bench tps.pbft4-processes: node \(node) answered submitBatch with \(answer)")
                }
                var retry = [Int]()
                for (k, result) in results.enumerated() {
                    if result["ok"] as? Bool == true, let id = result["transactionID"] as? String {
                        record(id, at)
                    } else if let code = result["code"] as? Int, retryable.contains(code) {
                        retry.append(pending[k])
                    } else {
                        throw ValidationError("bench tps.pbft4-processes: node \(node) refused transaction \(pending[k]): \(result)")
                    }
                }
                pending = retry
                if !pending.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            }
            offset = end
        }
    }

    /// When each transaction's `submitBatch` request went out, by ID (hex).
    final class SubmitTimes: Sendable {
        let times = Mutex<[String: ContinuousClock.Instant]>([:])
    }

    struct CommitWatch: Sendable {
        /// When each transaction was first seen committed on node 0, by ID (hex).
        var committedAt: [String: ContinuousClock.Instant]
        /// When every node's head first held all of them.
        var end: ContinuousClock.Instant
        var height: Int
    }

    /// Every 20 ms: node 0's new blocks (transaction IDs read from its ledger); once they hold `count`
    /// transactions, the other nodes' heads, until all reach that height with the same head.
    static func watchCommits(count: Int, sockets: [String], store: LedgerStore, from height: Int,
                             children: ChildProcesses) async throws -> CommitWatch {
        let progress = ProgressReporter(label: "bench tps.pbft4-processes", unit: "transactions", total: count)
        defer { progress.finish() }
        var seen = height
        var committedAt = [String: ContinuousClock.Instant]()
        var progressAt = ContinuousClock.now
        var target: Int?
        while true {
            try await Task.sleep(for: .milliseconds(20))
            if let exited = children.exited { throw ValidationError("bench tps.pbft4-processes: node process \(exited) exited during the run") }
            let now = ContinuousClock.now
            if target == nil {
                let head = try await NodeControlClient(path: sockets[0]).request(["op": "status"])["height"] as? Int ?? seen
                if head > seen {
                    for h in (seen + 1)...head {
                        for tx in try store.block(atHeight: Height(UInt64(h))).transactions {
                            committedAt[tx.id(using: store.hashAlgorithm).hex] = now
                        }
                    }
                    seen = head
                    progressAt = now
                    progress.update(completed: committedAt.count)
                }
                if committedAt.count >= count { target = seen }
            }
            if let target {
                let statuses = await sockets.asyncMap { try? await NodeControlClient(path: $0).request(["op": "status"]) }
                let heights = statuses.map { $0?["height"] as? Int ?? 0 }
                if heights.allSatisfy({ $0 >= target }) {
                    return CommitWatch(committedAt: committedAt, end: now, height: target)
                }
            }
            guard now - progressAt < .seconds(120) else {
                throw ValidationError("bench tps.pbft4-processes: no block for 120 s; \(committedAt.count) of \(count) transactions committed on node 0")
            }
        }
    }
}

extension Sequence {
    /// `map` with an async transform, one element after the other.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out = [T]()
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

/// Child processes of this one (the nodes of a bench run): started with their output in a log file, CPU seconds
/// read from `/proc/<pid>/stat`, killed together.
final class ChildProcesses: Sendable {
    private let processes = Mutex<[Process]>([])

    /// Starts `forgechain ARGUMENTS` with standard output and error appended to `log`.
    func start(_ arguments: [String], environment: [String: String], log: String) throws {
        let process = try Self.spawn(arguments, environment: environment, log: log)
        processes.withLock { $0.append(process) }
    }

    static func spawn(_ arguments: [String], environment: [String: String], log: String) throws -> Process {
        guard FileManager.default.createFile(atPath: log, contents: nil) else { throw ValidationError("bench: cannot create \(log)") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? handle.close() }   // the child writes through its own descriptor
        let process = Process()
        process.executableURL = URL(fileURLWithPath: StartBench.executablePath)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Runs `forgechain ARGUMENTS` to its end (polling, no thread blocked); its exit status.
    static func runToEnd(_ arguments: [String], environment: [String: String], log: String) async throws -> Int32 {
        let process = try spawn(arguments, environment: environment, log: log)
        while process.isRunning {
            do { try await Task.sleep(for: .milliseconds(10)) } catch {
                // Cancelled (the run was interrupted): the child does not outlive it.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw error
            }
        }
        return process.terminationStatus
    }

    /// The index of a child that is no longer running, if any.
    var exited: Int? {
        processes.withLock { $0.firstIndex { !$0.isRunning } }
    }

    /// User + system CPU seconds of each child so far (0 for one that ended).
    func cpuSeconds() -> [Double] {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return processes.withLock { $0.map(\.processIdentifier) }.map { pid in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return 0 }
            // After the command name: state is field 3; utime and stime are fields 14 and 15.
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
            return (user + system) / ticks
        }
    }

    func signalAll(_ signal: Int32) {
        processes.withLock { for process in $0 where process.isRunning { kill(process.processIdentifier, signal) } }
    }

    func killAll() { signalAll(SIGKILL) }

    /// Waits until every child has ended, or `within` has passed.
    func waitAll(within: Duration = .seconds(10)) async {
        let end = ContinuousClock.now + within
        while processes.withLock({ $0.contains { $0.isRunning } }), ContinuousClock.now < end {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Ports held for child processes: bound (not listening) with SO_REUSEADDR until ``release()``, so no other
/// socket of the machine takes one meanwhile, while a node's listener (SO_REUSEADDR too) may bind it.
final class ReservedPorts: Sendable {
    let ports: [Int]
    private let sockets: Mutex<[Int32]>

    init(_ count: Int) {
        var sockets = [Int32](), ports = [Int]()
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
            sockets.append(fd)
        }
        self.ports = ports
        self.sockets = Mutex(sockets)
    }

    func release() {
        for fd in sockets.withLock({ s in defer { s = [] }; return s }) { close(fd) }
    }

    deinit { release() }
}
