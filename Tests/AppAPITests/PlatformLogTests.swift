import Foundation
import Testing
@testable import AppAPI

/// `platform.log` rotation: the log stays within its configured bytes, keeps the newest lines whole and in
/// order, and a reopened log knows how full its file already is.
struct PlatformLogTests {
    func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-log-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The subjects in `files` (oldest file first), and every line checked to be whole.
    func subjects(_ files: [String]) throws -> [String] {
        var out = [String]()
        for file in files.reversed() {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.isEmpty || text.hasSuffix("\n"), "\(file) ends inside a line")
            for line in text.split(separator: "\n") {
                let subject = try #require(line.split(separator: " ").first { $0.hasPrefix("subject=") })
                #expect(line.contains(" op=upload ") && line.hasSuffix("code=0"), "damaged line: \(line)")
                out.append(String(subject.dropFirst("subject=".count)))
            }
        }
        return out
    }

    func size(_ file: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? -1
    }

    func name(_ i: Int) -> String { String(format: "R-%05d", i) }

    @Test func theLogRotatesAndKeepsTheNewestLinesWithinItsBytes() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = PlatformLog(path: dir + "/platform.log", rotation: .init(maximumFileBytes: 4_096, keptFiles: 2))
        for start in stride(from: 0, to: 700, by: 7) {
            log.write(user: "root", operation: "upload", entries: (start..<start + 7).map { (name($0), 0, "") })
        }
        let files = log.files
        #expect(files == [dir + "/platform.log", dir + "/platform.log.1", dir + "/platform.log.2"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/platform.log.3"))
        for file in files { #expect(try size(file) <= 4_096) }
        // What is kept is the newest lines, a gap-free run ending with the last one written.
        let kept = try subjects(files)
        #expect(kept.last == name(699))
        #expect(kept.count > 100 && kept.count < 700)
        #expect(kept == (700 - kept.count..<700).map(name))
    }

    @Test func aBatchLargerThanAFileIsSplitBetweenLinesAndNothingIsLostWithinTheKeptFiles() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = PlatformLog(path: dir + "/platform.log", rotation: .init(maximumFileBytes: 4_096, keptFiles: 10))
        log.write(user: "root", operation: "upload", entries: (0..<200).map { (name($0), 0, "") })
        let files = log.files
        #expect(files.count >= 3)
        for file in files { #expect(try size(file) <= 4_096) }
        #expect(try subjects(files) == (0..<200).map(name))
    }

    @Test func aReopenedLogCountsTheBytesAlreadyInItsFile() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rotation = PlatformLog.Rotation(maximumFileBytes: 4_096, keptFiles: 1)
        do {
            let first = PlatformLog(path: dir + "/platform.log", rotation: rotation)
            first.write(user: "root", operation: "upload", entries: (0..<40).map { (name($0), 0, "") })
            #expect(first.files.count == 1)
        }
        let before = try size(dir + "/platform.log")
        #expect(before > 2_048 && before < 4_096)
        let reopened = PlatformLog(path: dir + "/platform.log", rotation: rotation)
        reopened.write(user: "root", operation: "upload", entries: (40..<80).map { (name($0), 0, "") })
        // Appended, and rotated at the limit instead of growing past it.
        #expect(reopened.files.count == 2)
        for file in reopened.files { #expect(try size(file) <= 4_096) }
        #expect(try subjects(reopened.files) == (0..<80).map(name))
    }

    @Test func rotationSettingsAreClampedToTheirRanges() {
        let log = PlatformLog(path: nil, rotation: .init(maximumFileBytes: 10, keptFiles: 500))
        #expect(log.rotation == .init(maximumFileBytes: 4_096, keptFiles: 99))
        #expect(log.files.isEmpty)
        log.write(user: "root", operation: "upload", subject: "R-1", code: 0)   // no path: no file, no failure
        #expect(PlatformLog.Rotation() == .init(maximumFileBytes: 64 << 20, keptFiles: 4))
    }
}
