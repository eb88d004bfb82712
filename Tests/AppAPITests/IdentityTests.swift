import Foundation
import Synchronization
import Testing
@testable import AppAPI
import LedgerCore

/// A clock tests can move.
final class TestClock: Sendable {
    private let millis = Mutex<UInt64>(1_764_000_000_000)
    var now: Timestamp { Timestamp(millisecondsSince1970: millis.withLock { $0 }) }
    func advance(seconds: UInt64) { millis.withLock { $0 += seconds * 1000 } }
}

struct OneTimePasswordTests {
    /// The RFC 4226/6238 vectors of the conformance folder (`FORGECHAIN_CONFORMANCE_DIR`, else `../shared/conformance`).
    static let vectorsFile: URL = {
        let root = ProcessInfo.processInfo.environment["FORGECHAIN_CONFORMANCE_DIR"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/conformance")
        return root.appendingPathComponent("crypto/standards/otp-vectors.json")
    }()

    /// Runs the test when the vectors are present; skips it with the reason when absent, fails it when absent in CI.
    struct MissingVectors: Error, CustomStringConvertible {
        var description: String { "the OTP vectors are required in CI: \(OneTimePasswordTests.vectorsFile.path) is absent" }
    }

    static let vectorsPresent = ConditionTrait.enabled("needs the OTP vectors: \(vectorsFile.path) is absent (put the conformance folder beside the checkout or set FORGECHAIN_CONFORMANCE_DIR)") {
        if FileManager.default.fileExists(atPath: vectorsFile.path) { return true }
        if let ci = ProcessInfo.processInfo.environment["CI"], !ci.isEmpty, ci != "false", ci != "0" { throw MissingVectors() }
        return false
    }

    static func vectors() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: vectorsFile)) as? [String: Any])
    }

    @Test(OneTimePasswordTests.vectorsPresent) func hotpMatchesRFC4226AppendixD() throws {
        let d = try Self.vectors()
        let h = d["hotp_rfc4226_appendix_d"] as! [String: Any]
        let secret = try Hex.decode(h["secret_hex"] as! String)
        let vectors = h["vectors"] as! [[String: Any]]
        #expect(vectors.count == 10)
        for v in vectors {
            #expect(TOTP.hotp(secret: secret, counter: UInt64(v["counter"] as! Int), digits: 6) == v["hotp_6_digits"] as! String)
        }
    }

    @Test(OneTimePasswordTests.vectorsPresent) func totpMatchesRFC6238AppendixBForEveryHash() throws {
        let d = try Self.vectors()
        let t = d["totp_rfc6238_appendix_b"] as! [String: Any]
        let secrets = t["secrets"] as! [String: [String: String]]
        let vectors = t["vectors"] as! [[String: Any]]
        #expect(vectors.count == 18)
        for v in vectors {
            let mode = v["mode"] as! String
            let totp = TOTP(secret: try Hex.decode(secrets[mode]!["hex"]!), algorithm: TOTP.Algorithm(rawValue: mode)!, digits: 8)
            #expect(totp.code(at: UInt64(v["unix_time"] as! Int)) == v["totp_8_digits"] as! String, "\(mode) at \(v["unix_time"]!)")
        }
    }

    @Test func base32RoundTripsAndTheURIHasTheAppFields() throws {
        let secret = Array("12345678901234567890".utf8)
        #expect(Base32.encode(secret) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        #expect(try Base32.decode("gezdgnbvgy3tqojqgezdgnbvgy3tqojq") == secret)
        let uri = TOTP(secret: secret).provisioningURI(account: "qa-lead", issuer: "ForgeChain")
        #expect(uri == "otpauth://totp/ForgeChain:qa-lead?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ForgeChain&algorithm=SHA1&digits=6&period=30")
    }

    @Test func driftWindowAcceptsNeighbouringStepsOnly() {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        let code = totp.code(at: 1_000_000)
        #expect(totp.matchingCounter(code, at: 1_000_000 + 30) != nil)
        #expect(totp.matchingCounter(code, at: 1_000_000 + 95) == nil)
    }
}

