import Foundation

extension NSLock {
    /// `withLock` that keeps a typed error.
    func locked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
