import Foundation

/// Maps runtime pcs to source lines, from vyper's `source_map_runtime` (its `pc_pos_map`) or solc's compressed
/// `srcmap-runtime` with the source text.
///
/// ```swift
/// let map = try AuditSourceMap(vyperSourceMapJSON: Data(contentsOf: url))
/// map.location(forPC: 150)?.line   // 18
/// ```
public struct AuditSourceMap: Sendable, Hashable {
    /// A line (1-based) and column (0-based).
    public struct Location: Sendable, Hashable {
        /// 1-based.
        public let line: Int
        /// 0-based.
        public let column: Int
        /// - Parameters:
        ///   - line: Required. 1-based.
        ///   - column: Required. 0-based.
        public init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }
    }

    /// The pcs that carry a location, ascending.
    private let pcs: [Int]
    private let locations: [Location]

    /// A map from explicit entries; a pc without one takes the nearest entry before it.
    /// - Parameter entries: Required. pc → location.
    public init(entries: [Int: Location]) {
        let sorted = entries.sorted { $0.key < $1.key }
        pcs = sorted.map(\.key)
        locations = sorted.map(\.value)
    }

    /// Reads vyper's `-f source_map_runtime` JSON (or the `sourceMap` object of its standard JSON output): the
    /// `pc_pos_map` object, pc → `[line, column, end line, end column]`.
    /// - Parameter data: Required. UTF-8 JSON.
    /// - Throws: `ContractError` `.auditSourceMapInvalid` (2361) when it is not JSON with a `pc_pos_map` object.
    public init(vyperSourceMapJSON data: Data) throws(ContractError) {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ContractError(.auditSourceMapInvalid, "the vyper source map is not JSON: \(error.localizedDescription)", details: ["entry": "json"])
        }
        guard let root = object as? [String: Any], let map = root["pc_pos_map"] as? [String: Any] else {
            throw ContractError(.auditSourceMapInvalid, "the vyper source map has no pc_pos_map object", details: ["entry": "pc_pos_map"])
        }
        var entries: [Int: Location] = [:]
        for (key, value) in map {
            guard let pc = Int(key), let position = value as? [Any], position.count >= 2,
                  let line = (position[0] as? NSNumber)?.intValue, let column = (position[1] as? NSNumber)?.intValue else {
                if value is NSNull { continue }
                throw ContractError(.auditSourceMapInvalid, "pc_pos_map entry \(key) is not [line, column, ...]", details: ["entry": key])
            }
            entries[pc] = Location(line: line, column: column)
        }
        self.init(entries: entries)
    }

    /// Reads solc's compressed source map (`s:l:f:j:m` per instruction, `;`-separated, empty fields repeat the
    /// previous entry's) against the runtime code it was produced for and the source it points into.
    /// - Parameters:
    ///   - solcSourceMap: Required. solc's `evm.deployedBytecode.sourceMap` (or `--srcmap-runtime`).
    ///   - source: Required. The text of the source file whose byte offsets the map uses (file index 0 only:
    ///     entries for other files map to no line).
    ///   - bytecode: Required. The runtime code, to count instructions.
    /// - Throws: `ContractError` `.auditSourceMapInvalid` (2361) for an entry whose offset is not a number.
    public init(solcSourceMap: String, source: String, bytecode: [UInt8]) throws(ContractError) {
        let instructions = EVMDisassembly(code: bytecode).instructions
        let utf8 = Array(source.utf8)
        var lineStarts = [0]
        for (offset, byte) in utf8.enumerated() where byte == UInt8(ascii: "\n") { lineStarts.append(offset + 1) }
        var start = 0, file = 0
        var entries: [Int: Location] = [:]
        for (index, entry) in solcSourceMap.split(separator: ";", omittingEmptySubsequences: false).enumerated() {
            guard index < instructions.count else { break }
            let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 0, !fields[0].isEmpty {
                guard let value = Int(fields[0]) else {
                    throw ContractError(.auditSourceMapInvalid, "source map entry \(index) has offset \(fields[0])", details: ["entry": String(entry)])
                }
                start = value
            }
            if fields.count > 2, !fields[2].isEmpty {
                guard let value = Int(fields[2]) else {
                    throw ContractError(.auditSourceMapInvalid, "source map entry \(index) has file \(fields[2])", details: ["entry": String(entry)])
                }
                file = value
            }
            guard file == 0, start >= 0, start <= utf8.count else { continue }
            var low = 0, high = lineStarts.count - 1
            while low < high {
                let mid = (low + high + 1) / 2
                if lineStarts[mid] <= start { low = mid } else { high = mid - 1 }
            }
            entries[instructions[index].pc] = Location(line: low + 1, column: start - lineStarts[low])
        }
        self.init(entries: entries)
    }

    /// The location of `pc`: its own entry or the nearest one before it; `nil` before the first entry.
    /// - Parameter pc: Required. Any integer.
    public func location(forPC pc: Int) -> Location? {
        var low = 0, high = pcs.count - 1, found: Int?
        while low <= high {
            let mid = (low + high) / 2
            if pcs[mid] <= pc {
                found = mid
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found.map { locations[$0] }
    }

    /// The number of entries.
    public var count: Int { pcs.count }
}
