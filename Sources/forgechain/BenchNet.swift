import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore
import Metrics
import Net
import Synchronization

/// `forgechain bench net`: frames a second and megabytes a second between two `TCPTransport` endpoints on
/// 127.0.0.1, plain TCP and mutual TLS 1.3 (P-256 certificates of one CA) side by side.
///
/// Per payload size, runs alternate between the two (TCP then TLS, then TLS then TCP, ...), each on a fresh pair of
/// transports: node 0 sends `frames` messages of the size to node 1 as fast as the receiver takes them. The sender
/// keeps at most a window of frames in flight (counted by the receiver in this process), so the transport's
/// outbound queue never fills and drops nothing; drops would still be counted (`forgechain_transport_dropped_messages_total`,
/// read through a metrics factory of its own) and reported. Only frames the receiver got are counted. The
/// median run (by time) of each transport and size is reported, with the process's CPU seconds (both endpoints and
/// the event loops: one process).
enum NetBench {
    /// The two transports compared.
    enum Mode: String, CaseIterable {
        case tcp, tls
    }

    struct Options {
        /// Payload bytes of the frames, one measurement each (1...16 MiB).
        var payloadSizes: [Int]
        /// Frames a run; nil: ``defaultFrames(payloadBytes:scale:)``.
        var frames: Int?
        /// Runs per transport and size (the median is reported).
        var runs: Int
        var scale: Double
    }

    struct Run {
        var mode: Mode
        var payloadBytes: Int
        var framesSent: Int
        var framesReceived: Int
        var dropped: Int
        var seconds: Double
        var cpuSeconds: Double
        /// Framed bytes the receiver read (payload plus ``Frame`` headers and checksums; TLS records not counted).
        var framedBytes: UInt64
        var windowFrames: Int
        var loadAverage: Double
    }

    /// Enough frames for about 256 MiB of payload (times `scale`), between 1,000 and 200,000.
    static func defaultFrames(payloadBytes: Int, scale: Double) -> Int {
        min(200_000, max(1_000, Int(256 * 1_048_576 * scale / Double(payloadBytes))))
    }

    /// Frames in flight: about 8 MiB of payload, 16...16,384 frames.
    static func windowFrames(payloadBytes: Int) -> Int {
        min(16_384, max(16, (8 << 20) / max(1, payloadBytes)))
    }

