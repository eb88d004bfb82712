extension WycheproofHandlers {
    /// Handlers for the signature-verification schemas
    /// (`ecdsa_verify_schema_v1.json`, `ecdsa_p1363_verify_schema_v1.json`,
    /// `eddsa_verify_schema_v1.json`).
    static let signatures: [String: WycheproofRunner.Handler] = [:]
}
