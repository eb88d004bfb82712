import Testing
@testable import LedgerCore

struct SecureRandomTests {
    @Test func bytesHaveTheRequestedLengthAndDiffer() {
        #expect(SecureRandom.bytes(count: 0).isEmpty)
        let a = SecureRandom.bytes(count: 32), b = SecureRandom.bytes(count: 32)
        #expect(a.count == 32 && a != b)
    }

    @Test func fillOverwritesTheWholeBuffer() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        SecureRandom.fill(&buffer)
        // 4096 zero bytes from a working DRBG has probability 2^-32768.
        #expect(buffer.filter { $0 == 0 }.count < 100)
        #expect(Set(buffer).count > 200)
    }

    @Test func generatorDrivesStandardLibraryRandomness() {
        var rng = SecureRandomNumberGenerator()
        let values = (0..<64).map { _ in rng.next() }
        #expect(Set(values).count == 64)
        let picks = (0..<1000).map { _ in Int.random(in: 0..<10, using: &rng) }
        #expect(Set(picks).count == 10)
    }
}
