import LedgerCrypto
import LedgerModel

/// A precompiled contract of the node: contracts call it at ``address`` like any contract (Solidity and Vyper
/// through an interface), and it answers from the ledger's world state. It runs inside block execution on every
/// node, so it must be deterministic: read only `state`, never the clock, the network or local files.
///
/// Give precompiles to ``ContractExecutor/init(maximumTransactionGas:blockGasLimit:deploymentPolicy:alerts:precompiles:)``;
/// every node of a chain must run the same set (they are part of the chain's rules). AppAPI's `RecordsPrecompile`
/// lets contracts read manufacturing records.
///
/// ```swift
/// struct Height: ContractPrecompile {
///     let address = EVMAddress(hex: "0x0000000000000000000000000000000000000f00")!
///     func run(input: [UInt8], gas: UInt64, state: any StateReader) throws(LedgerError) -> EVMPrecompileOutcome {
///         .success(output: [], gasUsed: 100)
///     }
/// }
/// ```
public protocol ContractPrecompile: Sendable {
    /// Where contracts call it: any address outside 0x01–0x0a (the EVM's own precompiles, which take precedence).
    var address: EVMAddress { get }

    /// Runs one call.
    /// - Parameters:
    ///   - input: Required. The call data (ABI-encoded, for a precompile with a Solidity interface).
    ///   - gas: Required. The gas the call passed; `gasUsed` must not exceed it (else the call fails with all of it).
    ///   - state: Required. The world state as the calling transaction sees it (earlier transactions of the block
    ///     included); read only.
    /// - Returns: Success with return data, a revert with revert data (an `Error(string)` naming the problem), or
    ///   failure (all gas consumed).
    /// - Throws: `LedgerError` from `state` (a store failure): the node, not the transaction, failed.
    func run(input: [UInt8], gas: UInt64, state: any StateReader) throws(LedgerError) -> EVMPrecompileOutcome
}
