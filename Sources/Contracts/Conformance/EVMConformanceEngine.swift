/// The interpreter the conformance runner drives: a transaction entry (state and blockchain tests) and a
/// frame entry (VMTests). ``interpreter`` is this module's EVM; tests can substitute another engine.
public struct EVMConformanceEngine: Sendable {
    /// Runs a transaction; throws when the transaction is invalid (it is then refused and changes nothing).
    public var transact: @Sendable (EVMTransaction, EVMBlockEnvironment, EVMFixtureState) throws(ContractError) -> EVMExecutionResult
    /// Runs one frame.
    public var runFrame: @Sendable (EVMMessage, EVMBlockEnvironment, EVMFixtureState) throws(ContractError) -> EVMFrameResult

    /// - Parameters:
    ///   - transact: Runs a transaction against a state, throwing for an invalid one.
    ///   - runFrame: Runs a frame against a state.
    public init(transact: @escaping @Sendable (EVMTransaction, EVMBlockEnvironment, EVMFixtureState) throws(ContractError) -> EVMExecutionResult,
                runFrame: @escaping @Sendable (EVMMessage, EVMBlockEnvironment, EVMFixtureState) throws(ContractError) -> EVMFrameResult) {
        self.transact = transact
        self.runFrame = runFrame
    }
}
