/// Namespaces the per-family Wycheproof handlers.
enum WycheproofHandlers {
    /// Handlers for the AEAD, IND-CPA (CBC), MAC and PBKDF schemas.
    static let symmetric: [String: WycheproofRunner.Handler] = [:]
}
