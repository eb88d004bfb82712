extension EVMConformanceEngine {
    /// This module's interpreter (``EVM`` with the default configuration: no node-level gas limits).
    public static var interpreter: EVMConformanceEngine {
        let evm = EVM()
        return EVMConformanceEngine(
            transact: { transaction, block, state throws(ContractError) in
                try evm.transact(transaction, block: block, state: state)
            },
            runFrame: { message, block, state throws(ContractError) in
                try evm.execute(message, block: block, state: state)
            })
    }
}
