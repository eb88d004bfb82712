#!/usr/bin/env python3
"""Verify ForgeChain upload receipts offline, from the documented formats only.

Usage: verify_receipts.py RECEIPTS.json TRUST-ANCHOR.json

RECEIPTS.json holds one receipt (a JSON object) or an array of them, as
`forgechain records import --receipts` and `records update --receipt` write
them; the array is read one element at a time, so a file of any size is
verified in bounded memory. TRUST-ANCHOR.json is the chain's trust anchor
(DATA/trust-anchor.json).

Every step follows the article "Upload a record and verify its receipt
offline" (Sources/AppAPI/AppAPI.docc/UploadAndVerifyAReceipt.md, section
"The receipt's formats"): RLP, RFC 6962 proofs, the header and certificate
encodings, the signing payload and the signature schemes. Nothing here reads
ForgeChain's Swift types.

Supported: hash algorithms sha256 and sha3-256; signature schemes ed25519,
p256 and secp256k1; certificates of kinds pbft, raft, pos and pow; receipt
format 2. Anything else is refused with a message naming it.

Prints one line per refused receipt to standard error
("FAIL <n> <record_id>: <check>: <reason>") and a JSON summary
{"verified": N, "failed": M} to standard output. Exit status: 0 when every
receipt verifies, 1 when any is refused, 2 when the input cannot be read or
uses something this verifier does not support.

Needs Python 3.8+ and the `cryptography` package (Debian: python3-cryptography).
"""

import hashlib
import json
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
except ImportError:  # pragma: no cover - reported to the user
    sys.stderr.write("verify_receipts.py needs the Python package 'cryptography' (Debian: apt-get install python3-cryptography)\n")
    sys.exit(2)


class Unsupported(Exception):
    """The input uses an algorithm, scheme or format this verifier does not implement."""


class Refused(Exception):
    """A receipt does not verify; `check` names the step, as `forgechain records verify` does."""

    def __init__(self, check, reason):
        super().__init__(reason)
        self.check = check
        self.reason = reason


# ---------------------------------------------------------------- hashing

HASHES = {"sha256": hashlib.sha256, "sha3-256": hashlib.sha3_256}


def hasher(name):
    if name not in HASHES:
        raise Unsupported("hash algorithm '%s' is not supported by this verifier (it supports %s)" % (name, ", ".join(sorted(HASHES))))
    return lambda data: HASHES[name](data).digest()


# ---------------------------------------------------------------- RLP (strict, canonical)

def rlp_decode(data):
    """Decodes exactly one canonical RLP item spanning `data`: bytes, or a list of items."""
    item, end = _rlp_item(data, 0, len(data), 0)
    if end != len(data):
        raise ValueError("%d trailing bytes after the RLP item" % (len(data) - end))
    return item


def _rlp_length(data, pos, end, short, start):
    if short <= 55:
        length = short
    else:
        n = short - 55
        if pos + n > end:
            raise ValueError("RLP length at offset %d runs past the end" % start)
        if data[pos] == 0:
            raise ValueError("RLP length at offset %d has a leading zero" % start)
        if n > 7:
            raise ValueError("RLP length at offset %d is too wide" % start)
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
        if length <= 55:
            raise ValueError("RLP length at offset %d must use the short form" % start)
    if length > end - pos:
        raise ValueError("RLP item at offset %d runs past the end" % start)
    return length, pos


def _rlp_item(data, pos, end, depth):
    if depth > 64:
        raise ValueError("RLP nested too deeply")
    if pos >= end:
        raise ValueError("RLP input ends where an item was expected")
    start, prefix = pos, data[pos]
    pos += 1
    if prefix < 0x80:
        return bytes([prefix]), pos
    if prefix < 0xC0:
        length, pos = _rlp_length(data, pos, end, prefix - 0x80, start)
        if length == 1 and data[pos] < 0x80:
            raise ValueError("single byte at offset %d must be encoded as itself" % start)
        return bytes(data[pos:pos + length]), pos + length
    length, pos = _rlp_length(data, pos, end, prefix - 0xC0, start)
    items, list_end = [], pos + length
    while pos < list_end:
        item, pos = _rlp_item(data, pos, list_end, depth + 1)
        items.append(item)
    return items, pos


