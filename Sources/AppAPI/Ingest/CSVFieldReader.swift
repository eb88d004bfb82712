import CSV
import Foundation

/// Reads CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into
/// ``FieldNode``s. The first row is the header; a column named with dots
/// (`pro_raw_material.pro_supplier`) fills a nested field. Empty cells are
/// absent fields. Each row's node carries the line it starts on.
enum CSVFieldReader {
    static func parse(_ data: Data) throws(AppError) -> [FieldNode] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw AppError(.malformedCSV, "CSV input is not valid UTF-8")
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(string: text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text, hasHeaderRow: true)
        } catch {
            throw AppError(.malformedCSV, "CSV line 1: \(error)", details: ["line": "1"])
        }
        var rows = try Rows(reader)
        var nodes: [FieldNode] = []
        while let node = try rows.next() { nodes.append(node) }
        return nodes
    }

    /// The rows of a CSV reader after its header, one node at a time (a file's rows are never all in memory).
    struct Rows {
        private let reader: CSVReader
        private let columns: [String]
        private var line: Int

        /// Checks the header row.
        /// - Throws: `.emptyInput` (5012) without a header; `.malformedCSV` (5007) when a column appears twice.
        init(_ reader: CSVReader) throws(AppError) {
            if let error = reader.error {
                throw AppError(.malformedCSV, "CSV line 1: \(error)", details: ["line": "1"])
            }
            guard var header = reader.headerRow, !header.isEmpty else {
                throw AppError(.emptyInput, "CSV input has no header row")
            }
            if header[0].hasPrefix("\u{FEFF}") { header[0].removeFirst() }
            let columns = header.map { $0.trimmingCharacters(in: .whitespaces) }
            var seen = Set<String>()
            if let dup = columns.first(where: { !seen.insert($0).inserted }) {
                throw AppError(.malformedCSV, "CSV line 1: column '\(dup)' appears twice", details: ["line": "1", "field": dup])
            }
            self.reader = reader
            self.columns = columns
            line = 1 + CSVFieldReader.newlines(in: header)
        }

        /// The next row's node (blank lines skipped), or nil after the last.
        /// - Throws: `.malformedCSV` (5007) with the line, for a row with the wrong cell count or unreadable input.
        mutating func next() throws(AppError) -> FieldNode? {
            while let row = reader.next() {
                let start = line + 1
                line = start + CSVFieldReader.newlines(in: row)
                if row.count == 1, row[0].isEmpty { continue }   // blank line
                guard row.count == columns.count else {
                    throw AppError(.malformedCSV, "CSV line \(start): \(row.count) cells, the header has \(columns.count)",
                                   details: ["line": String(start)])
                }
                return CSVFieldReader.nest(columns, row, line: start)
            }
            if let error = reader.error {
                throw AppError(.malformedCSV, "CSV line \(line + 1): \(error)", details: ["line": String(line + 1)])
            }
            return nil
        }
    }

    static func newlines(in cells: [String]) -> Int {
        cells.reduce(0) { $0 + $1.reduce(0) { $1 == "\n" || $1 == "\r\n" ? $0 + 1 : $0 } }
    }

    /// Builds the nested object of one row from dotted column names.
    static func nest(_ columns: [String], _ cells: [String], line: Int) -> FieldNode {
        var root: [FieldNode.Entry] = []
        for (column, cell) in zip(columns, cells) {
            let path = column.split(separator: ".").map(String.init)
            let value: FieldNode = cell.isEmpty ? .null(line: line) : .scalar(cell, line: line)
            insert(&root, path[...], value, line: line)
        }
        return .object(root, line: line)
    }

    private static func insert(_ entries: inout [FieldNode.Entry], _ path: ArraySlice<String>, _ value: FieldNode, line: Int) {
        guard let head = path.first else { return }
        if path.count == 1 {
            entries.append(.init(name: head, value: value))
            return
        }
        if let i = entries.firstIndex(where: { $0.name == head }), case .object(var inner, _) = entries[i].value {
            insert(&inner, path.dropFirst(), value, line: line)
            entries[i].value = .object(inner, line: line)
        } else {
            var inner: [FieldNode.Entry] = []
            insert(&inner, path.dropFirst(), value, line: line)
            entries.append(.init(name: head, value: .object(inner, line: line)))
        }
    }
}
