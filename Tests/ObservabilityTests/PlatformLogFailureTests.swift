import Foundation
import Logging
import MetricsTestKit
import Testing
@testable import AppAPI

/// A `platform.log` line that cannot be written is not dropped silently: it is counted and logged.
struct PlatformLogFailureTests {
    #if os(Linux)
    @Test func linesThatCannotBeWrittenAreCountedAndLogged() throws {
        let capture = LogCapture()
        let metrics = TestMetrics()
        // Every write to /dev/full fails with ENOSPC, as on a full disk.
        let log = PlatformLog(path: "/dev/full", rotation: .init(), logger: capture.logger(label: "forgechain.test"), metricsFactory: metrics)
        log.write(user: "root", operation: "upload", entries: (0..<3).map { ("R-\($0)", 0, "") })
        log.write(user: "root", operation: "update", subject: "R-9", code: 0)
        let lost = try metrics.expectCounter("forgechain_platform_log_write_failures_total")
        #expect(lost.totalValue == 4)
        let errors = capture.records.filter { $0.level == .error && $0.message == "platform log write failed" }
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.metadata["path"]?.description == "/dev/full" })
    }
    #endif
}
