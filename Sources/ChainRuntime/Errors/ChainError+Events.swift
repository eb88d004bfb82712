// The event feed (4250–4269).
extension ChainError.Code {
    /// A log filter or page request is out of range (too many emitters or topics, a page limit outside 1…10,000, a checkpoint beyond the chain's head); `details["field"]` names it.
    public static let invalidLogFilter = Self(rawValue: 4250)
    /// The ledger could not be read while serving logs; `details["cause"]` carries the store's code. A subscription ends with this error; resume it from its last checkpoint.
    public static let logFeedReadFailed = Self(rawValue: 4251)
}
