"""Three witness processes on loopback, a 2-of-3 policy, honest and forking servers.

* Honest growth: the real ballot server (``create_app``) serves a real
  election while ballots are cast; three ``evote witness run`` processes
  cosign it, and the final checkpoint meets the policy.
* A fork: a deliberately malicious server (a small Flask app here, since the
  real one cannot fork its board) shows two different trees to different
  witnesses.  Each witness cosigns at most one side; the side shown to one
  witness fails the policy, so an auditor rejects that election; the
  witnesses shown both sides keep evidence files that prove the fork.
* SIGKILL: a witness killed at random instants, again and again, while the
  board grows and forks, restarts from its last durable state; it never
  cosigns a tree its durable state does not cover, nor the other side.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from ballot_server import create_app, db
from cli.witness import write_durably
from evote import merkle
from evote.checkpoint import (
    Checkpoint,
    Note,
    NoteSignature,
    board_note_key,
    election_origin,
    open_checkpoint,
    sign_checkpoint,
    verify_cosignature,
)
from evote.encoding import b64encode, parse_json
from evote.errors import WitnessPolicyError
from evote.signing import SigningKey
from evote.witness import (
    WitnessPolicy,
    WitnessState,
    check_witness_policy,
    verify_evidence,
    verify_final_checkpoint,
)
from tests.support import witnesses as shared_witnesses
from tests.support.api_election import MANIFEST, build_election, server_config
from tests.support.witnesses import init_witness, policy_of

ELECTION = "fork-poll"
DEADLINE = 30.0
witnesses = shared_witnesses.witnesses


# --- helpers -------------------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


class Processes:
    """Witness processes started by a test, each killed by its own pid at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, directory: Path, url: str, board_key: str, interval: float = 0.1) -> subprocess.Popen:
        log = open(directory / "run.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "cli.main", "witness", "run", str(directory),
                "--server", url, "--election", ELECTION, "--board-key", board_key,
                "--interval", str(interval),
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


def wait_for(condition: Callable[[], bool], what: str, logs: list[Path] = ()) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text(errors="replace")[-1500:] for p in logs if p.exists())
            pytest.fail(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.05)


# --- honest growth on the real server ------------------------------------------------------


def test_three_witnesses_cosign_normal_growth_of_a_real_board(tmp_path, witnesses, processes):
    policy = policy_of(witnesses)
    instance = tmp_path / "server"
    app = create_app(server_config(f"sqlite:///{tmp_path / 'board.sqlite'}", str(instance)))
    client = app.test_client()
    e = build_election(
        client, election_id=ELECTION, manifest={**MANIFEST, "witnesses": policy.to_json()}
    )
    board_key = e.board_key
    logs = [d / "run.log" for d, _ in witnesses]
    try:
        with serving(app) as url:
            for directory, _ in witnesses:
                processes.start(directory, url, board_key.to_json())
            for voter in (0, 1, 2, 3, 0, 1):  # the board grows while the witnesses poll
                e.cast_ok(voter)
                time.sleep(0.15)
            size = e.size()

            def all_cosigned() -> bool:
                r = client.get(f"{e.url}/checkpoint")
                return r.get_json()["witnesses"] == [k.name for _, k in witnesses]

            wait_for(all_cosigned, "all three witnesses to cosign the final board", logs)
            best = client.get(f"{e.url}/checkpoint/cosigned").get_json()
    finally:
        with app.app_context():
            db.get_engine().dispose()
    processes.stop_all()
    root = merkle.root(x.leaf_hash() for x in e.entries())
    names = verify_final_checkpoint(
        best["checkpoint"], board_key=board_key, election=ELECTION, size=size, root=root,
        policy=policy,
    )  # fmt: skip
    assert names == [k.name for _, k in witnesses]
    for directory, _ in witnesses:
        state = WitnessState.from_json(parse_json((directory / "state.json").read_bytes()))
        assert (state.logs[0].size, state.logs[0].root) == (size, root)
        assert not list((directory / "evidence").iterdir())
        assert "cosigned" in (directory / "run.log").read_text()


# --- a deliberately malicious, forking server -------------------------------------------------


