import LedgerCrypto

extension StateProof {
    /// The binary form, canonical RLP:
    /// `[0x01, key, [value] or [], depth, bitmap, [sibling, ...], [path, valueHash] or []]`.
    /// The leading byte is the version. One proof has exactly one encoding.
    ///
    /// Example: `let bytes = proof.encoded`
    public var encoded: [UInt8] {
        RLP.encode(.list([
            .bytes([0x01]),
            .bytes(key),
            .list(value.map { [.bytes($0)] } ?? []),
            .uint(UInt64(max(depth, 0))),
            .bytes(bitmap),
            .list(siblings.map { .digest($0) }),
            .list(otherLeaf.map { [.digest($0.path), .digest($0.valueHash)] } ?? []),
        ]))
    }

    /// Decodes the binary form strictly. The result is not yet verified.
    /// - Parameter encoded: Required. Bytes as ``encoded`` produces them; any length.
    /// - Throws: `LedgerError` `LedgerError.Code.stateProofInvalid` (1603) for
    ///   bad RLP (the `rlpCode` detail gives the RLP code), an unknown
    ///   version, a wrong shape, a depth above 256 or a digest that is not 32 bytes.
    /// - Note: Pure; safe to call concurrently.
    ///
    /// Example: `let proof = try StateProof(encoded: bytes)`
    public init(encoded: [UInt8]) throws(LedgerError) {
        do throws(LedgerError) {
            let f = try RLP.decode(encoded).list("state proof", count: 7)
            guard try f[0].bytes("version") == [0x01] else {
                throw LedgerError(.unsupportedVersion, "state proof version is not 1")
            }
            let key = try f[1].bytes("key")
            let valueItems = try f[2].list("value")
            guard valueItems.count <= 1 else {
                throw LedgerError(.fieldCount, "field 'value': expected 0 or 1 elements, found \(valueItems.count)")
            }
            let value = try valueItems.first?.bytes("value")
            let depth = try f[3].uint64("depth")
            guard depth <= 256 else {
                throw LedgerError(.invalidFieldValue, "field 'depth': \(depth) is above 256")
            }
            let bitmap = try f[4].bytes("bitmap")
            var siblings = [Digest]()
            for s in try f[5].list("siblings") { siblings.append(try s.digest("sibling")) }
            let leafItems = try f[6].list("otherLeaf")
            var otherLeaf: Leaf?
            switch leafItems.count {
            case 0: otherLeaf = nil
            case 2: otherLeaf = Leaf(path: try leafItems[0].digest("otherLeaf.path"),
                                     valueHash: try leafItems[1].digest("otherLeaf.valueHash"))
            default:
                throw LedgerError(.fieldCount, "field 'otherLeaf': expected 0 or 2 elements, found \(leafItems.count)")
            }
            self.init(key: key, value: value, depth: Int(depth), bitmap: bitmap, siblings: siblings, otherLeaf: otherLeaf)
        } catch {
            throw LedgerError(.stateProofInvalid, "state proof does not decode: \(error.message)",
                              details: error.details.merging(["rlpCode": String(error.numericCode)]) { a, _ in a })
        }
    }
}

extension StateProof: Codable {
    private enum CodingKeys: String, CodingKey { case key, value, depth, bitmap, siblings, otherLeaf }

    /// Decodes the JSON form (byte strings and digests as hex).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func bytes(_ k: CodingKeys) throws -> [UInt8] {
            do { return try Hex.decode(try c.decode(String.self, forKey: k)) } catch let e as LedgerError {
                throw DecodingError.dataCorruptedError(forKey: k, in: c, debugDescription: e.description)
            }
        }
        key = try bytes(.key)
        value = try c.decodeNil(forKey: .value) ? nil : try bytes(.value)
        depth = try c.decode(Int.self, forKey: .depth)
        bitmap = try bytes(.bitmap)
        var s = [Digest]()
        for text in try c.decode([String].self, forKey: .siblings) {
            do { s.append(try Digest(hex: text)) } catch {
                throw DecodingError.dataCorruptedError(forKey: .siblings, in: c, debugDescription: error.description)
            }
        }
        siblings = s
        otherLeaf = try c.decodeIfPresent(Leaf.self, forKey: .otherLeaf)
    }

    /// Encodes the JSON form; `value` and `otherLeaf` are `null` when absent.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Hex.encode(key), forKey: .key)
        if let value { try c.encode(Hex.encode(value), forKey: .value) } else { try c.encodeNil(forKey: .value) }
        try c.encode(depth, forKey: .depth)
        try c.encode(Hex.encode(bitmap), forKey: .bitmap)
        try c.encode(siblings.map(\.hex), forKey: .siblings)
        if let otherLeaf { try c.encode(otherLeaf, forKey: .otherLeaf) } else { try c.encodeNil(forKey: .otherLeaf) }
    }
}

func stateDecodeDigest<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> Digest {
    let text = try c.decode(String.self, forKey: key)
    do { return try Digest(hex: text) } catch {
        throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: error.description)
    }
}