    /// `256B`, `4KiB`, `64KiB`, `1MiB`.
    static func label(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10)KiB" }
        return "\(bytes)B"
    }

    static func run(_ options: Options, reporter: BenchReporter) async throws {
        let credentials = try Credentials()
        for size in options.payloadSizes {
            let frames = options.frames ?? defaultFrames(payloadBytes: size, scale: options.scale)
            var runs = [Mode: [Run]]()
            for r in 0..<options.runs {
                for mode in r % 2 == 0 ? [Mode.tcp, .tls] : [.tls, .tcp] {
                    runs[mode, default: []].append(try await measure(mode, payloadBytes: size, frames: frames, credentials: credentials))
                }
            }
            var medians = [Mode: Run]()
            for mode in Mode.allCases {
                guard let all = runs[mode], !all.isEmpty else { continue }
                let median = all.sorted { $0.seconds < $1.seconds }[all.count / 2]
                medians[mode] = median
                let payload = Double(median.framesReceived) * Double(size)
                reporter.report("net.\(mode.rawValue).\(label(size))", count: median.framesReceived, seconds: median.seconds, extra: [
                    "payload_bytes": Double(size), "frames_sent": Double(median.framesSent), "frames_received": Double(median.framesReceived),
                    "dropped": Double(median.dropped), "mb_per_sec": median.seconds > 0 ? payload / 1e6 / median.seconds : 0,
                    "framed_mb_per_sec": median.seconds > 0 ? Double(median.framedBytes) / 1e6 / median.seconds : 0,
                    "cpu_seconds": median.cpuSeconds, "cpu_seconds_per_gb": payload > 0 ? median.cpuSeconds / (payload / 1e9) : 0,
                    "window_frames": Double(median.windowFrames), "runs": Double(all.count),
                    "frames_per_sec_min": all.map { $0.seconds > 0 ? Double($0.framesReceived) / $0.seconds : 0 }.min() ?? 0,
                    "frames_per_sec_max": all.map { $0.seconds > 0 ? Double($0.framesReceived) / $0.seconds : 0 }.max() ?? 0,
                    "load_average": median.loadAverage,
                ])
            }
            if let tcp = medians[.tcp], let tls = medians[.tls], tcp.seconds > 0, tls.seconds > 0 {
                reporter.report("net.tls-vs-tcp.\(label(size))", count: tls.framesReceived, seconds: 0, extra: [
                    "throughput_ratio": (Double(tls.framesReceived) / tls.seconds) / (Double(tcp.framesReceived) / tcp.seconds),
                    "cpu_ratio": tcp.cpuSeconds > 0 ? (tls.cpuSeconds / Double(max(1, tls.framesReceived))) / (tcp.cpuSeconds / Double(max(1, tcp.framesReceived))) : 0,
                ])
            }
        }
    }

    /// One CA and a certificate for each of the two nodes, made once for every TLS run.
    struct Credentials {
        var tls: [TCPTransport.TLS]
        var genesisHash: Digest

        init() throws {
            let caKey = try PrivateKey.generate(.p256)
            let ca = try X509Certificate.authority(commonName: "bench net CA", key: caKey, validFor: 86_400)
            tls = try (0..<2).map { i in
                let key = try PrivateKey.generate(.p256)
                let certificate = try X509Certificate.issue(commonName: TCPTransport.TLS.commonName(of: NodeID(UInt32(i))), publicKey: key.publicKey,
                                                            issuer: ca, issuerKey: caKey, validFor: 86_400)
                return TCPTransport.TLS(authority: ca, certificate: certificate, key: key)
            }
            genesisHash = try ChainGenesis.make(chainID: 53, key: try PrivateKey.generate(.ed25519)).headerHash
        }
    }

    /// One run: a fresh pair of transports, linked, then `frames` frames of `payloadBytes` from node 0 to node 1.
    static func measure(_ mode: Mode, payloadBytes: Int, frames: Int, credentials: Credentials) async throws -> Run {
        let drops = DropCountingMetrics()
        var transports = [TCPTransport]()
        let started = await Result(catching: {
            for i in 0..<2 {
                var c = TCPTransport.Configuration(node: NodeID(UInt32(i)), chainID: 53, genesisHash: credentials.genesisHash)
                c.metricsFactory = drops
                c.frames = FrameConfiguration(maxFrameBytes: max(64 << 10, payloadBytes + Frame.overheadBytes(authenticated: false)))
                c.outboundQueueBytes = max(c.outboundQueueBytes, c.frames.maxFrameBytes)
                // A loaded machine may hold a link's reads for a while: no heartbeat verdict during a run.
                c.heartbeatInterval = .seconds(5)
                c.deadAfter = .seconds(60)
                if mode == .tls { c.tls = credentials.tls[i] }
                transports.append(try await TCPTransport.start(c))
            }
        })
        let outcome: Result<Run, any Error>
        switch started {
        case .success:
            outcome = await Result(catching: {
                try await transfer(mode, from: transports[0], to: transports[1], payloadBytes: payloadBytes, frames: frames, drops: drops)
            })
        case .failure(let error): outcome = .failure(error)
        }
        for t in transports { await t.close() }
        return try outcome.get()
    }

    /// Links `sender` (node 0) and `receiver` (node 1) and measures the transfer.
    static func transfer(_ mode: Mode, from sender: TCPTransport, to receiver: TCPTransport, payloadBytes: Int, frames: Int,
                         drops: DropCountingMetrics) async throws -> Run {
        receiver.updatePeers([NodeID(0): .init(host: "127.0.0.1", port: sender.port)])
        sender.updatePeers([NodeID(1): .init(host: "127.0.0.1", port: receiver.port)])
        let window = FrameWindow()
        let consumer = Task { () -> Int in
            var wrongSize = 0
            for await event in receiver.events {
                guard case .message(_, let bytes) = event else { continue }
                if bytes.count != payloadBytes { wrongSize += 1 }
                if window.add() >= frames { break }
            }
            return wrongSize
        }
        defer { consumer.cancel() }
        let linkedBy = ContinuousClock.now + .seconds(20)
        while true {
            let linked = await (sender.connectedPeers(), receiver.connectedPeers())
            if !linked.0.isEmpty && !linked.1.isEmpty { break }
            guard ContinuousClock.now < linkedBy else {
                throw ValidationError("bench net: the \(mode.rawValue) link between two transports on 127.0.0.1 did not come up within 20 s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }

        var rng = SplitMix64(seed: UInt64(payloadBytes))
        var payload = [UInt8]()
        payload.reserveCapacity(payloadBytes + 8)
        while payload.count < payloadBytes { withUnsafeBytes(of: rng.next()) { payload += $0 } }
        payload.removeLast(payload.count - payloadBytes)
        let inFlight = windowFrames(payloadBytes: payloadBytes)
        let watchdog = Task {
            // No frame for 10 s while the sender waits: the rest was dropped or the link is gone.
            var last = -1
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(10))
                let now = window.received
                if now == last { window.abandon() }
                last = now
            }
        }
        defer { watchdog.cancel() }

        let framed0 = receiver.traffic.received
        let cpu0 = cpuTime()
        let start = ContinuousClock.now
        var sent = 0
        while sent < frames {
            if sent - window.received >= inFlight {
                guard await window.wait(for: sent - inFlight / 2) else { break }
            }
            try await sender.send(payload, to: NodeID(1))
            sent += 1
        }
        _ = await window.wait(for: sent)
        let elapsed = ContinuousClock.now - start
        let cpu = cpuTime() - cpu0
        let received = window.received
        let framed = receiver.traffic.received &- framed0
        consumer.cancel()
        let wrongSize = await consumer.value
        guard wrongSize == 0 else {
            throw ValidationError("bench net: \(wrongSize) of \(received) \(mode.rawValue) frames arrived with a payload other than \(payloadBytes) bytes")
        }
        return Run(mode: mode, payloadBytes: payloadBytes, framesSent: sent, framesReceived: min(received, sent), dropped: drops.dropped,
                   seconds: elapsed.seconds, cpuSeconds: cpu, framedBytes: framed, windowFrames: inFlight, loadAverage: StartBench.loadAverage())
    }
}