class ForkingBoard:
    """Serves the witness API from MemoryTrees, a different tree per URL path.

    Witness ``w`` talks to ``<url>/<w>/api/v1/...``; ``views[w]`` is the tree
    (and size) it is shown.  Everything is signed with the one board key, as a
    compromised server would.  Every cosignature it receives is recorded.
    """

    def __init__(self, key: SigningKey, policy: WitnessPolicy) -> None:
        self.key = key
        self.policy = policy
        self.origin = election_origin(key.verify_key, ELECTION)
        self.views: dict[str, tuple[merkle.MemoryTree, int]] = {}
        # (view, checkpoint, witness name, cosignature) for every cosignature received
        self.received: list[tuple[str, Checkpoint, str, NoteSignature]] = []
        self.lock = threading.Lock()
        self.app = Flask("forking-board")
        base = "/<view>/api/v1"
        self.app.get(f"{base}/board-key")(self.board_key)
        self.app.get(f"{base}/elections/<election>/checkpoint")(self.checkpoint)
        self.app.get(f"{base}/elections/<election>/consistency")(self.consistency)
        self.app.post(f"{base}/elections/<election>/checkpoint/cosignatures")(self.cosignature)

    def show(self, view: str, tree: merkle.MemoryTree, size: int) -> None:
        with self.lock:
            self.views[view] = (tree, size)

    def note(self, tree: merkle.MemoryTree, size: int) -> Note:
        return sign_checkpoint(Checkpoint(self.origin, size, tree.root(size)), self.key)

    def board_key(self, view: str):
        return jsonify({"board_key": self.key.verify_key.to_json()})

    def checkpoint(self, view: str, election: str):
        with self.lock:
            tree, size = self.views[view]
        size = int(request.args.get("size", size))
        return jsonify({"checkpoint": self.note(tree, size).to_text()})

    def consistency(self, view: str, election: str):
        with self.lock:
            tree, _ = self.views[view]
        first, second = int(request.args["first"]), int(request.args["second"])
        proof = tree.consistency_proof(first, second)
        return jsonify({"first": first, "second": second, "proof": [b64encode(h) for h in proof]})

    def cosignature(self, view: str, election: str):
        body = request.get_json()
        cp, _ = open_checkpoint(body["checkpoint"], self.key.verify_key, election=ELECTION)
        sig = NoteSignature.parse_line(body["cosignature"].removesuffix("\n"))
        witness = next(w for w in self.policy.keys if w.note_key.matches(sig))
        verify_cosignature(cp.body(), sig, witness.note_key)
        with self.lock:
            self.received.append((view, cp, witness.name, sig))
        return jsonify({"size": cp.size, "witness": witness.name, "witnesses": []})

    def cosigned_by(self, name: str) -> list[Checkpoint]:
        with self.lock:
            return [cp for _, cp, w, _ in self.received if w == name]

    def assemble(self, tree: merkle.MemoryTree, size: int) -> Note:
        """The checkpoint (tree, size) with the cosignatures witnesses really posted for it."""
        note = self.note(tree, size)
        with self.lock:
            sigs = {
                w: sig
                for _, cp, w, sig in self.received
                if cp.size == size and cp.root == tree.root(size)
            }
        return note.with_signatures(sigs.values()) if sigs else note


def leaves(tag: bytes, n: int) -> list[bytes]:
    return [merkle.leaf_hash(tag + b" %d" % i) for i in range(n)]


A = merkle.MemoryTree(leaves(b"a", 400))
B = merkle.MemoryTree(leaves(b"a", 5) + leaves(b"b", 395))  # forks from A after entry 5


def side(cp: Checkpoint) -> str:
    """Which history a checkpoint belongs to (both agree up to size 5)."""
    if cp.size <= 5:
        return "common"
    return "A" if cp.root == A.root(cp.size) else "B" if cp.root == B.root(cp.size) else "?"


def test_a_forking_server_gets_at_most_one_side_cosigned(witnesses, processes):
    key = SigningKey.from_bytes(b"\x5a" * 32)
    policy = policy_of(witnesses)
    board = ForkingBoard(key, policy)
    names = [k.name for _, k in witnesses]
    logs = [d / "run.log" for d, _ in witnesses]
    with serving(board.app) as url:
        for i, (directory, _) in enumerate(witnesses):
            board.show(f"w{i}", A, 5)
            processes.start(directory, f"{url}/w{i}", key.verify_key.to_json())

        def cosigned(name: str, size: int, history: str) -> bool:
            return any(cp.size == size and side(cp) == history for cp in board.cosigned_by(name))

        wait_for(lambda: all(cosigned(n, 5, "common") for n in names), "size 5", logs)
        # The fork: w0 and w1 see history A, w2 sees history B, at the same size.
        board.show("w0", A, 8)
        board.show("w1", A, 8)
        board.show("w2", B, 8)
        wait_for(
            lambda: cosigned(names[0], 8, "A") and cosigned(names[1], 8, "A")
            and cosigned(names[2], 8, "B"),
            "each side cosigned by its audience", logs,
        )  # fmt: skip
        # Now the server tries to get B past the policy: it shows B to w0 (grown,
        # so only a consistency proof could tell) and to w1 (same size 8).
        board.show("w0", B, 12)
        board.show("w1", B, 8)
        evidence_dirs = [witnesses[0][0] / "evidence", witnesses[1][0] / "evidence"]
        wait_for(
            lambda: all(any(d.iterdir()) for d in evidence_dirs), "evidence from w0 and w1", logs
        )
        time.sleep(0.5)  # a few more polls: they must keep refusing
    processes.stop_all()

    # (1) No witness cosigned both sides.
    for name in names:
        sides = {side(cp) for cp in board.cosigned_by(name)} - {"common"}
        assert len(sides) == 1, (name, sides)

    # (2) Side B meets no 2-of-3 policy: an auditor given B's board rejects it,
    # while A's board passes with the two witnesses that saw it.
    args = {"board_key": key.verify_key, "election": ELECTION, "policy": policy}
    with pytest.raises(WitnessPolicyError) as err:
        verify_final_checkpoint(board.assemble(B, 8), size=8, root=B.root(8), **args)
    assert err.value.detail["signed"] == [names[2]]
    assert verify_final_checkpoint(board.assemble(A, 8), size=8, root=A.root(8), **args) == names[:2]
    with pytest.raises(WitnessPolicyError):  # nobody cosigned B beyond 8
        check_witness_policy(board.assemble(B, 12), policy)

    # (3) The evidence files alone prove the fork: two board-signed roots for one size.
    for directory in evidence_dirs:
        files = sorted(directory.iterdir())
        assert files
        for path in files:
            evidence = parse_json(path.read_bytes())
            assert verify_evidence(evidence, key.verify_key) == "equivocation"
            assert evidence["reason"] == "equivocation"
            assert board_note_key(board.origin, key.verify_key).name == evidence["origin"]
    assert not any((witnesses[2][0] / "evidence").iterdir())


