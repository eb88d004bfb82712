import AppAPI
import Benchmark
import Foundation
import LedgerCore

// Records on a single-node platform: canonical encoding and digest of a
// record, the record index's query by batch and by time range (100 rows)
// over 10,000 uploaded records. The 100,000-record run with throughput is
// `forgechain bench records` (Documentation/Performance.md).

func sampleRecord(_ i: Int) -> ManufacturingRecord {
    .production(ProductionRecord(
        productionTime: RecordTime(millisecondsSince1970: 1_740_816_000_000 + UInt64(i) * 1_000),
        productionLocation: "Kunming plant 2, line \(i % 8)", productUID: "P-\(i)",
        rawMaterial: .init(supplier: "Yunnan Copper", batchNumber: "B-\(i / 100)", qualityReport: "pass"),
        processParameters: .init(temperature: "71.5", humidity: "40", pressure: "101.3"),
        operatorInfo: .init(name: "Li Wei", id: "OP-\(i % 50)", record: "shift A"),
        factoryUID: "F-KM-0\(i % 3)", deviceID: "PRESS-\(i % 20)"))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark("record canonical digest") { benchmark in
        let r = sampleRecord(7)
        for _ in benchmark.scaledIterations { blackHole(r.digest()) }
    }

    Benchmark("query 100 rows by batch / by time over 10,000 records", configuration: .init(maxDuration: .seconds(20))) { benchmark in
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-rb-\(UUID().uuidString)").path
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.passphrase = try Passphrase("test-keystore-passphrase")
        let platform = try await Platform.open(.singleNode(directory: dir), options: options)
        _ = try await platform.identity.createAdministrator(user: "bench", password: "Bench-Password-2025", roles: [.superAdmin], token: nil)
        let token = try await platform.identity.login(user: "bench", password: "Bench-Password-2025", oneTimeCode: nil).token
        _ = try await platform.records.uploadBatch((0..<10_000).map(sampleRecord), token: token)
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try await platform.records.query(RecordQuery(batchNumber: "B-\(i % 100)"), token: token))
            let from = 1_740_816_000_000 + UInt64(i % 9_900) * 1_000
            blackHole(try await platform.records.query(RecordQuery(from: RecordTime(millisecondsSince1970: from),
                                                                   to: RecordTime(millisecondsSince1970: from + 100_000)), token: token))
        }
        benchmark.stopMeasurement()
        await platform.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
