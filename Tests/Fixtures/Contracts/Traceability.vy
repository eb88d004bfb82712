# pragma version ~=0.4.3
"""
@title Plant batch traceability
@notice A plant registers each production batch with its quantity and the
        digests of the manufacturing records behind it, and appends records
        as the batch moves on. The owner can pause registration.
"""

MAX_RECORDS: constant(uint256) = 32

event BatchRegistered:
    batch_key: indexed(bytes32)
    registrar: indexed(address)
    batch_id: String[64]
    quantity: uint256
    record_count: uint256

event RecordAdded:
    batch_key: indexed(bytes32)
    record_id: indexed(bytes32)
    digest: bytes32
    index: uint256

event PausedChanged:
    by: indexed(address)
    paused: bool

struct Batch:
    quantity: uint256
    registrar: address
    records: DynArray[bytes32, MAX_RECORDS]
    digests: DynArray[bytes32, MAX_RECORDS]

owner: public(address)
paused: public(bool)
batch_count: public(uint256)
batches: HashMap[bytes32, Batch]


@deploy
def __init__():
    self.owner = msg.sender


@external
def set_paused(flag: bool):
    assert msg.sender == self.owner, "not owner"
    self.paused = flag
    log PausedChanged(by=msg.sender, paused=flag)


@external
def register_batch(batch_id: String[64], quantity: uint256, record_ids: DynArray[bytes32, MAX_RECORDS], digests: DynArray[bytes32, MAX_RECORDS]):
    assert not self.paused, "paused"
    assert len(batch_id) > 0, "empty batch id"
    assert len(record_ids) == len(digests), "record ids and digests differ in length"
    key: bytes32 = keccak256(batch_id)
    assert self.batches[key].registrar == empty(address), "batch exists"
    self.batches[key] = Batch(quantity=quantity, registrar=msg.sender, records=record_ids, digests=digests)
    self.batch_count += 1
    log BatchRegistered(batch_key=key, registrar=msg.sender, batch_id=batch_id, quantity=quantity, record_count=len(record_ids))


@external
def add_record(batch_id: String[64], record_id: bytes32, digest: bytes32):
    assert not self.paused, "paused"
    key: bytes32 = keccak256(batch_id)
    assert self.batches[key].registrar != empty(address), "unknown batch"
    index: uint256 = len(self.batches[key].records)
    assert index < MAX_RECORDS, "batch full"
    self.batches[key].records.append(record_id)
    self.batches[key].digests.append(digest)
    log RecordAdded(batch_key=key, record_id=record_id, digest=digest, index=index)


@view
@external
def get_batch(batch_id: String[64]) -> (uint256, address, DynArray[bytes32, MAX_RECORDS], DynArray[bytes32, MAX_RECORDS]):
    key: bytes32 = keccak256(batch_id)
    b: Batch = self.batches[key]
    assert b.registrar != empty(address), "unknown batch"
    return b.quantity, b.registrar, b.records, b.digests


@view
@external
def record_count(batch_id: String[64]) -> uint256:
    return len(self.batches[keccak256(batch_id)].records)
