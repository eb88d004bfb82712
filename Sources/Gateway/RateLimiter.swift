import Foundation
import Synchronization

/// A token bucket per client key (the bearer token, or the client address before login): each key holds at most
/// `burst` requests and regains `requestsPerSecond`. A request that finds the bucket empty is refused with the
/// seconds until the next request is allowed (the 429 answer's Retry-After).
///
/// ```swift
/// let limiter = RateLimiter(requestsPerSecond: 50, burst: 100)
/// if let wait = limiter.admit("token-abc") { print("retry after", wait, "s") }
/// ```
public final class RateLimiter: Sendable {
    /// Requests regained per second; range 0.001...1,000,000.
    public let requestsPerSecond: Double
    /// The most requests in a burst; range 1...1,000,000.
    public let burst: Double
    /// The most keys remembered; the least recently seen are forgotten beyond it (they start full again).
    public static let maximumKeys = 100_000
    private let clock: @Sendable () -> Double
    private struct Bucket { var tokens: Double; var updated: Double }
    private let buckets = Mutex<[String: Bucket]>([:])

    /// - Parameters:
    ///   - requestsPerSecond: Required. Clamped to 0.001...1,000,000.
    ///   - burst: Required. Clamped to 1...1,000,000.
    ///   - clock: Optional, default the monotonic clock. Seconds, increasing (tests pass a simulated clock).
    public init(requestsPerSecond: Double, burst: Int, clock: (@Sendable () -> Double)? = nil) {
        self.requestsPerSecond = min(1_000_000, max(0.001, requestsPerSecond))
        self.burst = Double(min(1_000_000, max(1, burst)))
        let start = ContinuousClock.now
        self.clock = clock ?? { let d = ContinuousClock.now - start; return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
    }

    /// Takes one request from `key`'s bucket.
    /// - Parameter key: Required. The client's key.
    /// - Returns: nil when admitted; else the whole seconds (at least 1) until a request would be admitted.
    public func admit(_ key: String) -> Int? {
        let now = clock()
        return buckets.withLock { buckets -> Int? in
            if buckets.count >= Self.maximumKeys, buckets[key] == nil {
                // Forget the fullest half: they are the ones that lose least by starting full again.
                let keep = buckets.sorted { $0.value.updated > $1.value.updated }.prefix(Self.maximumKeys / 2)
                buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * requestsPerSecond)
            bucket.updated = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else {
                return max(1, Int(((1 - bucket.tokens) / requestsPerSecond).rounded(.up)))
            }
            bucket.tokens -= 1
            return nil
        }
    }
}
