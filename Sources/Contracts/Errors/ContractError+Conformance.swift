// Ethereum tries, fixtures and the conformance runner (2100–2149).
extension ContractError.Code {
    /// The fixture folder (or file) given to the conformance runner does not exist or cannot be listed; `details["path"]` names it.
    public static let fixtureFolderMissing = Self(rawValue: 2100)
    /// A fixture file cannot be read or is not a JSON object of tests; `details["file"]` names it.
    public static let fixtureUnreadable = Self(rawValue: 2101)
    /// A fixture lacks a field or holds a value of the wrong form (bad hex, a number too large); the message names the field and the value.
    public static let fixtureMalformed = Self(rawValue: 2102)
}
