# pragma version 0.4.3
# A plant's check of a batch against the manufacturing records on chain, through the records precompile
# (0x...0f00): a record's latest version, and a field of it read from its canonical bytes (proved by the digest).

interface Records:
    def recordOf(id: String[128]) -> (bool, uint64, bytes32, String[32], String[128]): view
    def fieldOf(id: String[128], record: Bytes[4096], name: String[128]) -> (uint64, String[256]): view

RECORDS: constant(address) = 0x0000000000000000000000000000000000000F00

event RecordChecked:
    record_id: String[128]
    version: uint64
    passed: bool

checked: public(HashMap[String[128], uint64])

@external
@view
def latest_version(record_id: String[128]) -> uint64:
    found: bool = False
    version: uint64 = 0
    digest: bytes32 = empty(bytes32)
    kind: String[32] = ""
    factory: String[128] = ""
    found, version, digest, kind, factory = staticcall Records(RECORDS).recordOf(record_id, skip_contract_check=True)
    assert found, "record not on chain"
    return version

@external
@view
def factory_of(record_id: String[128]) -> String[128]:
    found: bool = False
    version: uint64 = 0
    digest: bytes32 = empty(bytes32)
    kind: String[32] = ""
    factory: String[128] = ""
    found, version, digest, kind, factory = staticcall Records(RECORDS).recordOf(record_id, skip_contract_check=True)
    return factory

@external
def check_batch(record_id: String[128], record: Bytes[4096], batch: String[256]) -> bool:
    version: uint64 = 0
    value: String[256] = ""
    version, value = staticcall Records(RECORDS).fieldOf(record_id, record, "pro_raw_material.pro_batch_number", skip_contract_check=True)
    passed: bool = keccak256(value) == keccak256(batch)
    if passed:
        self.checked[record_id] = version
    log RecordChecked(record_id=record_id, version=version, passed=passed)
    return passed