struct PasswordHasherTests {
    @Test func hashesVerifyAndNeverContainThePassword() throws {
        let hasher = PasswordHasher(logN: 10)
        let stored = try hasher.hash("Correct-Horse-9")
        #expect(stored.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(!stored.contains("Correct-Horse-9"))
        #expect(hasher.verify("Correct-Horse-9", against: stored))
        #expect(!hasher.verify("Correct-Horse-8", against: stored))
        #expect(!hasher.verify("Correct-Horse-9", against: "$scrypt$garbage"))
        #expect(try hasher.hash("Correct-Horse-9") != stored)   // fresh salt
        #expect(PasswordHasher().needsRehash(stored))
    }

    @Test(arguments: ["short1A!", "alllowercaseletters", "qa-lead-QA-LEAD"])
    func weakPasswordsAreRefused(password: String) {
        let error = #expect(throws: AppError.self) { try PasswordHasher.checkStrength(password, user: "QA-lead-qa-lead") }
        #expect(error?.code == .weakPassword)
    }
}

struct IdentityServiceTests {
    let clock = TestClock()
    let outbox = InMemoryCodeOutbox()
    let repository = InMemoryIdentityRepository()
    let identity: IdentityService
    static let rootPassword = "Root-Password-1"

    init() {
        var config = IdentityService.Configuration()
        config.hasher = PasswordHasher(logN: 10)
        config.tokenLifetimeSeconds = 600
        let clock = self.clock
        identity = IdentityService(repository: repository, codeSender: outbox, configuration: config, clock: { clock.now })
    }

