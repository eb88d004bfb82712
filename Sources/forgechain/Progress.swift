import Foundation

/// One updating line on standard error for long work (`simulate`, `bench`, `records import`, `ledger verify`):
/// the count done, the rate per second and, when the total is known, the estimated time left.
///
/// Writes only when standard error is a terminal, at most ``minimumInterval`` apart, and clears its line in
/// ``finish()``; when standard error is a pipe or a file (scripts, CI, the CLI tests) it writes nothing at all.
///
/// ```swift
/// let progress = ProgressReporter(label: "simulate", unit: "seeds", total: 100)
/// progress.update(completed: 37)   // "simulate: 37/100 seeds, 12.3 seeds/s, about 5 s left"
/// progress.finish()
/// ```
/// - Note: `@unchecked Sendable`: the mutable state is guarded by `lock` (an `NSLock`), so worker threads
///   (the simulator's `concurrentPerform`) may report concurrently.
final class ProgressReporter: @unchecked Sendable {
    let label: String
    let unit: String
    private var total: Int?
    /// Whether anything is ever written: `isatty(STDERR_FILENO)` unless injected.
    let isEnabled: Bool
    /// Seconds between two updates of the line; default 0.2 (at most 5 updates a second).
    let minimumInterval: Double
    private let now: @Sendable () -> Double
    private let write: @Sendable (String) -> Void
    private let lock = NSLock()
    private let start: Double
    private var lastWrite: Double?
    private var completed = 0
    private var finished = false

    /// - Parameters:
    ///   - label: Required. What runs, printed first (`simulate`, `records import`).
    ///   - unit: Required. What is counted, plural (`seeds`, `records`, `blocks`).
    ///   - total: Optional, default nil (unknown: no time estimate). The count at completion.
    ///   - isTerminal: Optional, default `isatty(STDERR_FILENO) != 0`. When false the reporter is silent.
    ///   - minimumInterval: Optional, default 0.2 s; range 0... .
    ///   - now: Optional, default the monotonic clock in seconds (tests inject one).
    ///   - write: Optional, default a write to standard error (tests capture it).
    init(label: String, unit: String, total: Int? = nil, isTerminal: Bool = isatty(STDERR_FILENO) != 0, minimumInterval: Double = 0.2,
         now: @escaping @Sendable () -> Double = ProgressReporter.monotonicSeconds,
         write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.unit = unit
        self.total = total
        self.isEnabled = isTerminal
        self.minimumInterval = max(0, minimumInterval)
        self.now = now
        self.write = write
        start = now()
    }

    /// Records that `completed` items are done (monotonic: a smaller count is ignored) and redraws the line if
    /// the last update is at least ``minimumInterval`` old. Safe to call from any thread.
    /// - Parameter total: Optional, default unchanged: the total, once the work knows it.
    func update(completed count: Int, total: Int? = nil) {
        guard isEnabled else { return }
        lock.withLock {
            if let total { self.total = total }
            redraw(count)
        }
    }

    /// Adds `n` to the count (see ``update(completed:)``).
    func advance(by n: Int = 1) {
        guard isEnabled else { return }
        lock.withLock { redraw(completed + n) }
    }

    /// With `lock` held.
    private func redraw(_ count: Int) {
        guard !finished, count >= completed else { return }
        completed = count
        let t = now()
        if let lastWrite, t - lastWrite < minimumInterval { return }
        lastWrite = t
        write("\r" + Self.line(label: label, unit: unit, completed: count, total: total, elapsed: t - start) + "\u{1B}[K")
    }

    /// Clears the line (when one was written) and stops further updates. Idempotent.
    func finish() {
        guard isEnabled else { return }
        lock.withLock {
            guard !finished else { return }
            finished = true
            if lastWrite != nil { write("\r\u{1B}[K") }
        }
    }

    /// The text of the line: `label: 37/100 seeds, 12.3 seeds/s, about 5 s left` (known total) or
    /// `label: 5,000 records, 1,234 records/s` (unknown total). Rate and estimate appear once time has passed.
    static func line(label: String, unit: String, completed: Int, total: Int?, elapsed: Double) -> String {
        var text = "\(label): " + (total.map { "\(count(completed))/\(count($0)) \(unit)" } ?? "\(count(completed)) \(unit)")
        guard elapsed > 0, completed > 0 else { return text }
        let rate = Double(completed) / elapsed
        text += ", " + (rate >= 100 ? count(Int(rate.rounded())) : String(format: "%.1f", rate)) + " \(unit)/s"
        if let total, total > completed {
            let left = duration(Double(total - completed) / rate)
            text += (left == "<1 s" ? ", " : ", about ") + left + " left"
        }
        return text
    }

    /// `1,234,567`.
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `<1 s`, `42 s`, `3 min 05 s`, `2 h 07 min`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s < 1 { return "<1 s" }
        if s < 60 { return "\(s) s" }
        if s < 3_600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3_600, (s % 3_600) / 60)
    }

    @Sendable static func monotonicSeconds() -> Double {
        let d = ContinuousClock.now - Self.epoch
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private static let epoch = ContinuousClock.now
}
