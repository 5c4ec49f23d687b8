"""C2SP signed notes, checkpoints and cosignatures, byte for byte.

Known answers come from the published examples: c2sp.org/signed-note (the
``example.com/foo`` key and note), c2sp.org/tlog-checkpoint and
c2sp.org/tlog-cosignature (the ``behind-the-sofa`` checkpoint and its
cosignature), Go's ``golang.org/x/mod/sumdb/note`` package documentation (the
``PeterNeumann`` signing key, signature and ``EnochRoot`` second signature)
and ``transparency-dev/formats`` (verifier keys of types 0x01 and 0x04, a
cosignature timestamp).

Everything evote writes is also read back by :class:`SpecReader`, a second
parser written in this file from the specification text alone, which
verifies Ed25519 with ``cryptography`` rather than PyNaCl.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
import re
import string

import pytest
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from evote import merkle
from evote.checkpoint import (
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    Checkpoint,
    Note,
    NoteKey,
    NoteSignature,
    board_note_key,
    check_key_name,
    cosign,
    cosignature_message,
    cosignature_timestamp,
    election_origin,
    key_id,
    open_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_cosignature,
    verify_note,
)
from evote.errors import EncodingError, InvalidSignature, SchemaError
from evote.signing import SigningKey

EM = "\u2014"

# --- published vectors -----------------------------------------------------------

# c2sp.org/signed-note, "Verifier keys" example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    f"{EM} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# golang.org/x/mod/sumdb/note, package documentation.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_LINE = f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_LINE = f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

# c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature.
SOFA_BODY = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SOFA_LOG_LINE = f"{EM} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
SOFA_WITNESS_LINE = f"{EM} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
SOFA_COSIGNED_MESSAGE = (
    "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

# transparency-dev/formats note/note_cosigv1_test.go.
FORMATS_PLUS_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
FORMATS_COSIG_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
FORMATS_COSIG_B64 = "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
FORMATS_ED25519_B64 = "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="


def go_signing_key(skey: str) -> SigningKey:
    """The seed inside a Go ``PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>``."""
    raw = base64.b64decode(skey.split("+", 4)[4])
    assert raw[0] == SIG_ED25519
    return SigningKey.from_bytes(raw[1:])


# --- an independent reader, from the specification text ----------------------------


class SpecReader:
    """A second signed-note / checkpoint / cosignature reader, from the spec text.

    Deliberately shares no code with evote.checkpoint: byte-level splitting,
    the standard-library base64, and the ``cryptography`` Ed25519 verifier.
    """

    @staticmethod
    def split(note: bytes) -> tuple[bytes, list[tuple[str, bytes, bytes]]]:
        note.decode("utf-8")  # "MUST be valid UTF-8"
        assert all(b >= 0x20 or b == 0x0A for b in note), "control character"
        cut = note.rindex(b"\n\n")  # "separated from the signatures by the last empty line"
        text, block = note[: cut + 1], note[cut + 2 :]
        assert block.endswith(b"\n") and block
        sigs = []
        for line in block[:-1].split(b"\n"):
            prefix = "\u2014 ".encode()
            assert line.startswith(prefix)
            name, b64 = line[len(prefix) :].decode().split(" ")
            assert name and "+" not in name
            raw = base64.b64decode(b64, validate=True)
            sigs.append((name, raw[:4], raw[4:]))
        return text, sigs

    @staticmethod
    def key_id(name: str, sig_type: int, pub: bytes) -> bytes:
        return hashlib.sha256(name.encode() + b"\x0a" + bytes([sig_type]) + pub).digest()[:4]

    @staticmethod
    def ed25519_ok(pub: bytes, msg: bytes, sig: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        except CryptoInvalidSignature:
            return False
        return True

    @classmethod
    def checkpoint(cls, text: bytes) -> tuple[str, int, bytes, list[str]]:
        lines = text.decode().split("\n")
        assert lines[-1] == "" and len(lines) >= 4
        origin, size, root, *ext = lines[:-1]
        assert origin and size.isdigit() and (size == "0" or not size.startswith("0"))
        assert all(ext)
        return origin, int(size), base64.b64decode(root, validate=True), ext

    @classmethod
    def signed_by(cls, note: bytes, name: str, pub: bytes) -> bool:
        text, sigs = cls.split(note)
        kid = cls.key_id(name, 0x01, pub)
        return any(
            n == name and k == kid and cls.ed25519_ok(pub, text, s) for n, k, s in sigs
        )

    @classmethod
    def cosigned_by(cls, note: bytes, name: str, pub: bytes) -> int | None:
        text, sigs = cls.split(note)
        kid = cls.key_id(name, 0x04, pub)
        for n, k, s in sigs:
            if n == name and k == kid and len(s) == 72:
                ts = int.from_bytes(s[:8], "big")
                msg = b"cosignature/v1\ntime " + str(ts).encode() + b"\n" + text
                if cls.ed25519_ok(pub, msg, s[8:]):
                    return ts
        return None


# --- known answers ------------------------------------------------------------------


def test_go_signing_key_gives_the_published_signature_byte_for_byte():
    key = go_signing_key(GO_SKEY)
    sig = sign_note(GO_TEXT, "PeterNeumann", key)
    assert sig.line() == PETER_LINE
    assert Note(GO_TEXT, (sig,)).to_text() == GO_TEXT + "\n" + PETER_LINE
    assert NoteKey("PeterNeumann", SIG_ED25519, key.verify_key).to_vkey() == GO_VKEY


def test_go_doubly_signed_note_verifies_both_and_ignores_unknown_keys():
    note = Note.parse((GO_TEXT + "\n" + PETER_LINE + ENOCH_LINE).encode())
    assert note.text == GO_TEXT
    peter, enoch = NoteKey.from_vkey(GO_VKEY), NoteKey.from_vkey(ENOCH_VKEY)
    verify_note(note, peter)
    verify_note(note, enoch)
    assert [s.name for s in note.signatures_by(peter)] == ["PeterNeumann"]
    assert note.to_text() == GO_TEXT + "\n" + PETER_LINE + ENOCH_LINE


def test_signed_note_spec_example():
    key = NoteKey.from_vkey(SPEC_VKEY)
    assert key.key_id.hex() == "530d903a"
    assert key.to_vkey() == SPEC_VKEY
    note = Note.parse(SPEC_NOTE)
    assert note.text == "This is an example message.\n"
    verify_note(note, key)
    assert note.to_text() == SPEC_NOTE


def test_vkeys_of_both_types_from_transparency_dev_formats():
    plus = NoteKey.from_vkey(FORMATS_PLUS_VKEY)  # its base64 contains '+'
    assert plus.sig_type == SIG_ED25519 and plus.to_vkey() == FORMATS_PLUS_VKEY
    cosigner = NoteKey.from_vkey(FORMATS_COSIG_VKEY)
    assert cosigner.sig_type == SIG_COSIGNATURE_V1 and cosigner.key_id.hex() == "da77ade7"
    assert key_id(cosigner.name, SIG_ED25519, cosigner.public_key.raw) != cosigner.key_id


def test_tlog_checkpoint_and_cosignature_spec_examples():
    note = Note.parse(SOFA_BODY + "\n" + SOFA_LOG_LINE + SOFA_WITNESS_LINE)
    cp = Checkpoint.parse(note.text)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert base64.b64encode(cp.root).decode() == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    assert cp.body() == SOFA_BODY
    log_sig, witness_sig = note.signatures
    # The log signed with the key published as sum.golang.org's (same key ID).
    assert log_sig.key_id == NoteKey.from_vkey(SUMDB_VKEY).key_id
    assert len(log_sig.signature) == 64
    # The cosignature carries the time shown in the spec's signed-message example.
    assert witness_sig.key_id.hex() == "8d66cf3f" and len(witness_sig.signature) == 72
    assert cosignature_timestamp(witness_sig) == 1679315147
    assert cosignature_message(note.text, 1679315147) == SOFA_COSIGNED_MESSAGE.encode()


def test_cosignature_timestamp_vectors():
    raw = base64.b64decode(FORMATS_COSIG_B64)
    assert cosignature_timestamp(NoteSignature("w", raw[:4], raw[4:])) == 1727964367
    raw = base64.b64decode(FORMATS_ED25519_B64)  # a plain Ed25519 signature: no timestamp
    with pytest.raises(EncodingError):
        cosignature_timestamp(NoteSignature("w", raw[:4], raw[4:]))


# --- what evote writes, read by the independent reader ---------------------------------

BOARD = SigningKey.from_bytes(bytes(range(32)))
WITNESS = SigningKey.from_bytes(bytes(range(32, 64)))


ORIGIN = election_origin(BOARD.verify_key, "city-poll")


def _checkpoint(size: int = 5) -> Checkpoint:
    tree = merkle.MemoryTree(merkle.leaf_hash(b"entry %d" % i) for i in range(size))
    return Checkpoint(ORIGIN, size, tree.root())


def test_board_checkpoint_is_read_by_the_spec_reader():
    cp = _checkpoint()
    data = sign_checkpoint(cp, BOARD).to_bytes()
    text, sigs = SpecReader.split(data)
    assert SpecReader.checkpoint(text) == (ORIGIN, 5, cp.root, [])
    assert ORIGIN == "evote/" + BOARD.verify_key.to_json() + "/city-poll"
    assert [s[0] for s in sigs] == [ORIGIN]
    assert SpecReader.signed_by(data, cp.origin, BOARD.verify_key.raw)
    assert not SpecReader.signed_by(data, cp.origin, WITNESS.verify_key.raw)
    got, _ = open_checkpoint(data, BOARD.verify_key, election="city-poll")
    assert got == cp


def test_cosignature_is_read_by_the_spec_reader():
    note = sign_checkpoint(_checkpoint(), BOARD)
    sig = cosign(note.text, "witness.example.net/w1", WITNESS, 1_750_000_000)
    data = note.with_signatures([sig]).to_bytes()
    assert SpecReader.cosigned_by(data, "witness.example.net/w1", WITNESS.verify_key.raw) == (
        1_750_000_000
    )
    # The cosigner's key is not a note signer: type 0x01 under its name finds nothing.
    assert not SpecReader.signed_by(data, "witness.example.net/w1", WITNESS.verify_key.raw)
    wk = NoteKey("witness.example.net/w1", SIG_COSIGNATURE_V1, WITNESS.verify_key)
    assert verify_cosignature(note.text, sig, wk) == 1_750_000_000


def test_cosignature_covers_time_and_extension_lines():
    cp = _checkpoint()
    cp = Checkpoint(cp.origin, cp.size, cp.root, ("extension line",))
    body = cp.body()
    sig = cosign(body, "w", WITNESS, 42)
    wk = NoteKey("w", SIG_COSIGNATURE_V1, WITNESS.verify_key)
    other_time = NoteSignature("w", sig.key_id, (43).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(InvalidSignature):
        verify_cosignature(body, other_time, wk)
    with pytest.raises(InvalidSignature):
        verify_cosignature(body.replace("extension", "Extension"), sig, wk)


@settings(max_examples=30, deadline=None)
@given(
    election=st.text(string.ascii_lowercase + string.digits + "_-", min_size=1, max_size=64),
    size=st.integers(min_value=0, max_value=(1 << 63) - 1),
    root=st.binary(min_size=32, max_size=32),
    t=st.integers(min_value=0, max_value=(1 << 63) - 1),
)
def test_any_checkpoint_round_trips_and_satisfies_the_spec_reader(election, size, root, t):
    cp = Checkpoint(election_origin(BOARD.verify_key, election), size, root)
    note = sign_checkpoint(cp, BOARD)
    note = note.with_signatures([cosign(note.text, "w.example/1", WITNESS, t)])
    data = note.to_bytes()
    assert Note.parse(data) == note and Checkpoint.parse(note.text) == cp
    assert SpecReader.checkpoint(SpecReader.split(data)[0]) == (cp.origin, size, root, [])
    assert SpecReader.signed_by(data, cp.origin, BOARD.verify_key.raw)
    assert SpecReader.cosigned_by(data, "w.example/1", WITNESS.verify_key.raw) == t


# --- refusals ---------------------------------------------------------------------


def test_tampered_checkpoint_is_refused():
    data = sign_checkpoint(_checkpoint(), BOARD).to_text()
    forged = data.replace("\n5\n", "\n6\n", 1)
    with pytest.raises(InvalidSignature):
        open_checkpoint(forged, BOARD.verify_key)
    with pytest.raises(InvalidSignature):  # right note, wrong trusted key
        open_checkpoint(data, WITNESS.verify_key)
    with pytest.raises(SchemaError):
        open_checkpoint(data, BOARD.verify_key, election="another-poll")


def test_a_known_key_with_a_bad_signature_rejects_the_note():
    note = sign_checkpoint(_checkpoint(), BOARD)
    sig = note.signatures[0]
    bad = NoteSignature(sig.name, sig.key_id, sig.signature[:-1] + bytes([sig.signature[-1] ^ 1]))
    with pytest.raises(InvalidSignature):
        open_checkpoint(note.with_signatures([bad]), BOARD.verify_key)
    # Same name, other key ID: an unknown key, ignored -- but then no board signature.
    other = NoteSignature(sig.name, b"\0\0\0\0", sig.signature)
    with pytest.raises(InvalidSignature, match="not signed"):
        open_checkpoint(Note(note.text, (other,)), BOARD.verify_key)


ROOT64 = base64.b64encode(bytes(32)).decode()
SIG = f"{EM} o {base64.b64encode(bytes(68)).decode()}\n"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (f"o\n1\n{ROOT64}\n{SIG}", "no blank line"),
        (f"o\n1\n{ROOT64}\n\n", "no signature"),
        (f"o\n1\n{ROOT64}\n\n{SIG[:-1]}", "no final newline"),
        (f"o\n1\n{ROOT64}\n\n- o {ROOT64}\n", "hyphen instead of em dash"),
        (f"o\n1\n{ROOT64}\n\n{EM}  o {ROOT64}\n", "two spaces"),
        (f"o\n1\n{ROOT64}\n\n{EM} o+x {ROOT64}\n", "plus in key name"),
        (f"o\n1\n{ROOT64}\n\n{EM} o AAAA\n", "signature shorter than a key ID"),
        (f"o\n1\n{ROOT64}\n\n{EM} o {ROOT64[:-1]}\n", "unpadded base64"),
        (f"o\n1\n{ROOT64}\n\n{EM} o {ROOT64.replace('A', '-', 1)}\n", "base64url alphabet"),
        (f"o\t1\n1\n{ROOT64}\n\n{SIG}", "tab in the text"),
        (f"o\r\n1\n{ROOT64}\n\n{SIG}", "carriage return"),
    ],
)
def test_malformed_notes_are_refused(data, why):
    with pytest.raises(EncodingError):
        Note.parse(data.encode())


def test_invalid_utf8_and_oversized_notes_are_refused():
    with pytest.raises(EncodingError, match="UTF-8"):
        Note.parse(b"o\xff\n1\n" + ROOT64.encode() + b"\n\n" + SIG.encode())
    with pytest.raises(EncodingError, match="larger"):
        Note.parse(b"o\n" * 40000 + b"\n" + SIG.encode())
    with pytest.raises(EncodingError, match="at most"):
        Note.parse(f"o\n1\n{ROOT64}\n\n" + SIG * 101)


@pytest.mark.parametrize(
    "body",
    [
        f"o\n01\n{ROOT64}\n",  # leading zero
        f"o\n-1\n{ROOT64}\n",
        f"o\n\u0661\n{ROOT64}\n",  # a non-ASCII digit
        f"o\n{1 << 63}\n{ROOT64}\n",  # beyond 2^63 - 1
        "o\n1\n",  # no root
        f"o\n1\n{base64.b64encode(bytes(31)).decode()}\n",  # 31-byte root
        f"\n1\n{ROOT64}\n",  # empty origin
        f"o\n1\n{ROOT64}\n\next\n",  # empty extension line
        f"o\n1\n{ROOT64}",  # no final newline
    ],
)
def test_malformed_checkpoints_are_refused(body):
    with pytest.raises(EncodingError):
        Checkpoint.parse(body)


def test_zero_size_and_extension_lines_parse():
    cp = Checkpoint.parse(f"o\n0\n{ROOT64}\nx\ny z\n")
    assert cp.size == 0 and cp.extensions == ("x", "y z")
    assert cp.body() == f"o\n0\n{ROOT64}\nx\ny z\n"


@pytest.mark.parametrize(
    "vkey",
    [
        SPEC_VKEY.replace("530d903a", "530d903b"),  # wrong key ID
        SPEC_VKEY.replace("530d903a", "530D903A"),  # upper-case hex
        SPEC_VKEY.replace("+", "-", 1),  # no separator
        "example.com/foo+530d903a+AwEB",  # unknown type, too short
        SPEC_VKEY[:-1],  # truncated base64
        "a b+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # space in name
    ],
)
def test_bad_verifier_keys_are_refused(vkey):
    with pytest.raises(EncodingError):
        NoteKey.from_vkey(vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\nb", "x" * 257])
def test_bad_key_names_are_refused(name):
    with pytest.raises(EncodingError):
        check_key_name(name)


def test_origin_is_fixed_by_board_key_and_election():
    assert election_origin(BOARD.verify_key, "e1").endswith("/e1")
    assert election_origin(WITNESS.verify_key, "e1") != election_origin(BOARD.verify_key, "e1")
    with pytest.raises(EncodingError):
        election_origin(BOARD.verify_key, "a/b")
    # A checkpoint under another origin, even if board-signed, is not this election's.
    other = sign_checkpoint(Checkpoint("vote.example.org/city-poll", 1, bytes(32)), BOARD)
    open_checkpoint(other, BOARD.verify_key)
    with pytest.raises(SchemaError):
        open_checkpoint(other, BOARD.verify_key, election="city-poll")
    assert board_note_key("x/e1", BOARD.verify_key).name == "x/e1"


def test_signing_refuses_text_that_is_not_a_note():
    with pytest.raises(EncodingError):
        sign_note("no newline", "n", BOARD)
    with pytest.raises(EncodingError):
        sign_note("a\x00b\n", "n", BOARD)  # a NUL: could start an evote transcript
    with pytest.raises(EncodingError):
        cosign("a\n", "w", WITNESS, -1)


def test_the_worked_example_in_docs_witness_md():
    """docs/witness.md §2.2 shows a cosigned checkpoint; recompute it byte for byte."""
    doc = (pathlib.Path(__file__).parents[2] / "docs" / "witness.md").read_text()
    shown = re.search(r"```\n(evote/[^\n]*/city-poll\n.*?)```", doc, re.S).group(1)
    board = SigningKey.from_bytes(b"\x02" * 32)
    witness = SigningKey.from_bytes(b"\x03" * 32)
    tree = merkle.MemoryTree(merkle.leaf_hash(b"entry %d" % i) for i in range(5))
    note = sign_checkpoint(
        Checkpoint(election_origin(board.verify_key, "city-poll"), 5, tree.root()), board
    )
    note = note.with_signatures(
        [cosign(note.text, "w1.witness.example/evote", witness, 1_750_000_000)]
    )
    assert note.to_text() == shown
    vkey = NoteKey("w1.witness.example/evote", SIG_COSIGNATURE_V1, witness.verify_key).to_vkey()
    assert vkey in doc