# --- SIGKILL -------------------------------------------------------------------------------


def test_a_witness_killed_at_random_never_cosigns_beyond_its_durable_state(tmp_path, processes):
    directory = tmp_path / "w"
    wk = init_witness(directory, "killed.witness.example/w")
    policy = WitnessPolicy((wk,), 1)
    key = SigningKey.from_bytes(b"\x6b" * 32)
    board = ForkingBoard(key, policy)
    rnd = random.Random(20240607)
    board.show("w", A, 1)
    stop = threading.Event()

    def grow() -> None:
        size = 1
        while not stop.is_set() and size < 390:
            size += 1
            # Mostly history A; now and then the server tries history B instead.
            # B is only tried once the witness holds an A-only head (size > 5):
            # before that, B is a legitimate extension of what it cosigned.
            on_a = any(cp.size > 5 for cp in board.cosigned_by(wk.name))
            tree = B if on_a and rnd.random() < 0.2 else A
            board.show("w", tree, size)
            time.sleep(0.04)

    grower = threading.Thread(target=grow, daemon=True)
    with serving(board.app) as url:
        grower.start()
        try:
            log = directory / "run.log"
            for _ in range(10):
                seen = log.stat().st_size if log.exists() else 0
                proc = processes.start(directory, f"{url}/w", key.verify_key.to_json(), 0.02)
                # Once it is at work (its first report), kill it at a random instant.
                wait_for(lambda: log.exists() and log.stat().st_size > seen, "a round", [log])
                time.sleep(rnd.uniform(0.0, 0.5))
                processes.kill(proc)  # SIGKILL: no chance to clean up
                raw = (directory / "state.json").read_bytes()  # never torn
                state = WitnessState.from_json(parse_json(raw))
                cosigned = board.cosigned_by(wk.name)
                if cosigned:
                    durable = state.logs[0]
                    assert durable.size >= max(cp.size for cp in cosigned)
                    # everything cosigned is a prefix of what the durable state holds
                    for cp in cosigned:
                        assert side(cp) in ("common", "A"), cp
                        assert A.root(cp.size) == cp.root
                    assert durable.root == A.root(durable.size)
        finally:
            stop.set()
            grower.join()
    assert len(board.cosigned_by(wk.name)) > 5, "the witness never got going"
    assert "REFUSED" in (directory / "run.log").read_text(), "the fork was never tried"
    leftovers = [p for p in directory.iterdir() if p.name.startswith(".state.json.")]
    processes.start(directory, "http://127.0.0.1:9", key.verify_key.to_json())  # cleans up
    time.sleep(1.5)
    processes.stop_all()
    assert not [p for p in directory.iterdir() if p.name.startswith(".state.json.")], leftovers


WRITER = """
import sys
from pathlib import Path
from cli.witness import write_durably
target = Path(sys.argv[1])
blobs = [bytes([65 + i]) * (4 << 20) for i in range(2)]
i = 0
while True:
    write_durably(target, blobs[i % 2])
    i += 1
"""


def test_write_durably_leaves_the_old_or_the_new_file_when_killed(tmp_path):
    target = tmp_path / "state.json"
    write_durably(target, b"initial")
    allowed = {b"initial", b"A" * (4 << 20), b"B" * (4 << 20)}
    rnd = random.Random(7)
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], start_new_session=True)
        try:
            time.sleep(rnd.uniform(0.3, 0.8))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert target.read_bytes() in allowed