    func bootstrap() async throws -> String {
        _ = try await identity.createAdministrator(user: "root", password: Self.rootPassword, roles: [.superAdmin], token: nil)
        return try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil).token
    }

    @Test func theFirstAdministratorNeedsNoTokenAndLaterOnesDo() async throws {
        #expect(try await identity.needsBootstrap())
        let token = try await bootstrap()
        #expect(try await !identity.needsBootstrap())
        let noToken = await #expect(throws: AppError.self) {
            _ = try await identity.createAdministrator(user: "op1", password: "Operator-Pass-1", roles: [.operator], token: nil)
        }
        #expect(noToken?.code == .permissionDenied)
        let op = try await identity.createAdministrator(user: "op1", password: "Operator-Pass-1", roles: [.operator],
                                                        scope: .factories(["F-KM-02"]), token: token)
        #expect(op.roles == [.operator])
        let dup = await #expect(throws: AppError.self) {
            _ = try await identity.createAdministrator(user: "OP1", password: "Operator-Pass-1", roles: [.viewer], token: token)
        }
        #expect(dup?.code == .accountExists)
    }

    @Test func wrongPasswordsLockTheAccountWithBackOff() async throws {
        _ = try await bootstrap()
        for _ in 0..<4 {
            let e = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: "nope-Nope-1", oneTimeCode: nil) }
            #expect(e?.code == .invalidCredentials)
        }
        let fifth = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: "nope-Nope-1", oneTimeCode: nil) }
        #expect(fifth?.code == .invalidCredentials)
        // Locked now, even with the right password (answered as a wrong password: the lock is not disclosed).
        let locked = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil) }
        #expect(locked?.code == .invalidCredentials)
        #expect(locked?.details["retryAfterSeconds"] == nil)
        clock.advance(seconds: 31)
        // One more failure doubles the lockout: still locked after 31 s, open after 61 s.
        _ = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: "nope-Nope-1", oneTimeCode: nil) }
        clock.advance(seconds: 31)
        let again = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil) }
        #expect(again?.code == .invalidCredentials)
        clock.advance(seconds: 30)
        _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil)
    }

    @Test func unknownUsersGetTheSameErrorAsWrongPasswords() async throws {
        _ = try await bootstrap()
        let e = await #expect(throws: AppError.self) { _ = try await identity.login(user: "ghost", password: "Whatever-123", oneTimeCode: nil) }
        #expect(e?.code == .invalidCredentials)
        #expect(e?.message == "unknown user or wrong password")
    }

    @Test func totpEnrolmentMakesTheCodeMandatoryAndRefusesReplays() async throws {
        let token = try await bootstrap()
        let enrollment = try await identity.enrollTOTP(user: "root", token: token)
        let totp = TOTP(secret: try Base32.decode(enrollment.secretBase32))
        let missing = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil) }
        #expect(missing?.code == .mfaRequired)
        let code = totp.code(at: clock.now.rawValue / 1000)
        _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: code)
        let replay = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: code) }
        #expect(replay?.code == .invalidOneTimeCode)
        clock.advance(seconds: 30)
        _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: totp.code(at: clock.now.rawValue / 1000))

        // A reset without a session needs the password and the current code; the old secret stops working.
        clock.advance(seconds: 30)
        let reset = try await identity.enrollTOTP(user: "root", password: Self.rootPassword, oneTimeCode: totp.code(at: clock.now.rawValue / 1000))
        let fresh = TOTP(secret: try Base32.decode(reset.secretBase32))
        clock.advance(seconds: 30)
        let old = await #expect(throws: AppError.self) {
            _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: totp.code(at: clock.now.rawValue / 1000))
        }
        #expect(old?.code == .invalidOneTimeCode)
        _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: fresh.code(at: clock.now.rawValue / 1000))
    }

    @Test func smsCodesComeThroughTheCodeSender() async throws {
        let token = try await bootstrap()
        _ = try await identity.createAdministrator(user: "qa-lead", password: "Quality-Lead-7", roles: [.recordManager],
                                                   contact: "+86-871-5550100", channel: .sms, token: token)
        try await identity.requestLoginCode(user: "qa-lead", password: "Quality-Lead-7")
        let code = try #require(await outbox.lastCode(to: "+86-871-5550100"))
        let wrong = await #expect(throws: AppError.self) { _ = try await identity.login(user: "qa-lead", password: "Quality-Lead-7", oneTimeCode: "000000" == code ? "111111" : "000000") }
        #expect(wrong?.code == .invalidOneTimeCode)
        let session = try await identity.login(user: "qa-lead", password: "Quality-Lead-7", oneTimeCode: code)
        #expect(session.roles == [.recordManager])
    }

    @Test func tokensExpireAndAreRevokedByLogoutPasswordChangeAndDisable() async throws {
        let token = try await bootstrap()
        _ = try await identity.createAdministrator(user: "viewer1", password: "Viewer-Pass-12", roles: [.viewer], token: token)
        let s1 = try await identity.login(user: "viewer1", password: "Viewer-Pass-12", oneTimeCode: nil)
        _ = try await identity.authenticate(token: s1.token)
        try await identity.logout(token: s1.token)
        let revoked = await #expect(throws: AppError.self) { _ = try await identity.authenticate(token: s1.token) }
        #expect(revoked?.code == .tokenRevoked)

        clock.advance(seconds: 1)
        let s2 = try await identity.login(user: "viewer1", password: "Viewer-Pass-12", oneTimeCode: nil)
        clock.advance(seconds: 1)
        try await identity.changePassword(user: "viewer1", currentPassword: "Viewer-Pass-12", newPassword: "Viewer-Pass-13", token: s2.token)
        let afterChange = await #expect(throws: AppError.self) { _ = try await identity.authenticate(token: s2.token) }
        #expect(afterChange?.code == .tokenRevoked)

        clock.advance(seconds: 1)
        let s3 = try await identity.login(user: "viewer1", password: "Viewer-Pass-13", oneTimeCode: nil)
        clock.advance(seconds: 1)
        let rootToken = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil).token
        _ = try await identity.disableAdministrator(user: "viewer1", token: rootToken)
        let afterDisable = await #expect(throws: AppError.self) { _ = try await identity.authenticate(token: s3.token) }
        #expect(afterDisable?.code == .tokenRevoked)
        let login = await #expect(throws: AppError.self) { _ = try await identity.login(user: "viewer1", password: "Viewer-Pass-13", oneTimeCode: nil) }
        #expect(login?.code == .invalidCredentials, "a disabled account is refused like a wrong password")

        clock.advance(seconds: 601)
        let expired = await #expect(throws: AppError.self) { _ = try await identity.authenticate(token: rootToken) }
        #expect(expired?.code == .tokenExpired)
    }

    @Test func wrongCurrentPasswordsCountTowardTheLockout() async throws {
        let token = try await bootstrap()
        for _ in 0..<5 {
            let e = await #expect(throws: AppError.self) {
                try await identity.changePassword(user: "root", currentPassword: "Guessed-Pass-1", newPassword: "Root-Password-2", token: token)
            }
            #expect(e?.code == .invalidCredentials)
        }
        _ = await #expect(throws: AppError.self) { _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil) }
        clock.advance(seconds: 31)
        _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil)
    }

    @Test func forgedOrAlteredTokensAreMalformed() async throws {
        let token = try await bootstrap()
        var bytes = Array(token)
        bytes[10] = bytes[10] == "A" ? "B" : "A"
        let e = await #expect(throws: AppError.self) { _ = try await identity.authenticate(token: String(bytes)) }
        #expect(e?.code == .tokenMalformed)
        let other = await #expect(throws: AppError.self) { _ = try await identity.authenticate(token: "fc1.abc.def") }
        #expect(other?.code == .tokenMalformed)
    }

    @Test func rolesAndFactoryScopesAreEnforced() async throws {
        let root = try await bootstrap()
        _ = try await identity.createAdministrator(user: "op-km", password: "Operator-Pass-1", roles: [.operator],
                                                   scope: .factories(["F-KM-02"]), token: root)
        let op = try await identity.login(user: "op-km", password: "Operator-Pass-1", oneTimeCode: nil).token
        _ = try await identity.authorize(token: op, permission: .uploadRecords, factory: "F-KM-02")
        let otherFactory = await #expect(throws: AppError.self) { _ = try await identity.authorize(token: op, permission: .queryRecords, factory: "F-QJ-01") }
        #expect(otherFactory?.code == .permissionDenied)
        #expect(otherFactory?.details["factory"] == "F-QJ-01")
        let noUpdate = await #expect(throws: AppError.self) { _ = try await identity.authorize(token: op, permission: .updateRecords, factory: "F-KM-02") }
        #expect(noUpdate?.code == .permissionDenied)
        let noAdmin = await #expect(throws: AppError.self) {
            _ = try await identity.createAdministrator(user: "sneaky", password: "Sneaky-Pass-1", roles: [.superAdmin], token: op)
        }
        #expect(noAdmin?.code == .permissionDenied)
        #expect(Role.auditor.permissions == [.queryRecords, .audit])
    }

    @Test func theLastSuperAdminCannotBeDisabledOrDeleted() async throws {
        let root = try await bootstrap()
        let e1 = await #expect(throws: AppError.self) { _ = try await identity.disableAdministrator(user: "root", token: root) }
        #expect(e1?.code == .lastSuperAdmin)
        let e2 = await #expect(throws: AppError.self) { try await identity.deleteAdministrator(user: "root", token: root) }
        #expect(e2?.code == .lastSuperAdmin)
        _ = try await identity.createAdministrator(user: "root2", password: "Root-Password-2", roles: [.superAdmin], token: root)
        try await identity.deleteAdministrator(user: "root2", token: root)
        #expect(try await identity.listAdministrators(token: root).map(\.user) == ["root"])
    }

    @Test func passwordsAndSecretsNeverAppearInSummaries() async throws {
        let root = try await bootstrap()
        _ = try await identity.enrollTOTP(user: "root", token: root)
        let text = String(describing: try await identity.listAdministrators(token: root))
        #expect(!text.contains(Self.rootPassword))
        #expect(!text.contains("scrypt"))
    }
}
