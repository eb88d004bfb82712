/// The executor's use of the interpreter, in one place.
enum ContractEVM {
    static func transact(_ transaction: EVMTransaction, block: EVMBlockEnvironment, state: some EVMStateReader,
                         maximumTransactionGas: UInt64) throws(ContractError) -> EVMExecutionResult {
        try EVM(configuration: EVMConfiguration(maxTransactionGas: maximumTransactionGas, maxBlockGas: block.gasLimit))
            .transact(transaction, block: block, state: state)
    }

    /// The text of an `Error(string)` revert (selector 0x08c379a0), when the data is one.
    static func revertReason(_ data: [UInt8]) -> String? {
        guard data.count >= 68, data.prefix(4) == [0x08, 0xC3, 0x79, 0xA0] else { return nil }
        let length = UInt256(bigEndian: data[36..<68])
        guard let n = length.uint64, n <= UInt64(data.count - 68) else { return nil }
        return String(decoding: data[68..<(68 + Int(n))], as: UTF8.self)
    }
}
