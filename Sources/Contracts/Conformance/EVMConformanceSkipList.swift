/// Conformance cases known to fail, each with the reason found. The goal is an empty list: the
/// conformance test fails both when a case not listed fails and when a listed case passes, so the list
/// always says exactly what does not work yet.
public enum EVMConformanceSkipList {
    /// Case name (as ``EVMConformanceReport/Case/name`` spells it) → why it fails.
    public static let entries: [String: String] = [:]
}
