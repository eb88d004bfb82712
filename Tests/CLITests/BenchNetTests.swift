import Foundation
import Testing
@testable import forgechain

/// `forgechain bench net` and `forgechain bench tps --only pbft4-processes` at a tiny size: every frame sent
/// arrives over TCP and over TLS, every transaction submitted commits on all four node processes, the JSON lines
/// carry their fields, and no node process or temporary folder is left behind. Rates are not checked.
@Suite(.serialized, .timeLimit(.minutes(3))) struct BenchNetTests {
    /// The JSON lines of `--json` output, by name.
    static func lines(_ stdout: String) -> [String: [String: Any]] {
        var out = [String: [String: Any]]()
        for line in stdout.split(separator: "\n") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let name = object["name"] as? String {
                out[name] = object
            }
        }
        return out
    }

    /// Processes whose command line mentions `text`.
    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(text)
        }
    }

    @Test func benchNetDeliversEveryFrameOverTCPAndTLS() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let out = try await cli.run(["bench", "net", "--json", "--frames", "200", "--payload-sizes", "256,65536", "--runs", "2"], withData: false)
        try #require(out.status == 0, "\(out)")
        let lines = Self.lines(out.stdout)
        #expect(Set(lines.keys) == ["net.tcp.256B", "net.tls.256B", "net.tls-vs-tcp.256B", "net.tcp.64KiB", "net.tls.64KiB", "net.tls-vs-tcp.64KiB"],
                "\(out)")
        for mode in ["tcp", "tls"] {
            for (size, bytes) in [("256B", 256.0), ("64KiB", 65_536.0)] {
                let line = try #require(lines["net.\(mode).\(size)"], "\(out)")
                #expect(line["count"] as? Int == 200, "\(line)")
                #expect(line["frames_sent"] as? Double == 200 && line["frames_received"] as? Double == 200, "\(line)")
                #expect(line["dropped"] as? Double == 0 && line["payload_bytes"] as? Double == bytes && line["runs"] as? Double == 2, "\(line)")
                for field in ["ops_per_sec", "mb_per_sec", "framed_mb_per_sec", "cpu_seconds", "window_frames"] {
                    #expect((line[field] as? Double ?? 0) > 0, "\(field) in \(line)")
                }
                // Framing adds bytes to every payload.
                #expect((line["framed_mb_per_sec"] as? Double ?? 0) > (line["mb_per_sec"] as? Double ?? 0), "\(line)")
            }
            #expect((lines["net.tls-vs-tcp.256B"]?["throughput_ratio"] as? Double ?? 0) > 0)
        }
    }

    @Test func benchNetRefusesAPayloadSizeOutOfRange() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let out = try await cli.run(["bench", "net", "--payload-sizes", "256,0"], withData: false)
        #expect(out.status != 0 && out.stderr.contains("--payload-sizes"), "\(out)")
    }

    @Test func benchTPSCommitsEveryTransactionOnFourNodeProcessesAndCleansUp() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let temporary = cli.path("t")
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let out = try await cli.run(["bench", "tps", "--json", "--only", "pbft4", "--only", "pbft4-processes", "--transactions", "200"],
                                    environment: ["TMPDIR": temporary], withData: false)
        try #require(out.status == 0, "\(out)")
        let lines = Self.lines(out.stdout)
        #expect(Set(lines.keys) == ["tps.pbft4", "tps.pbft4-processes"], "\(out)")
        let processes = try #require(lines["tps.pbft4-processes"], "\(out)")
        #expect(processes["count"] as? Int == 200, "\(processes)")
        #expect(processes["submitted"] as? Double == 200 && processes["committed"] as? Double == 200, "\(processes)")
        for field in ["ops_per_sec", "cpu_seconds", "cpu_seconds_per_transaction", "p50_latency_seconds", "height", "senders",
                      "node0_cpu_seconds", "node1_cpu_seconds", "node2_cpu_seconds", "node3_cpu_seconds"] {
            #expect((processes[field] as? Double ?? 0) > 0, "\(field) in \(processes)")
        }
        #expect((processes["p99_latency_seconds"] as? Double ?? 0) >= (processes["p50_latency_seconds"] as? Double ?? 1), "\(processes)")
        let perNode = (0..<4).map { processes["node\($0)_cpu_seconds"] as? Double ?? 0 }.reduce(0, +)
        #expect(abs(perNode - (processes["cpu_seconds"] as? Double ?? 0)) < 1e-3, "the CPU figure is the four nodes' sum: \(processes)")
        let inProcess = try #require(lines["tps.pbft4"], "\(out)")
        #expect(inProcess["count"] as? Int == 200 && (inProcess["cpu_seconds_per_transaction"] as? Double ?? 0) > 0, "\(inProcess)")
        // The node processes are gone and their folder removed.
        #expect(Self.processes(mentioning: temporary).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
    }

    @Test func anInterruptedProcessClusterRunKillsItsNodesAndRemovesItsFolder() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let temporary = cli.path("t")
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let bench = Process()
        bench.executableURL = ForgeChainProcess.binary
        bench.arguments = ["bench", "tps", "--json", "--only", "pbft4-processes", "--transactions", "1000000"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
        environment["TMPDIR"] = temporary
        bench.environment = environment
        bench.standardOutput = FileHandle.nullDevice
        bench.standardError = FileHandle.nullDevice
        bench.standardInput = FileHandle.nullDevice
        try bench.run()
        defer { if bench.isRunning { kill(bench.processIdentifier, SIGKILL) } }
        let nodesBy = ContinuousClock.now + .seconds(60)
        while Self.processes(mentioning: temporary).count < 4, ContinuousClock.now < nodesBy { try await Task.sleep(for: .milliseconds(20)) }
        try #require(Self.processes(mentioning: temporary).count == 4, "the four node processes started")

        kill(bench.processIdentifier, SIGINT)
        let exitBy = ContinuousClock.now + .seconds(30)
        while bench.isRunning, ContinuousClock.now < exitBy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!bench.isRunning && bench.terminationStatus == 128 + SIGINT)
        let goneBy = ContinuousClock.now + .seconds(10)
        while !Self.processes(mentioning: temporary).isEmpty, ContinuousClock.now < goneBy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(Self.processes(mentioning: temporary).isEmpty, "no node process outlives the run")
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
    }

    @Test func reservedPortsStayTakenUntilReleased() async throws {
        let reserved = ReservedPorts(2)
        #expect(reserved.ports.count == 2 && Set(reserved.ports).count == 2 && reserved.ports.allSatisfy { $0 > 0 })
        // While held, a plain bind (no SO_REUSEADDR) to the port fails; after release it succeeds.
        func bindable(_ port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
        }
        #expect(!bindable(reserved.ports[0]))
        reserved.release()
        #expect(bindable(reserved.ports[0]))
    }
}
