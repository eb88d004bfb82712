import Foundation
import Testing
import LedgerCore

/// A child process appending blocks is killed with SIGKILL at random
/// moments; after every kill the store opens, passes the full check, and
/// holds every block whose append had returned. FORGECHAIN_SEED=n replays.
struct StoreCrashTests {
    static var probe: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("forgechain-crash-probe")
    }

    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["FORGECHAIN_SEED"].flatMap(UInt64.init) ?? 1407
    }

    @Test func storeSurvivesFiftySIGKILLsWithEveryReportedBlockPresent() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.probe.path), "build the crash probe: swift build")
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        var rng = SplitMix64(seed: Self.seed)
        var reported = Set<UInt64>()
        var killedMidRun = 0
        for run in 0..<50 {
            let delayMillis = 40 + Int(rng.next() % 260)
            let process = Process()
            process.executableURL = Self.probe
            process.arguments = [path, "--transactions", String(5 + Int(rng.next() % 40))]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(useconds_t(delayMillis * 1000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killedMidRun += 1 }
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            // Only whole lines: a line cut by the kill was not reported.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            for line in lines { reported.insert(try #require(UInt64(line), "bad line '\(line)'")) }

            let store: LedgerStore
            do { store = try LedgerStore(path: path) } catch {
                Issue.record("run \(run): store does not open after SIGKILL at \(delayMillis) ms: \(error); replay with FORGECHAIN_SEED=\(Self.seed)")
                return
            }
            do { try store.checkIntegrity(.full) } catch {
                Issue.record("run \(run): full check fails after SIGKILL: \(error); replay with FORGECHAIN_SEED=\(Self.seed)")
                return
            }
            let head = store.head?.height.rawValue
            if let top = reported.max() {
                #expect(head != nil && head! >= top, "run \(run): head \(String(describing: head)) below reported \(top), seed \(Self.seed)")
            }
        }
        #expect(killedMidRun >= 45)
        #expect(reported.count > 50, "the probe made too little progress to test anything")
        let store = try LedgerStore(path: path)
        for h in reported.sorted() { _ = try store.blockHash(atHeight: Height(h)) }
        #expect(try store.checkIntegrity(.full).blocksChecked == Int(store.head!.height.rawValue) + 1)
    }
}
