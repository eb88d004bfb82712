import Synchronization

/// A change to what a token may do, told to whoever holds something authorised with one (the record
/// service's change streams and delegates), so that a revocation ends it at once.
enum AccessChange: Sendable {
    /// One token was revoked (logout).
    case tokenRevoked(id: String)
    /// An account changed (roles, scope, enabled, its tokens revoked by a password change or disable), or was
    /// deleted (`account` nil).
    case accountChanged(user: String, account: AdminAccount?)
}

/// The observers of ``AccessChange``s of one ``IdentityService``.
///
/// Observers are called synchronously, in registration order, before the identity call that made the change
/// returns; they must be quick and must not call back into the identity service.
final class AccessChangeObservers: Sendable {
    private let observers = Mutex<[@Sendable (AccessChange) -> Void]>([])

    /// Adds `observer` for every later change.
    func observe(_ observer: @escaping @Sendable (AccessChange) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Tells every observer.
    func send(_ change: AccessChange) {
        for observer in observers.withLock({ $0 }) { observer(change) }
    }
}
