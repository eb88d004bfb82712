import AppAPI
import Foundation
import LedgerCore

/// `forgechain bench records`: 100,000 production records (1,000 batches of
/// 100, one second apart) submitted through `RecordService.submit` in chunks
/// of 5,000 on a single-node platform in a temporary folder, confirmed and
/// indexed; then 1,000 queries by batch and 1,000 by a 100-second time range,
/// each returning 100 rows.
enum RecordsBench {
    struct Result {
        var records: Int
        var seconds: Double
        /// Process CPU time (user + system, all threads) spent while uploading: less sensitive to other load than `seconds`.
        var cpuSeconds: Double
        /// The load average (1 minute) when the upload finished.
        var loadAverage: Double
        var transactions: Int
        var batchP50: Double, batchP99: Double
        var timeP50: Double, timeP99: Double
    }

    static func records(count: Int) -> [ManufacturingRecord] {
        let base: UInt64 = 1_740_816_000_000
        return (0..<count).map { i in
            .production(ProductionRecord(
                productionTime: RecordTime(millisecondsSince1970: base + UInt64(i) * 1_000),
                productionLocation: "Kunming plant 2, line \(i % 8)", productUID: "P-\(i)",
                rawMaterial: .init(supplier: "Yunnan Copper", batchNumber: "B-\(i / 100)", qualityReport: "pass"),
                processParameters: .init(temperature: "71.\(i % 10)", humidity: "40", pressure: "101.3"),
                operatorInfo: .init(name: "Li Wei", id: "OP-\(i % 50)", record: "shift A"),
                factoryUID: "F-KM-0\(i % 3)", deviceID: "PRESS-\(i % 20)"))
        }
    }

    static func run(count: Int, chunk: Int = 5_000, queries: Int = 1_000) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-bench-records-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.commitTimeout = .seconds(120)
        options.passphrase = try Passphrase(Hex.encode(SecureRandom.bytes(count: 32)))   // a folder removed after the run
        let platform = try await Platform.open(.singleNode(directory: dir), options: options)
        _ = try await platform.identity.createAdministrator(user: "bench", password: "Bench-Password-2025", roles: [.superAdmin], token: nil)
        let token = try await platform.identity.login(user: "bench", password: "Bench-Password-2025", oneTimeCode: nil).token
        let all = records(count: count)

        let progress = ProgressReporter(label: "bench records", unit: "records", total: count)
        defer { progress.finish() }
        let start = ContinuousClock.now
        let cpuStart = cpuTime()
        var handles = [SubmissionHandle]()
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + chunk)
            handles.append(try await platform.records.submit(Array(all[offset..<end]), token: token, timeout: .seconds(120)))
            offset = end
        }
        var confirmed = 0
        for h in handles {
            confirmed += try await h.confirmation.count
            progress.update(completed: confirmed)
        }
        progress.finish()
        let seconds = (ContinuousClock.now - start).seconds
        let cpuSeconds = cpuTime() - cpuStart
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        precondition(confirmed == count)

        func measure(_ make: (Int) -> RecordQuery) async throws -> (Double, Double) {
            var latencies = [Double]()
            for i in 0..<queries {
                let q = make(i)
                let t = ContinuousClock.now
                let page = try await platform.records.query(q, token: token)
                latencies.append((ContinuousClock.now - t).seconds)
                precondition(page.records.count == min(100, count), "query \(i) returned \(page.records.count) rows")
            }
            latencies.sort()
            return (latencies[latencies.count / 2], latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))])
        }
        var rng = SplitMix64(seed: 11)
        let batches = max(1, count / 100)
        let (b50, b99) = try await measure { _ in RecordQuery(batchNumber: "B-\(Int(rng.next() % UInt64(batches)))", limit: 100) }
        let base: UInt64 = 1_740_816_000_000
        let (t50, t99) = try await measure { _ in
            let from = base + (rng.next() % UInt64(max(1, count - 100))) * 1_000
            return RecordQuery(from: RecordTime(millisecondsSince1970: from), to: RecordTime(millisecondsSince1970: from + 100_000), limit: 100)
        }
        await platform.close()
        return Result(records: count, seconds: seconds, cpuSeconds: cpuSeconds, loadAverage: load[0], transactions: handles.reduce(0) { $0 + $1.transactionIDs.count },
                      batchP50: b50, batchP99: b99, timeP50: t50, timeP99: t99)
    }
}

/// User plus system CPU seconds of this process so far.
func cpuTime() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
