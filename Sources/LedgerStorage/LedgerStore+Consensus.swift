import LedgerCrypto
import LedgerModel

extension LedgerStore {
    /// The commit certificate stored with the block at `height`, or nil when
    /// the block was appended without one (genesis, or a store filled by tools).
    /// - Parameter height: Required. Any height; a height above the head gives nil.
    /// - Throws: `.storeCorrupted` (1501) when the stored certificate does not decode, `.sqlite` (1510).
    /// - Note: Thread-safe. Example: `let cert = try store.certificate(atHeight: 12)`.
    public func certificate(atHeight height: Height) throws(LedgerError) -> CommitCertificate? {
        try read { (db) throws(LedgerError) -> CommitCertificate? in
            let s = try db.statement("SELECT encoded FROM certificates WHERE height = ?1")
            defer { s.reset() }
            s.bind(1, height.rawValue)
            guard try s.step() else { return nil }
            do throws(LedgerError) { return try CommitCertificate(decoding: s.blob(0)) } catch {
                throw LedgerError.store(.storeCorrupted, height: height, "stored certificate does not decode: \(error.message)")
            }
        }
    }

    /// Committed blocks with their certificates, ascending, from `from` through
    /// `through` (clamped to the head); blocks stored without a certificate end the list.
    /// - Parameters:
    ///   - from: Required. First height, ≥ 1.
    ///   - through: Required. Last height wanted.
    ///   - maximumCount: Optional, default unlimited; range 1...
    /// - Throws: `.storeCorrupted` (1501), `.sqlite` (1510).
    /// - Note: Thread-safe; one read transaction (a consistent snapshot).
    ///   Example: `let batch = try store.committedBlocks(from: 11, through: 74, maximumCount: 64)`.
    public func committedBlocks(from: Height, through: Height, maximumCount: Int = .max) throws(LedgerError) -> [CommittedBlock] {
        guard from <= through, maximumCount > 0 else { return [] }
        return try read { (db) throws(LedgerError) -> [CommittedBlock] in
            let s = try db.statement("""
                SELECT b.height, b.encoded, c.encoded FROM blocks AS b JOIN certificates AS c ON c.height = b.height
                WHERE b.height >= ?1 AND b.height <= ?2 ORDER BY b.height LIMIT ?3
                """)
            defer { s.reset() }
            s.bind(1, from.rawValue)
            s.bind(2, through.rawValue)
            s.bind(3, maximumCount)
            var out = [CommittedBlock]()
            var expected = from
            while try s.step() {
                let h = Height(s.uint(0))
                guard h == expected else { break }
                do throws(LedgerError) {
                    out.append(CommittedBlock(block: try Block(decoding: s.blob(1)), certificate: try CommitCertificate(decoding: s.blob(2))))
                } catch {
                    throw LedgerError.store(.storeCorrupted, height: h, "stored block or certificate does not decode: \(error.message)")
                }
                expected = h.next
            }
            return out
        }
    }

    /// Saves the consensus engine's persistent state
    /// (`ConsensusEffects.persistentState`) durably, replacing the previous one.
    /// - Parameter state: Required. Opaque bytes, at most 1 GiB.
    /// - Throws: `.readOnlyStore` (1516), `.storeClosed` (1521) after ``close()``, `.sqlite` (1510).
    /// - Note: Thread-safe; serialised with appends. Example: `try store.saveConsensusState(effects.persistentState!)`.
    public func saveConsensusState(_ state: [UInt8]) throws(LedgerError) {
        try withWritableWriter { (db) throws(LedgerError) in
            let s = try db.statement("INSERT OR REPLACE INTO consensus_state(key, value) VALUES('engine', ?1)")
            try s.run(binding: state, at: 1)
        }
    }

    /// The consensus state last saved with ``saveConsensusState(_:)``, or nil.
    /// - Throws: `.sqlite` (1510).
    /// - Note: Thread-safe.
    public func consensusState() throws(LedgerError) -> [UInt8]? {
        try read { (db) throws(LedgerError) -> [UInt8]? in
            let s = try db.statement("SELECT value FROM consensus_state WHERE key = 'engine'")
            defer { s.reset() }
            return try s.step() ? s.blob(0) : nil
        }
    }

    /// Values of many keys at the head, in one read transaction (nil for an absent key).
    /// - Parameter keys: Required. Each 1–1,024 bytes.
    /// - Throws: `.heightNotFound` (1503) for an empty store, `.sqlite` (1510).
    /// - Note: Thread-safe. Example: `let values = try store.stateValues(forKeys: [k1, k2])`.
    public func stateValues(forKeys keys: [[UInt8]]) throws(LedgerError) -> [[UInt8]?] {
        try read { (db) throws(LedgerError) -> [[UInt8]?] in
            let h = try Self.resolve(nil, db)
            var out = [[UInt8]?]()
            out.reserveCapacity(keys.count)
            for k in keys { out.append(try Self.stateValue(k, at: h, db)) }
            return out
        }
    }
}