/// Frames the receiver has taken, and the sender's wait for them.
final class FrameWindow: Sendable {
    private struct State {
        var received = 0
        var abandoned = false
        var waiter: (target: Int, continuation: CheckedContinuation<Bool, Never>)?
    }

    private let state = Mutex(State())

    var received: Int { state.withLock { $0.received } }

    /// Counts one frame; returns the count.
    func add() -> Int {
        let (count, ready) = state.withLock { s -> (Int, CheckedContinuation<Bool, Never>?) in
            s.received += 1
            guard let waiter = s.waiter, s.received >= waiter.target else { return (s.received, nil) }
            s.waiter = nil
            return (s.received, waiter.continuation)
        }
        ready?.resume(returning: true)
        return count
    }

    /// Waits until `target` frames arrived: true, or false once ``abandon()`` was called.
    func wait(for target: Int) async -> Bool {
        await withCheckedContinuation { continuation in
            let now = state.withLock { s -> Bool? in
                if s.abandoned { return false }
                if s.received >= target { return true }
                s.waiter = (target, continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Ends every wait, now and later, with false.
    func abandon() {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            s.abandoned = true
            defer { s.waiter = nil }
            return s.waiter?.continuation
        }
        waiter?.resume(returning: false)
    }
}

/// A metrics factory that counts the transport's dropped messages and ignores everything else.
final class DropCountingMetrics: MetricsFactory {
    final class DropCounter: CounterHandler {
        let count = Atomic<Int64>(0)
        func increment(by amount: Int64) { count.wrappingAdd(amount, ordering: .relaxed) }
        func reset() { count.store(0, ordering: .relaxed) }
    }

    private let drops = DropCounter()
    private let none = NOOPMetricsHandler.instance

    var dropped: Int { Int(drops.count.load(ordering: .relaxed)) }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        label == "forgechain_transport_dropped_messages_total" ? drops : none
    }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler { none }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { none }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { none }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { none }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
