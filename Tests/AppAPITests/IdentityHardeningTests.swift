import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// The identity findings of the records platform's security review, one test each: second-factor enrolment,
/// scope grants, live subscriptions after revocation, existence of records outside the caller's scope, and
/// login refusals that tell nothing about the account.
@Suite(.serialized) struct IdentityHardeningTests {
    let clock = TestClock()
    let identity: IdentityService
    static let rootPassword = "Root-Password-1"
    static let password = "Operator-Pass-1"

    init() {
        var config = IdentityService.Configuration()
        config.hasher = PasswordHasher(logN: 10)
        config.tokenLifetimeSeconds = 600
        let clock = self.clock
        identity = IdentityService(repository: InMemoryIdentityRepository(), configuration: config, clock: { clock.now })
    }

    func bootstrap() async throws -> String {
        _ = try await identity.createAdministrator(user: "root", password: Self.rootPassword, roles: [.superAdmin], token: nil)
        return try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil).token
    }

    /// The `AppError` `body` throws; an issue at the caller's line when it throws none.
    func refusal(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> AppError? {
        await #expect(throws: AppError.self, sourceLocation: sourceLocation) { try await body() }
    }

    var now: UInt64 { clock.now.rawValue / 1000 }

    // Finding 1: the password alone enrolled TOTP over an existing one, without lockout or the enabled check.
    @Test func enrollingTOTPWithAPasswordNeedsTheCurrentSecondFactorCountsTowardLockoutAndRefusesDisabledAccounts() async throws {
        let root = try await bootstrap()
        // A first-time user without a second factor enrols with the password (bootstrap).
        let first = try await identity.enrollTOTP(user: "root", password: Self.rootPassword)
        let totp = TOTP(secret: try Base32.decode(first.secretBase32))

        // Once a second factor exists, the password alone neither replaces it nor removes it.
        let replaced = await refusal { _ = try await identity.enrollTOTP(user: "root", password: Self.rootPassword) }
        #expect(replaced?.code == .mfaRequired)
        _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: totp.code(at: now))

        // Guessing passwords through enrolment counts toward the login lockout, and a locked account cannot enrol.
        _ = try await identity.createAdministrator(user: "line-op", password: Self.password, roles: [.operator], token: root)
        for _ in 0..<5 {
            let guess = await refusal { _ = try await identity.enrollTOTP(user: "line-op", password: "Guessed-Pass-1") }
            #expect(guess?.code == .invalidCredentials)
        }
        let lockedEnrolment = await refusal { _ = try await identity.enrollTOTP(user: "line-op", password: Self.password) }
        #expect(lockedEnrolment?.code == .invalidCredentials)
        let lockedLogin = await refusal { _ = try await identity.login(user: "line-op", password: Self.password, oneTimeCode: nil) }
        #expect(lockedLogin?.code == .invalidCredentials)

        // A disabled account cannot enrol.
        _ = try await identity.createAdministrator(user: "viewer1", password: Self.password, roles: [.viewer], token: root)
        _ = try await identity.disableAdministrator(user: "viewer1", token: root)
        let disabled = await refusal { _ = try await identity.enrollTOTP(user: "viewer1", password: Self.password) }
        #expect(disabled?.code == .invalidCredentials)
        #expect(try await identity.listAdministrators(token: root).map(\.mfa) == ["none", "totp", "none"])
    }

    // Finding 2: a super-admin limited to some factories granted `.all` or factories outside its own.
    @Test func aSuperAdminGrantsAndChangesOnlyScopesInsideItsOwn() async throws {
        let root = try await bootstrap()
        _ = try await identity.createAdministrator(user: "km-admin", password: Self.password, roles: [.superAdmin],
                                                   scope: .factories(["F-KM-02"]), token: root)
        let km = try await identity.login(user: "km-admin", password: Self.password, oneTimeCode: nil).token
        let beyond: [FactoryScope] = [.all, .factories(["F-KM-02", "F-QJ-01"]), .factories(["F-QJ-01"])]
        for scope in beyond {
            let create = await refusal {
                _ = try await identity.createAdministrator(user: "wide", password: Self.password, roles: [.viewer], scope: scope, token: km)
            }
            #expect(create?.numericCode == 5418, "\(scope)")
        }
        _ = try await identity.createAdministrator(user: "km-viewer", password: Self.password, roles: [.viewer],
                                                   scope: .factories(["F-KM-02"]), token: km)
        for scope in beyond {
            let modify = await refusal { _ = try await identity.modifyAdministrator(user: "km-viewer", scope: scope, token: km) }
            #expect(modify?.numericCode == 5418, "\(scope)")
            let own = await refusal { _ = try await identity.modifyAdministrator(user: "km-admin", scope: scope, token: km) }
            #expect(own?.numericCode == 5418, "\(scope)")
        }
        // Nor may it change an account whose scope reaches beyond its own (disable it, take over its password).
        let disable = await refusal { _ = try await identity.disableAdministrator(user: "root", token: km) }
        #expect(disable?.numericCode == 5418)
        let password = await refusal {
            try await identity.changePassword(user: "root", currentPassword: nil, newPassword: "Taken-Over-Pass-9", token: km)
        }
        #expect(password?.numericCode == 5418)

        let accounts = try await identity.listAdministrators(token: root)
        #expect(accounts.map(\.scope) == ["F-KM-02", "F-KM-02", "*"])
        // The limited administrator lists only the accounts inside its own scope (root is not among them).
        #expect(try await identity.listAdministrators(token: km).map(\.user) == ["km-admin", "km-viewer"])
        #expect(accounts.map(\.enabled) == [true, true, true])
        _ = try await identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil)
        // An unlimited super-admin grants any scope.
        _ = try await identity.modifyAdministrator(user: "km-viewer", scope: .all, token: root)
    }

    // Finding 3: change streams and delegates outlived the token (logout) and the account (disable).
    @Test func revokingTheTokenOrDisablingTheAccountEndsItsChangeStreamsAndDelegates() async throws {
        let f = try await RecordsFixture.open()
        let q = f.platform.records
        let alice = try await f.user("alice", roles: [.viewer]), bob = try await f.user("bob", roles: [.viewer])
        let aliceStream = try await q.changes(token: alice), bobStream = try await q.changes(token: bob)
        let aliceHook = ChangeCollector(), bobHook = ChangeCollector(), rootHook = ChangeCollector()
        try await q.addDelegate(aliceHook, token: alice)
        try await q.addDelegate(bobHook, token: bob)
        try await q.addDelegate(rootHook, token: f.rootToken)

        try await f.platform.identity.logout(token: alice)
        _ = try await f.platform.identity.disableAdministrator(user: "bob", token: f.rootToken)
        _ = try await q.upload(RecordsFixture.production(1), token: f.rootToken)

        for _ in 0..<1_000 where await rootHook.changes.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await rootHook.changes.map(\.recordID) == ["P-1"], "the change reached a subscriber whose rights stand")
        #expect(await Self.next(aliceStream) == .ended)
        #expect(await Self.next(bobStream) == .ended)
        try await Task.sleep(for: .milliseconds(200))
        #expect(await aliceHook.changes.isEmpty)
        #expect(await bobHook.changes.isEmpty)
        await f.close()
    }

    enum Next: Equatable { case change(String), ended, timedOut }

    /// The stream's next change, or whether it ended, within 10 s.
    static func next(_ stream: AsyncStream<RecordChange>) async -> Next {
        await withTaskGroup(of: Next.self) { group in
            group.addTask {
                var iterator = stream.makeAsyncIterator()
                return await iterator.next().map { .change($0.recordID) } ?? .ended
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return .timedOut
            }
            let first = await group.next() ?? .timedOut
            group.cancelAll()
            return first
        }
    }

    // Finding 4: history and update answered "not found" before checking permission, so a refusal meant "it exists".
    @Test func historyAndUpdateAnswerARecordTheCallerMayNotSeeAsIfItDidNotExist() async throws {
        let f = try await RecordsFixture.open(organisation: .factories(["F-KM-02", "F-QJ-01"]))
        let q = f.platform.records
        let inspection = RecordsFixture.inspection(3)
        _ = try await q.uploadBatch([RecordsFixture.production(1), RecordsFixture.production(2, factory: "F-QJ-01"), inspection],
                                    token: f.rootToken)
        let manager = try await f.user("km-manager", roles: [.recordManager], scope: .factories(["F-KM-02"]))
        let op = try await f.user("km-op", roles: [.operator], scope: .factories(["F-KM-02"]))

        // Another factory's record, and a record of a kind the caller's roles do not grant, look like an ID never written.
        for (token, hidden) in [(manager, "P-2"), (op, "P-2"), (op, inspection.recordID)] {
            let absent = "P-404"
            let history = await refusal { _ = try await q.history(recordID: hidden, token: token) }
            let noHistory = await refusal { _ = try await q.history(recordID: absent, token: token) }
            #expect(history?.code == .recordNotFound, "\(hidden)")
            #expect(history?.code == noHistory?.code)
            #expect(history?.message.replacingOccurrences(of: hidden, with: absent) == noHistory?.message)
            #expect(history?.details.mapValues { $0 == hidden ? absent : $0 } == noHistory?.details)
        }
        let update = await refusal { _ = try await q.update(recordID: "P-2", fields: ["propara.pro_temperature": "1"], token: manager) }
        let noUpdate = await refusal { _ = try await q.update(recordID: "P-404", fields: ["propara.pro_temperature": "1"], token: manager) }
        #expect(update?.code == .recordNotFound)
        #expect(update?.code == noUpdate?.code)
        #expect(update?.message.replacingOccurrences(of: "P-2", with: "P-404") == noUpdate?.message)
        #expect(update?.details.mapValues { $0 == "P-2" ? "P-404" : $0 } == noUpdate?.details)

        // The caller's own records still answer, and the hidden one is unchanged.
        #expect(try await q.history(recordID: "P-1", token: manager).count == 1)
        #expect(try q.index.history("P-2").count == 1)
        await f.close()
    }

    // Finding 5: locked and disabled accounts had login codes of their own.
    @Test func loginRefusalsLookAlikeForUnknownUsersWrongPasswordsAndLockedOrDisabledAccounts() async throws {
        let root = try await bootstrap()
        _ = try await identity.createAdministrator(user: "alice", password: Self.password, roles: [.viewer], token: root)
        _ = try await identity.createAdministrator(user: "bob", password: Self.password, roles: [.viewer], token: root)
        let unknown = await refusal { _ = try await identity.login(user: "ghost", password: Self.password, oneTimeCode: nil) }
        let wrong = await refusal { _ = try await identity.login(user: "alice", password: "Wrong-Pass-000", oneTimeCode: nil) }
        for _ in 0..<4 { _ = await refusal { _ = try await identity.login(user: "alice", password: "Wrong-Pass-000", oneTimeCode: nil) } }
        let locked = await refusal { _ = try await identity.login(user: "alice", password: Self.password, oneTimeCode: nil) }
        _ = try await identity.disableAdministrator(user: "bob", token: root)
        let disabled = await refusal { _ = try await identity.login(user: "bob", password: Self.password, oneTimeCode: nil) }

        #expect(unknown?.code == .invalidCredentials)
        for (name, e) in [("wrong password", wrong), ("locked", locked), ("disabled", disabled)] {
            #expect(e?.code == unknown?.code, "\(name)")
            #expect(e?.message == unknown?.message, "\(name)")
            #expect(e?.details == unknown?.details, "\(name)")
        }
        // The lockout still holds the right password off until it ends.
        clock.advance(seconds: 31)
        _ = try await identity.login(user: "alice", password: Self.password, oneTimeCode: nil)
    }
}
