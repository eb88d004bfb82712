import LedgerCore
import Logging
import Metrics

/// The logs and metrics of ``RecordService``: records committed by upload and
/// update, refusals with their codes, and query latency.
///
/// Log records carry the user name, counts, record IDs and codes, never a
/// token or a record's field values. Metrics are made through the platform's
/// factory (``Platform/Options/metricsFactory``) and updated once per call or
/// confirmation, not per record.
/// - Note: `Sendable`: the instruments are thread-safe and the logger is a value.
struct RecordTelemetry: Sendable {
    let logger: Logger
    private let factory: any MetricsFactory
    private let uploaded: Counter
    private let updated: Counter
    private let queryDuration: Timer
    private let indexBehind: Gauge
    private let staleQueries: Counter

    init(logger: Logger, factory: (any MetricsFactory)?) {
        self.logger = logger
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        uploaded = Counter(label: "forgechain_records_uploaded_total", factory: factory)
        updated = Counter(label: "forgechain_records_updated_total", factory: factory)
        queryDuration = Timer(label: "forgechain_query_duration_seconds", factory: factory)
        indexBehind = Gauge(label: "forgechain_record_index_behind_blocks", factory: factory)
        staleQueries = Counter(label: "forgechain_records_stale_queries_total", factory: factory)
    }

    func submitted(records: Int, transactions: Int, user: String, operation: String) {
        logger.debug("records submitted", metadata: [
            "user": "\(user)", "operation": "\(operation)", "records": "\(records)", "transactions": "\(transactions)",
        ])
    }

    /// Records of one confirmation committed (all of them, or the part before a failure).
    func committed(records: Int, user: String, operation: String) {
        guard records > 0 else { return }
        (operation == "update" ? updated : uploaded).increment(by: records)
        logger.debug("records committed", metadata: ["user": "\(user)", "operation": "\(operation)", "records": "\(records)"])
    }

    /// A call refused or a confirmation that failed: counted by code, logged at notice with the record ID it concerns.
    func refused(_ error: AppError, user: String, operation: String, recordID: String?) {
        Counter(label: "forgechain_records_refused_total", dimensions: [("operation", operation), ("code", String(error.numericCode))],
                factory: factory).increment()
        var metadata: Logger.Metadata = ["user": "\(user)", "operation": "\(operation)", "code": "\(error.numericCode)"]
        if let recordID { metadata["record"] = "\(recordID)" }
        if let cause = error.details["cause"] { metadata["cause"] = "\(cause)" }
        logger.notice("records request refused", metadata: metadata)
    }

    func queried(rows: Int, user: String, duration: Duration) {
        queryDuration.record(duration: duration)
        logger.debug("records queried", metadata: ["user": "\(user)", "rows": "\(rows)", "duration": "\(duration)"])
    }

    /// A catch-up of the record index failed: counted by code and cause
    /// (`forgechain_record_index_catch_up_failures_total`), logged at error level with both, the heights and when
    /// it is tried again; `forgechain_record_index_behind_blocks` gets the lag.
    func indexCatchUpFailed(_ error: AppError, indexedHeight: UInt64, headHeight: UInt64, attempt: Int, retryIn: Duration) {
        let cause = error.details["cause"] ?? "-"
        Counter(label: "forgechain_record_index_catch_up_failures_total",
                dimensions: [("code", String(error.numericCode)), ("cause", cause)], factory: factory).increment()
        indexBehind.record(headHeight > indexedHeight ? Int64(headHeight - indexedHeight) : 0)
        logger.error("record index catch-up failed; queries answer from the index as it is and report how far behind it is", metadata: [
            "code": "\(error.numericCode)", "cause": "\(cause)", "error": "\(error.message)", "indexedHeight": "\(indexedHeight)",
            "headHeight": "\(headHeight)", "attempt": "\(attempt)", "retryIn": "\(retryIn)",
        ])
    }

    /// The record index caught up again after failed catch-ups.
    func indexCaughtUp(height: UInt64, afterFailures: Int) {
        indexBehind.record(0)
        logger.notice("record index caught up", metadata: ["height": "\(height)", "failedAttempts": "\(afterFailures)"])
    }

    /// A query answered from an index `behind` blocks short of the head (`forgechain_records_stale_queries_total`).
    func queriedBehind(_ behind: UInt64, user: String, error: AppError?) {
        staleQueries.increment()
        logger.warning("records query answered from a record index behind the ledger", metadata: [
            "user": "\(user)", "behind": "\(behind)", "code": "\(error.map { String($0.numericCode) } ?? "-")",
        ])
    }

    func indexRebuilt(versions: Int) {
        logger.notice("record index rebuilt from the chain", metadata: ["versions": "\(versions)"])
    }
}