def rlp_encode(item):
    if isinstance(item, list):
        payload = b"".join(rlp_encode(i) for i in item)
        return _rlp_header(len(payload), 0xC0) + payload
    if len(item) == 1 and item[0] < 0x80:
        return bytes(item)
    return _rlp_header(len(item), 0x80) + bytes(item)


def _rlp_header(length, offset):
    if length < 56:
        return bytes([offset + length])
    n = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(n)]) + n


def rlp_uint(b, field):
    if not isinstance(b, bytes):
        raise ValueError("%s: expected an integer, found a list" % field)
    if b[:1] == b"\x00":
        raise ValueError("%s: integer with a leading zero byte" % field)
    if len(b) > 8:
        raise ValueError("%s: integer wider than 64 bits" % field)
    return int.from_bytes(b, "big")


def rlp_uint_bytes(value):
    return b"" if value == 0 else value.to_bytes((value.bit_length() + 7) // 8, "big")


def rlp_list(item, field, count=None):
    if not isinstance(item, list):
        raise ValueError("%s: expected a list" % field)
    if count is not None and len(item) != count:
        raise ValueError("%s: expected %d elements, found %d" % (field, count, len(item)))
    return item


def rlp_bytes(item, field, length=None):
    if not isinstance(item, bytes):
        raise ValueError("%s: expected a byte string" % field)
    if length is not None and len(item) != length:
        raise ValueError("%s: expected %d bytes, found %d" % (field, length, len(item)))
    return item


# ---------------------------------------------------------------- RFC 6962 / RFC 9162

def verify_inclusion(H, proof, leaf_data, root, algorithm, field):
    """RFC 9162 §2.1.3.2 over leaf hash H(0x00 || leaf_data); `proof` is the JSON proof object."""
    try:
        index, size = int(proof["leafIndex"]), int(proof["treeSize"])
        path = [bytes.fromhex(p) for p in proof["path"]]
    except (KeyError, TypeError, ValueError) as e:
        raise Refused(field, "malformed proof: %s" % e)
    if proof.get("algorithm", "sha256") != algorithm:
        raise Refused(field, "the proof uses %s, the chain %s" % (proof.get("algorithm"), algorithm))
    if any(len(p) != 32 for p in path):
        raise Refused(field, "a proof hash is not 32 bytes")
    if not 0 <= index < size:
        raise Refused(field, "leaf index %d is outside tree size %d" % (index, size))
    fn, sn, r = index, size - 1, H(b"\x00" + leaf_data)
    for p in path:
        if sn == 0:
            raise Refused(field, "the proof is longer than the tree")
        if fn & 1 or fn == sn:
            r = H(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = H(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Refused(field, "the proof is shorter than the tree")
    if r != root:
        raise Refused(field, "the proof does not lead to the root %s" % root.hex())
    return index, size


# ---------------------------------------------------------------- signatures

CURVES = {"p256": (ec.SECP256R1, 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
          "secp256k1": (ec.SECP256K1, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141)}
SCHEMES = ("ed25519", "p256", "secp256k1")


def public_key(scheme, raw):
    if scheme == "ed25519":
        if len(raw) != 32:
            raise ValueError("an ed25519 key is 32 bytes")
        return Ed25519PublicKey.from_public_bytes(raw)
    if scheme in CURVES:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[scheme][0](), raw)
    raise Unsupported("signature scheme '%s' is not supported by this verifier (it supports %s)" % (scheme, ", ".join(SCHEMES)))


def signature_valid(scheme, key, signature, message):
    try:
        if scheme == "ed25519":
            if len(signature) != 64:
                return False
            key.verify(signature, message)
            return True
        if scheme in CURVES:
            if len(signature) not in (64, 65):
                return False
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
            order = CURVES[scheme][1]
            if not (0 < r < order and 0 < s <= order // 2):   # low-S only, as the chain requires
                return False
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    raise Unsupported("signature scheme '%s' is not supported by this verifier" % scheme)


# ---------------------------------------------------------------- trust anchor

class Anchor:
    def __init__(self, obj):
        try:
            self.chain_id = int(obj["chain_id"])
            self.algorithm = obj["hash_algorithm"]
            validators = obj["validators"]
        except (KeyError, TypeError, ValueError) as e:
            raise Unsupported("the trust anchor is malformed: %s" % e)
        self.H = hasher(self.algorithm)
        self.validators = {}
        for v in validators:
            vid, scheme = int(v["id"]), v["scheme"]
            raw = bytes.fromhex(v["publicKey"])
            self.validators[vid] = (scheme, raw, public_key(scheme, raw), int(v.get("stake", 1)))
        if not self.validators:
            raise Unsupported("the trust anchor has no validators")
        self.total_stake = sum(v[3] for v in self.validators.values())


# ---------------------------------------------------------------- one receipt

def hexfield(receipt, name, check):
    try:
        return bytes.fromhex(receipt[name])
    except (KeyError, TypeError, ValueError):
        raise Refused(check, "field '%s' is missing or not hex" % name)


def verify_receipt(receipt, anchor):
    H, alg = anchor.H, anchor.algorithm
    if not isinstance(receipt, dict):
        raise Refused("format", "a receipt is a JSON object")
    fmt = receipt.get("format", 1)
    if fmt != 2:
        raise Unsupported("receipt format %r is not supported by this verifier (it reads format 2; format 1 "
                          "receipts carry the whole transaction: use `forgechain records verify`)" % fmt)
    try:
        record_id, version = receipt["record_id"], int(receipt["version"])
        height = int(receipt["block_height"])
        op_index = int(receipt["operation_index"])
    except (KeyError, TypeError, ValueError) as e:
        raise Refused("format", "missing or malformed field: %s" % e)
    record_digest = hexfield(receipt, "record_digest", "format")
    tx_id = hexfield(receipt, "transaction_id", "format")
    block_hash = hexfield(receipt, "block_hash", "format")

    # Header: RLP [version, chainID, height, parentHash, timestamp, transactionRoot, stateRoot, receiptRoot,
    # scheme, producer, consensusData, signature]; its hash is H(RLP of the first 11 elements).
    try:
        h = rlp_list(rlp_decode(hexfield(receipt, "header", "header")), "header", 12)
        if rlp_uint(h[0], "header.version") != 1:
            raise Unsupported("header version %d is not supported" % rlp_uint(h[0], "header.version"))
        chain_id, header_height = rlp_uint(h[1], "header.chainID"), rlp_uint(h[2], "header.height")
        tx_root, receipt_root = rlp_bytes(h[5], "header.transactionRoot", 32), rlp_bytes(h[7], "header.receiptRoot", 32)
        producer = (rlp_bytes(h[8], "header.scheme").decode("utf-8"), rlp_bytes(h[9], "header.producer"))
    except ValueError as e:
        raise Refused("header", str(e))
    if chain_id != anchor.chain_id:
        raise Refused("chain", "chain %d, the anchor's chain is %d" % (chain_id, anchor.chain_id))
    if H(rlp_encode(h[:11])) != block_hash or header_height != height:
        raise Refused("header", "the header does not hash to block %s at height %d" % (block_hash.hex(), height))

    verify_certificate(hexfield(receipt, "certificate", "certificate"), anchor, chain_id, height, block_hash, producer)

    # The transaction ID in the transaction root.
    index, size = verify_inclusion(H, receipt.get("inclusion_proof") or {}, tx_id, tx_root, alg, "inclusionProof")

    # The execution receipt: RLP [1, transactionID, status, output, logs, costUnits], leaf data H(receipt) in the receipt root.
    receipt_bytes = hexfield(receipt, "receipt", "receipt")
    try:
        r = rlp_list(rlp_decode(receipt_bytes), "receipt", 6)
        ok = (rlp_uint(r[0], "receipt.version") == 1 and rlp_bytes(r[1], "receipt.transactionID", 32) == tx_id
              and rlp_uint(r[2], "receipt.status") == 0)
        output = rlp_bytes(r[3], "receipt.output")
    except ValueError as e:
        raise Refused("receipt", str(e))
    if not ok:
        raise Refused("receipt", "the receipt is not the transaction's successful receipt")
    proof = receipt.get("receipt_proof") or {}
    if proof.get("leafIndex") != index or proof.get("treeSize") != size:
        raise Refused("receipt", "the receipt proof is for another position than the transaction's")
    verify_inclusion(H, proof, H(receipt_bytes), receipt_root, alg, "receipt")

    # The operations commitment RLP [1, opsRoot, opCount] and the operation's proof against it.
    try:
        c = rlp_list(rlp_decode(output), "opsCommitment", 3)
        if rlp_uint(c[0], "opsCommitment.version") != 1:
            raise ValueError("operations commitment version is not 1")
        ops_root, ops_count = rlp_bytes(c[1], "opsCommitment.root", 32), rlp_uint(c[2], "opsCommitment.count")
    except ValueError as e:
        raise Refused("operation", "the receipt's output is not an operations commitment: %s" % e)
    operation = hexfield(receipt, "operation", "operation")
    proof = receipt.get("operation_proof") or {}
    if proof.get("leafIndex") != op_index or proof.get("treeSize") != ops_count:
        raise Refused("operation", "the operation proof is not for operation %d of %d" % (op_index, ops_count))
    verify_inclusion(H, proof, operation, ops_root, alg, "operation")

    # The operation: RLP [op, recordID, version, recordBytes, digest, uploader, condition, changedFields, previousBytes].
    try:
        o = rlp_list(rlp_decode(operation), "op", 9)
        kind = rlp_bytes(o[0], "op.kind")
        if kind not in (b"create", b"update"):
            raise ValueError("op.kind is not create or update")
        op_record = rlp_bytes(o[1], "op.recordID").decode("utf-8")
        op_version = rlp_uint(o[2], "op.version")
        record_bytes, op_digest = rlp_bytes(o[3], "op.record"), rlp_bytes(o[4], "op.digest", 32)
    except (ValueError, UnicodeDecodeError) as e:
        raise Refused("operation", "the operation does not decode: %s" % e)
    if op_record != record_id or op_version != version:
        raise Refused("record", "the operation is for '%s' v%d" % (op_record, op_version))
    if op_digest != record_digest or H(record_bytes) != record_digest:
        raise Refused("record", "the transaction's record digest differs from %s" % record_digest.hex())


def verify_certificate(cert_bytes, anchor, chain_id, height, block_hash, producer):
    """Certificate RLP [1, kind, height, blockHash, round, [[signer, scheme, signature]...], difficulty, evidence];
    every vote signs RLP ["forgechain/commit/v1", kind, chainID, height, round, blockHash]."""
    try:
        c = rlp_list(rlp_decode(cert_bytes), "certificate", 8)
        if rlp_uint(c[0], "certificate.version") != 1:
            raise ValueError("certificate version is not 1")
        kind, cert_height = rlp_uint(c[1], "certificate.kind"), rlp_uint(c[2], "certificate.height")
        cert_hash, round_ = rlp_bytes(c[3], "certificate.blockHash", 32), rlp_uint(c[4], "certificate.round")
        votes = [rlp_list(v, "certificate.vote", 3) for v in rlp_list(c[5], "certificate.votes")]
        difficulty = rlp_uint(c[6], "certificate.difficulty")
    except ValueError as e:
        raise Refused("certificate", str(e))
    if cert_height != height or cert_hash != block_hash:
        raise Refused("certificate", "the certificate is for another block")
    if kind == 3:   # pow: H(header) as a 256-bit big-endian integer times the difficulty stays below 2^256
        meets = difficulty <= 1 or int.from_bytes(block_hash, "big") * difficulty < 1 << 256
        if difficulty < 1 or not meets:
            raise Refused("certificate", "the block hash does not meet difficulty %d" % difficulty)
        return
    if kind not in (1, 2, 4):
        raise Unsupported("certificate kind %d is not supported by this verifier" % kind)
    payload = rlp_encode([b"forgechain/commit/v1", rlp_uint_bytes(kind), rlp_uint_bytes(chain_id), rlp_uint_bytes(height),
                          rlp_uint_bytes(round_), block_hash])
    signers, previous = [], -1
    for v in votes:
        try:
            signer = rlp_uint(v[0], "certificate.vote.signer")
            scheme = rlp_bytes(v[1], "certificate.vote.scheme").decode("utf-8")
            signature = rlp_bytes(v[2], "certificate.vote.signature")
        except (ValueError, UnicodeDecodeError) as e:
            raise Refused("certificate", str(e))
        if signer not in anchor.validators:
            raise Refused("certificate", "signer %d is not a validator" % signer)
        if signer <= previous:
            raise Refused("certificate", "signer %d votes twice or out of order" % signer)
        previous = signer
        key_scheme, _, key, _ = anchor.validators[signer]
        if scheme != key_scheme or not signature_valid(scheme, key, signature, payload):
            raise Refused("certificate", "vote of %d does not verify" % signer)
        signers.append(signer)
    n = len(anchor.validators)
    if kind == 1:
        f = (n - 1) // 3
        if len(signers) < (n + f + 2) // 2:
            raise Refused("certificate", "%d votes, need %d of %d" % (len(signers), (n + f + 2) // 2, n))
    elif kind == 2:
        if not any((s, raw) == producer for s, raw, _, _ in anchor.validators.values()):
            raise Refused("certificate", "the block's producer is not a member")
        if len(signers) < n // 2 + 1:
            raise Refused("certificate", "%d acknowledgements, need a majority %d of %d" % (len(signers), n // 2 + 1, n))
    else:
        stake = sum(anchor.validators[s][3] for s in signers)
        if stake * 3 <= anchor.total_stake * 2:
            raise Refused("certificate", "signers hold stake %d of %d, need more than 2/3" % (stake, anchor.total_stake))


# ---------------------------------------------------------------- reading the file

MAX_ELEMENT = 16 << 20


def receipts_in(path):
    """Yields each receipt of a file holding one JSON object or an array, reading 64 KiB at a time."""
    decoder = json.JSONDecoder()
    with open(path, "r", encoding="utf-8") as f:
        buf, eof = "", False

        def more():
            nonlocal buf, eof
            chunk = f.read(1 << 16)
            if not chunk:
                eof = True
            buf += chunk
            return bool(chunk)

        def skip_space():
            nonlocal buf
            while True:
                stripped = buf.lstrip()
                if stripped or eof:
                    buf = stripped
                    return
                buf = ""
                more()

        skip_space()
        if not buf:
            raise ValueError("the file is empty")
        if buf[0] != "[":
            while more():
                pass
            yield json.loads(buf)
            return
        buf = buf[1:]
        first = True
        while True:
            skip_space()
            if buf[:1] == "]":
                buf = buf[1:]
                break
            if not first:
                if buf[:1] != ",":
                    raise ValueError("expected ',' or ']' between receipts")
                buf = buf[1:]
                skip_space()
            while True:
                try:
                    value, end = decoder.raw_decode(buf)
                    break
                except json.JSONDecodeError:
                    if eof:
                        raise ValueError("the file ends inside a receipt")
                    if len(buf) > MAX_ELEMENT:
                        raise ValueError("a receipt longer than %d bytes" % MAX_ELEMENT)
                    more()
            buf = buf[end:]
            first = False
            yield value
        skip_space()
        if buf:
            raise ValueError("bytes after the end of the array")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    try:
        with open(argv[2], "r", encoding="utf-8") as f:
            anchor = Anchor(json.load(f))
    except (OSError, ValueError, Unsupported) as e:
        sys.stderr.write("trust anchor %s: %s\n" % (argv[2], e))
        return 2
    verified = failed = 0
    try:
        for n, receipt in enumerate(receipts_in(argv[1]), 1):
            try:
                verify_receipt(receipt, anchor)
                verified += 1
            except Refused as e:
                failed += 1
                rid = receipt.get("record_id", "?") if isinstance(receipt, dict) else "?"
                sys.stderr.write("FAIL %d %s: %s: %s\n" % (n, rid, e.check, e.reason))
    except Unsupported as e:
        sys.stderr.write("unsupported: %s\n" % e)
        return 2
    except (OSError, ValueError) as e:
        sys.stderr.write("receipts %s: %s\n" % (argv[1], e))
        return 2
    print(json.dumps({"verified": verified, "failed": failed}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
