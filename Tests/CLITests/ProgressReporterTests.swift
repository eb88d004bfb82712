import Foundation
import Synchronization
import Testing
@testable import forgechain

/// The progress line of long commands: its text, its throttle, and silence when standard error is not a terminal.
struct ProgressReporterTests {
    /// A clock the test moves, and the text the reporter wrote.
    final class Harness: Sendable {
        let time = Mutex<Double>(100)
        let written = Mutex<[String]>([])
        func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
        var output: [String] { written.withLock { $0 } }

        func reporter(total: Int?, terminal: Bool) -> ProgressReporter {
            ProgressReporter(label: "simulate raft", unit: "seeds", total: total, isTerminal: terminal, minimumInterval: 0.2,
                             now: { self.time.withLock { $0 } }, write: { text in self.written.withLock { $0.append(text) } })
        }
    }

    @Test func theLineGivesCountRateAndTimeLeftWhenTheTotalIsKnown() {
        #expect(ProgressReporter.line(label: "simulate raft", unit: "seeds", completed: 37, total: 100, elapsed: 3)
                == "simulate raft: 37/100 seeds, 12.3 seeds/s, about 5 s left")
        #expect(ProgressReporter.line(label: "records import", unit: "records", completed: 12_000, total: 100_000, elapsed: 4)
                == "records import: 12,000/100,000 records, 3,000 records/s, about 29 s left")
        #expect(ProgressReporter.line(label: "ledger verify", unit: "blocks", completed: 10, total: 1_000_000, elapsed: 10)
                == "ledger verify: 10/1,000,000 blocks, 1.0 blocks/s, about 277 h 46 min left")
        #expect(ProgressReporter.line(label: "ledger verify", unit: "blocks", completed: 990, total: 1_000, elapsed: 1)
                == "ledger verify: 990/1,000 blocks, 990 blocks/s, <1 s left")
    }

    @Test func withoutATotalOrBeforeAnyWorkTheLineHasNoEstimate() {
        #expect(ProgressReporter.line(label: "bench", unit: "records", completed: 5_000, total: nil, elapsed: 2)
                == "bench: 5,000 records, 2,500 records/s")
        #expect(ProgressReporter.line(label: "simulate raft", unit: "seeds", completed: 0, total: 100, elapsed: 0)
                == "simulate raft: 0/100 seeds")
        #expect(ProgressReporter.line(label: "simulate raft", unit: "seeds", completed: 100, total: 100, elapsed: 8)
                == "simulate raft: 100/100 seeds, 12.5 seeds/s")
    }

    @Test func durationsAreShortAndRounded() {
        #expect(ProgressReporter.duration(0.4) == "<1 s")
        #expect(ProgressReporter.duration(42) == "42 s")
        #expect(ProgressReporter.duration(185) == "3 min 05 s")
        #expect(ProgressReporter.duration(7_620) == "2 h 07 min")
        #expect(ProgressReporter.duration(.infinity) == "?")
        #expect(ProgressReporter.count(-1_234_567) == "-1,234,567")
    }

    @Test func nothingIsWrittenWhenStandardErrorIsNotATerminal() {
        let h = Harness()
        let progress = h.reporter(total: 10, terminal: false)
        for i in 1...10 {
            h.advance(1)
            progress.update(completed: i)
        }
        progress.advance(by: 3)
        progress.finish()
        #expect(h.output.isEmpty)
        #expect(!progress.isEnabled)
    }

    @Test func onATerminalUpdatesAreThrottledRedrawOneLineAndTheLineIsClearedAtTheEnd() {
        let h = Harness()
        let progress = h.reporter(total: 100, terminal: true)
        h.advance(1)
        progress.update(completed: 10)          // drawn
        h.advance(0.125)
        progress.update(completed: 20)          // within 0.2 s of the last: skipped
        h.advance(0.125)
        progress.advance(by: 10)                // 30, 0.25 s after the first: drawn
        progress.update(completed: 5)           // lower than before: ignored
        #expect(h.output == ["\rsimulate raft: 10/100 seeds, 10.0 seeds/s, about 9 s left\u{1B}[K",
                             "\rsimulate raft: 30/100 seeds, 24.0 seeds/s, about 3 s left\u{1B}[K"])
        progress.finish()
        progress.finish()
        h.advance(1)
        progress.update(completed: 90)          // after finish: nothing
        #expect(h.output.count == 3 && h.output.last == "\r\u{1B}[K")
    }

    @Test func finishingBeforeAnyLineWritesNothing() {
        let h = Harness()
        let progress = h.reporter(total: nil, terminal: true)
        progress.finish()
        #expect(h.output.isEmpty)
    }
}
