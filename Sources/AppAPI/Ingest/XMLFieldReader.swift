import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Reads XML into ``FieldNode``s with Foundation's `XMLParser`, keeping the
/// line of every element.
///
/// Elements with child elements become objects, elements with only text
/// become scalars (text is kept as written, whitespace trimmed at the ends),
/// empty elements become `null`. Attributes are not used for record fields.
/// External entities and DTDs are refused.
enum XMLFieldReader {
    static func parse(_ data: Data) throws(AppError) -> (rootName: String, node: FieldNode) {
        // Foundation's XMLParser traps on element names that are not valid
        // UTF-8, so invalid bytes are refused here, with their line.
        var decoder = UTF8()
        var bytes = data.makeIterator()
        var line = 1
        decoding: while true {
            switch decoder.decode(&bytes) {
            case .scalarValue(let scalar): if scalar == "\n" { line += 1 }
            case .emptyInput: break decoding
            case .error:
                throw AppError(.malformedXML, "XML line \(line): the input is not valid UTF-8", details: ["line": String(line)])
            }
        }
        let delegate = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        parser.delegate = delegate
        let ok = parser.parse()
        if let failure = delegate.failure { throw failure }
        guard ok, let root = delegate.root else {
            let line = parser.lineNumber
            let reason = parser.parserError.map { ($0 as NSError).localizedDescription } ?? "not well-formed"
            throw AppError(.malformedXML, "XML line \(line): \(reason)", details: ["line": String(line)])
        }
        return (root.name, root.node)
    }

    /// Builds the tree as the parser reports elements.
    private final class TreeBuilder: NSObject, XMLParserDelegate {
        struct Frame {
            var name: String
            var line: Int
            var children: [FieldNode.Entry] = []
            var text = ""
        }
        var stack: [Frame] = []
        var root: (name: String, node: FieldNode)?
        var failure: AppError?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            guard stack.count < 32 else {
                failure = AppError(.malformedXML, "XML line \(parser.lineNumber): nesting deeper than 32",
                                   details: ["line": String(parser.lineNumber)])
                parser.abortParsing()
                return
            }
            stack.append(Frame(name: elementName, line: parser.lineNumber))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !stack.isEmpty { stack[stack.count - 1].text += string }
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            if !stack.isEmpty { stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self) }
        }

        func parser(_ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?, systemID: String?) {
            failure = AppError(.malformedXML, "XML line \(parser.lineNumber): external entities are not accepted",
                               details: ["line": String(parser.lineNumber)])
            parser.abortParsing()
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let frame = stack.popLast() else { return }
            let text = frame.text.trimmingCharacters(in: .whitespacesAndNewlines)
            let node: FieldNode
            if !frame.children.isEmpty {
                guard text.isEmpty else {
                    failure = AppError(.malformedXML, "XML line \(frame.line): element <\(frame.name)> mixes text and elements",
                                       details: ["line": String(frame.line), "field": frame.name])
                    parser.abortParsing()
                    return
                }
                node = .object(frame.children, line: frame.line)
            } else if text.isEmpty {
                node = .null(line: frame.line)
            } else {
                node = .scalar(text, line: frame.line)
            }
            if stack.isEmpty {
                root = (frame.name, node)
            } else {
                stack[stack.count - 1].children.append(.init(name: frame.name, value: node))
            }
        }
    }
}
