import Foundation
import Synchronization

/// How busy a node is (N-L-1): what its control endpoint answers to `{"op":"load"}`, and what
/// ``LoadBalancer/Strategy/leastLoad`` routes by.
public struct LoadReport: Hashable, Sendable, Codable {
    /// The node's process CPU use since the previous report, in percent of one core (0 at the first).
    public var cpuPercent: Double
    /// The node process's resident memory, bytes.
    public var memoryBytes: UInt64
    /// Bytes the node sent to and received from its peers since the previous report, per second.
    public var bandwidthBytesPerSecond: Double
    /// Client connections open on the node's control endpoints.
    public var openConnections: Int
    /// How many blocks the node is behind the best height its peers report.
    public var heightLag: UInt64
    /// Transactions waiting in its mempool.
    public var mempool: Int

    /// Parameters as the properties of the same names.
    public init(cpuPercent: Double, memoryBytes: UInt64, bandwidthBytesPerSecond: Double, openConnections: Int, heightLag: UInt64, mempool: Int) {
        self.cpuPercent = cpuPercent
        self.memoryBytes = memoryBytes
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.openConnections = openConnections
        self.heightLag = heightLag
        self.mempool = mempool
    }

    /// One number to compare nodes by (lower is less loaded): CPU percent, plus 10 per open connection, plus 5 per
    /// block of lag, plus one per 100 pending transactions.
    public var score: Double {
        cpuPercent + 10 * Double(openConnections) + 5 * Double(heightLag) + Double(mempool) / 100
    }
}

/// Reads this process's CPU time and resident memory from `/proc/self` (Linux), and turns two readings into a CPU
/// percentage and a traffic rate.
final class ProcessLoadSampler: Sendable {
    private struct Sample { var at: ContinuousClock.Instant; var cpuSeconds: Double; var traffic: UInt64 }
    private let last = Mutex<Sample?>(nil)

    /// CPU percent and bytes per second since the previous call (0 at the first), and resident memory.
    func sample(traffic: UInt64) -> (cpuPercent: Double, memoryBytes: UInt64, bytesPerSecond: Double) {
        let now = Sample(at: .now, cpuSeconds: Self.cpuSeconds(), traffic: traffic)
        let previous = last.withLock { old -> Sample? in
            defer { old = now }
            return old
        }
        guard let previous else { return (0, Self.residentBytes(), 0) }
        let elapsed = Double((now.at - previous.at).components.attoseconds) / 1e18 + Double((now.at - previous.at).components.seconds)
        guard elapsed > 0 else { return (0, Self.residentBytes(), 0) }
        return (max(0, (now.cpuSeconds - previous.cpuSeconds) / elapsed * 100), Self.residentBytes(),
                Double(now.traffic &- previous.traffic) / elapsed)
    }

    /// User plus system CPU seconds of this process (`/proc/self/stat` fields 14 and 15), 0 where unreadable.
    static func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ticks > 0 ? (user + system) / ticks : 0
    }

    /// `VmRSS` of `/proc/self/status` in bytes, 0 where unreadable.
    static func residentBytes() -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kib = UInt64(parts[1]) { return kib * 1024 }
        }
        return 0
    }
}
