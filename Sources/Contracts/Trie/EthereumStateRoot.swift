import LedgerCrypto
import LedgerModel

/// Ethereum's state root: the secure trie of accounts, each `rlp([nonce, balance, storageRoot, codeHash])`
/// under keccak256(address), and per account the secure trie of its storage, `rlp(value)` under
/// keccak256(slot as 32 bytes); zero slots are absent.
///
/// ```swift
/// let root = EthereumStateRoot.root([(address, account, storage)])
/// ```
public enum EthereumStateRoot {
    /// The root of one account's storage.
    /// - Parameter storage: Slot → value; zero values are left out.
    /// - Returns: The storage root (``MerklePatriciaTrie/emptyRoot`` when every slot is zero).
    public static func storageRoot(_ storage: [UInt256: UInt256]) -> UInt256 {
        MerklePatriciaTrie.secureRoot(storage.compactMap { slot, value in
            value.isZero ? nil : (slot.bigEndianBytes, RLP.encode(.bytes(value.minimalBigEndianBytes)))
        })
    }

    /// The RLP of an account as the state trie stores it.
    /// - Parameters:
    ///   - account: Nonce, balance and code hash.
    ///   - storageRoot: The root of the account's storage trie.
    public static func accountRLP(_ account: EVMAccount, storageRoot: UInt256) -> [UInt8] {
        RLP.encode(.list([.uint(account.nonce), .bytes(account.balance.minimalBigEndianBytes),
                          .bytes(storageRoot.bigEndianBytes), .bytes(account.codeHash.bigEndianBytes)]))
    }

    /// The state root of a world state.
    /// - Parameter accounts: Each account with its storage (slot → value; zeros are ignored).
    /// - Returns: The 32-byte root.
    public static func root(_ accounts: [(address: EVMAddress, account: EVMAccount, storage: [UInt256: UInt256])]) -> UInt256 {
        MerklePatriciaTrie.secureRoot(accounts.map { entry in
            (entry.address.bytes, accountRLP(entry.account, storageRoot: storageRoot(entry.storage)))
        })
    }
}
