"""The toolkit behind ``tools/make_conformance.py``: whole election records, honest or
tampered the way a dishonest party would tamper them.

A record is built from a :class:`Plan`: an ordered list of steps (board entries
and "sign a tree head here" markers) made by a :class:`Builder` that holds every
party's keys.  Writing a plan (:func:`write_record`) does what the server does:
it chains the entries (``prev`` = RFC 9162 leaf hash of the previous line),
canonicalises each (RFC 8785), rebuilds the Merkle tree and signs every head
with the board key; with a witness policy it also signs the final checkpoint
and has the chosen witnesses cosign it.

A conformance case that breaks one rule is an honest plan with one deviation,
made with the keys of the party that deviates: a command is re-signed with the
official's, credential authority's or a trustee's key (:meth:`Builder.command`),
a ballot with its voter's credential; the chain, tree and heads are then
rebuilt and re-signed as a dishonest server holding the board key would.  So
every signature, every link and every head of a tampered record is valid, and
only the rule can catch the deviation.  Steps can also edit their entry object
before it is canonicalised (``Step.edit``) or replace its bytes (``Step.raw``)
for the record-format rules, and heads can be forged (``Step.head``).

Everything is deterministic: keys, ceremony and ballot randomness come from
``evote.drbg.SeededRng`` seeded per case, times are a fixed clock, and
Ed25519 signatures are deterministic, so the same plan always gives the same
bytes.  Never use any of this for a real election.

Why one module of ~620 lines: the :class:`Builder` holds every party's keys
and the :class:`Plan` renderer rebuilds what those keys sign (chain, tree,
heads, checkpoint); a case is written against both, so they stay together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evote import dkg
from evote.ballot import AuditedBallot, Ballot, encrypt_ballot
from evote.board import VERSION as ENTRY_VERSION
from evote.board import TreeHead
from evote.checkpoint import Checkpoint, cosign, election_origin, sign_checkpoint
from evote.commands import sign_command
from evote.credentials import CredentialList, PublicCredential
from evote.dkg import trustee as dkg_trustee
from evote.drbg import SeededRng
from evote.encoding import b64encode, canonical_json
from evote.fingerprint import ElectionContext
from evote.group import Point, Scalar
from evote.manifest import Manifest
from evote.merkle import MemoryTree, leaf_hash
from evote.ranked import tally_bounds, tally_ciphertexts, tally_shape
from evote.record import (
    BOARD_FILE,
    CHECKPOINT_FILE,
    RECORD_FILE,
    TREE_HEADS_FILE,
    RecordHeader,
    record_json,
    tree_head_line,
)
from evote.signing import SigningKey, VerifyKey
from evote.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    aggregate,
    combine,
    partial_decrypt,
)

#: The fixed clock: entry i is written at START + 1000·i ms; a head just after.
START_TIME = 1_750_000_000_000


# --------------------------------------------------------------------------
# The election: every party's keys and the key ceremony
# --------------------------------------------------------------------------


@dataclass
class Fault:
    """A dishonest dealer in the key ceremony's phase 1: ``dealer`` seals a wrong share to
    ``recipient`` (who complains, bad-share); ``answer`` says what the dealer does
    with the complaint: ``"good"`` reveals the right pair (the complaint is
    cleared), ``"bad"`` reveals the wrong one, ``"none"`` stays silent (the dealer is
    disqualified)."""

    dealer: int
    recipient: int
    answer: str = "good"


@dataclass
class Election:
    """Every secret and public artefact of one generated election."""

    manifest: Manifest
    official: SigningKey
    authority: SigningKey
    board_key: SigningKey
    n: int
    t: int
    trustee_keys: dict[int, SigningKey]
    states: dict[int, dkg_trustee.TrusteeState]  # every trustee's state before finalize
    finished: dict[int, dkg_trustee.TrusteeState]  # qualified trustees' final states (their shares)
    joint: dkg.JointKey
    messages: dkg.CeremonyMessages
    bad_answers: tuple[dkg.ComplaintAnswer, ...]
    #: (dealer, recipient) -> (f_dealer(recipient), f'_dealer(recipient))
    owed: dict[tuple[int, int], tuple[Scalar, Scalar]]
    feldman: dict[int, tuple[Point, ...]]  # QUAL dealers' Feldman values (fingerprint)
    voters: list[SigningKey]
    weights: list[int]
    batches: list[CredentialList]
    credentials: CredentialList
    ctx: ElectionContext
    witnesses: list[tuple[str, SigningKey]]
    rng: SeededRng

    @property
    def eid(self) -> str:
        return self.manifest.election_id


class _Substitute:
    """An rng that answers its ``call``-th request with ``data`` and otherwise defers
    to ``rng``: how colluding trustees pick a polynomial coefficient through the
    public step function."""

    def __init__(self, rng: SeededRng, call: int, data: bytes) -> None:
        self.rng, self.call, self.data, self.calls = rng, call, data, 0

    def __call__(self, n: int) -> bytes:
        self.calls += 1
        if self.calls == self.call:
            assert n == len(self.data)
            return self.data
        return self.rng(n)


def _announce_all(eid: str, n: int, t: int, rng: SeededRng, joint_secret: Scalar | None):
    """Step 1 for every trustee; with ``joint_secret``, the trustees collude so that the
    joint secret key (the sum of their constant terms) is that scalar."""
    started = [dkg_trustee.step1_announce(eid, i, n, t, rng) for i in range(1, n)]
    if joint_secret is None:
        return [*started, dkg_trustee.step1_announce(eid, n, n, t, rng)]
    last = joint_secret
    for s, _ in started:
        last = last - s.polynomial[0]
    key = SigningKey.generate(rng)
    # with its signing key given, step 1 draws the box secret, then coefficient 0
    chosen = _Substitute(rng, 2, last.raw)
    state, ann = dkg_trustee.step1_announce(eid, n, n, t, chosen, signing_key=key)
    assert state.polynomial[0] == last
    return [*started, (state, ann)]


def _ceremony(eid: str, n: int, t: int, rng: SeededRng, fault: Fault | None,
              joint_secret: Scalar | None = None, withhold: Sequence[int] = ()):
    """GJKR's ceremony through the public step functions, honest except for ``fault``
    (see :class:`Fault`) and the QUAL dealers in ``withhold``, which never reveal their
    Feldman values and are rebuilt in public from the others' shares."""
    started = _announce_all(eid, n, t, rng, joint_secret)
    states = {s.trustee: s for s, _ in started}
    anns = [a for _, a in started]
    shares = [dkg_trustee.step2_shares(s, anns, rng) for s in states.values()]
    owed = {(d, r): dkg_trustee._pair(states[d], r) for d in states for r in states if r != d}
    bad_share = None
    if fault is not None:
        d, r = fault.dealer, fault.recipient
        s = states[d]
        good, blinding = owed[(d, r)]
        bad_share = good + Scalar.from_int(1)
        box = dkg_trustee.seal_share(eid, d, r, s.box_secret, anns[r - 1].box_key, bad_share,
                             blinding, rng(dkg.NONCE_BYTES))
        msg = shares[d - 1]
        boxes = [(j, box if j == r else b) for j, b in msg.boxes]
        shares[d - 1] = dkg.EncryptedShares.create(eid, s.signing_key, dealer=d, boxes=boxes)
    complaints: list[dkg.Complaint] = []
    for s in states.values():
        outcome = dkg_trustee.step3_receive(s, anns, shares)
        if isinstance(outcome, list):
            complaints += outcome
    answers: list[dkg.ComplaintAnswer] = []
    bad_answers: list[dkg.ComplaintAnswer] = []
    if fault is None or fault.answer == "good":
        answers = [a for s in states.values() for a in dkg_trustee.step4_answer(s, anns, complaints)]
    elif fault.answer == "bad":
        assert bad_share is not None
        bad_answers = [dkg.ComplaintAnswer.create(
            eid, states[fault.dealer].signing_key, dealer=fault.dealer,
            accuser=fault.recipient, share=bad_share,
            blinding=owed[(fault.dealer, fault.recipient)][1])]
    dealt = {s.dealer for s in shares}
    qualified = dkg.qualified_set(eid, n, t, anns, complaints, answers, dealt=dealt)
    commitments = [dkg_trustee.step5_reveal(states[i], rng) for i in qualified if i not in withhold]
    reconstruct = None
    reconstructions: list[dkg.Reconstruction] = []
    missing = dkg.unrevealed(qualified, commitments)
    if missing:
        reconstruct = dkg.Reconstruct(missing)
        for i in qualified:
            if i not in missing:
                reconstructions += dkg_trustee.step6_reconstruct(states[i], anns, shares, answers,
                                                         missing)
    outcome = dkg.ceremony_outcome(eid, n, t, anns, complaints, answers, commitments,
                                   reconstructions, dealt=dealt)
    finished = {}
    for i in qualified:
        if i in withhold:
            continue  # a dealer that walked away does not decrypt either
        joint, st = dkg_trustee.finalize(states[i], anns, shares, complaints, answers, commitments,
                                 reconstructions)
        assert joint == outcome.joint
        finished[i] = st
    keys = {i: s.signing_key for i, s in states.items()}
    messages = dkg.CeremonyMessages(tuple(anns), tuple(shares), tuple(complaints),
                                    tuple(answers), dkg.Qualified(qualified), tuple(commitments),
                                    reconstruct, tuple(reconstructions))
    return (keys, states, finished, outcome.joint, messages, tuple(bad_answers), owed,
            dict(outcome.feldman))


def small_manifest(eid: str, *, witnesses: dict[str, Any] | None = None) -> dict[str, Any]:
    """One yes/no question: the smallest ballot (two options), for the tampered cases."""
    m: dict[str, Any] = {
        "election_id": eid,
        "title": "Conformance poll",
        "questions": [{"id": "q", "title": "Approve the proposal?", "options": ["Yes", "No"],
                       "kind": "choice", "min": 1, "max": 1}],
    }
    if witnesses is not None:
        m["witnesses"] = witnesses
    return m


def rich_manifest(eid: str) -> dict[str, Any]:
    """A choice question with three options and a score question (sum proofs too)."""
    return {
        "election_id": eid,
        "title": {"en": "City poll", "ru": "Городской опрос"},
        "questions": [
            {"id": "park", "title": "Which park should be renovated first?",
             "options": ["North", "South", "East"], "kind": "choice", "min": 1, "max": 1},
            {"id": "budget", "title": "Give up to 3 points to each project",
             "options": ["Library", "Pool"], "kind": "score", "min": 0, "max": 4,
             "max_score": 3},
        ],
    }


def make_election(
    eid: str,
    *,
    seed: bytes,
    voters: int = 3,
    n: int = 3,
    t: int = 2,
    weights: Sequence[int] | None = None,
    batches: Sequence[int] | None = None,
    fault: Fault | None = None,
    witnesses: int = 0,
    witness_threshold: int = 0,
    manifest: dict[str, Any] | None = None,
    joint_secret: Scalar | None = None,
    withhold: Sequence[int] = (),
    schedule: dict[str, str] | None = None,
) -> Election:
    """Keys for every party, the ceremony and the credential batches.

    ``batches`` gives the number of voters in each credential batch (in voter
    order; default one batch).  ``witnesses`` > 0 puts a ``witness_threshold``-of-
    ``witnesses`` policy into the manifest.  ``joint_secret``: the trustees collude so
    that the election's secret key is this scalar (for forgeries that need it).
    ``withhold``: QUAL dealers that never reveal and are reconstructed in public.
    ``schedule``: ``opens_at`` / ``closes_at`` added to the manifest.
    """
    rng = SeededRng(b"evote/conformance/" + seed)
    official, authority, board_key = (SigningKey.generate(rng) for _ in range(3))
    wkeys = [(f"witness.example.org/w{i + 1}", SigningKey.generate(rng)) for i in range(witnesses)]
    policy = None
    if witnesses:
        policy = {"keys": [{"name": name, "key": k.verify_key.to_json()} for name, k in wkeys],
                  "threshold": witness_threshold}
    m = Manifest.from_json({**(manifest if manifest is not None
                               else small_manifest(eid, witnesses=policy)), **(schedule or {})})
    keys, states, finished, joint, messages, bad, owed, feldman = _ceremony(
        eid, n, t, rng, fault, joint_secret, withhold)
    voter_keys = [SigningKey.generate(rng) for _ in range(voters)]
    ws = list(weights) if weights is not None else [1] * voters
    sizes = list(batches) if batches is not None else [voters]
    assert sum(sizes) == voters
    lists, k = [], 0
    for size in sizes:
        lists.append(CredentialList(tuple(
            PublicCredential(voter_keys[i].verify_key, ws[i]) for i in range(k, k + size))))
        k += size
    union = CredentialList(tuple(c for b in lists for c in b.entries))
    ctx = ElectionContext.build(m, joint.joint_key, dkg.trustee_commitments(feldman), union)
    return Election(m, official, authority, board_key, n, t, keys, states, finished, joint,
                    messages, bad, owed, feldman, voter_keys, ws, lists, union, ctx, wkeys, rng)


# --------------------------------------------------------------------------
# Plans: the board as a list of steps
# --------------------------------------------------------------------------


@dataclass
class Step:
    """One board entry (``kind``/``payload``) or, with ``head`` set, a signed tree head
    over the entries before it.

    ``tag`` names the step for mutations (``"announce:2"``, ``"cast:0"``...).
    ``edit(obj)`` changes the entry object before it is canonicalised (index,
    prev, time, kind are then what it says); ``raw(obj)`` gives the line bytes
    instead of the canonical form.  For a head, ``head`` is ``True`` for the honest
    head, or a forger ``(election, size, tree, time) -> SignedTreeHead`` given the
    Merkle tree of the lines written so far.
    """

    kind: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    tag: str = ""
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    raw: Callable[[dict[str, Any]], bytes] | None = None
    head: Any = None
    #: the entry's time is at least this (ms), and every later entry's moves with it
    #: (a scheduled election's clock: the board waits for opens_at, closes_at)
    at: int | None = None


class Builder:
    """Appends the steps of one election, as each party would post them.

    Keeps the counted set (the last counted cast of each credential) so the
    tally it posts is the honest one unless a case overrides it.
    """

    def __init__(self, e: Election) -> None:
        self.e = e
        self.steps: list[Step] = []
        self.counted: dict[bytes, Ballot] = {}
        self.tally_value: EncryptedTally | None = None
        self.partials: list[PartialDecryption] = []
        self.cosigners: tuple[int, ...] | None = None
        #: credential -> the step of its counted ballot (the board order of the mixed rows)
        self.cast_steps: dict[bytes, Step] = {}

    # -- primitives ------------------------------------------------------
    def add(self, kind: str, payload: dict[str, Any], tag: str = "") -> Step:
        step = Step(kind, payload, tag or kind)
        self.steps.append(step)
        return step

    def command(self, kind: str, key: SigningKey, body: dict[str, Any], tag: str = "",
                election: str | None = None) -> Step:
        """A command signed by ``key`` (for ``election``, by default this one)."""
        signed = sign_command(key, election or self.e.eid, kind, body)
        return self.add(kind, signed.to_json(), tag)

    def head(self, forge: Any = True) -> Step:
        step = Step(tag="head", head=forge)
        self.steps.append(step)
        return step

    def find(self, tag: str) -> int:
        for i, s in enumerate(self.steps):
            if s.tag == tag:
                return i
        raise KeyError(tag)

    def move(self, tag: str, before: str) -> None:
        """Move step ``tag`` to just before step ``before``."""
        step = self.steps.pop(self.find(tag))
        self.steps.insert(self.find(before), step)

    def insert_before(self, before: str, step: Step) -> None:
        self.steps.remove(step)
        self.steps.insert(self.find(before), step)

    # -- setup -------------------------------------------------------------
    def created(self) -> Step:
        e = self.e
        return self.command("election_created", e.official, {
            "manifest": e.manifest.to_json(),
            "official": e.official.verify_key.to_json(),
            "credential_authority": e.authority.verify_key.to_json(),
            "trustees": [e.trustee_keys[i].verify_key.to_json() for i in range(1, e.n + 1)],
            "threshold": e.t,
        })

    def trustee(self, kind: str, who: int, message: Any, tag: str) -> Step:
        return self.command(kind, self.e.trustee_keys[who], message.to_json(), tag)

    def qualified(self, qual: Sequence[int] | None = None) -> Step:
        """The official's cut: ``ceremony_qualified`` (default: the honest QUAL)."""
        body = dkg.Qualified(tuple(qual)) if qual is not None else self.e.messages.qualified
        return self.command("ceremony_qualified", self.e.official, body.to_json(), "qualified")

    def reconstruct(self, dealers: Sequence[int] | None = None) -> Step:
        m = self.e.messages
        body = dkg.Reconstruct(tuple(dealers)) if dealers is not None else m.reconstruct
        assert body is not None
        return self.command("ceremony_reconstruct", self.e.official, body.to_json(),
                            "reconstruct")

    def ceremony(self) -> None:
        """GJKR's order: phase 1 (announce, deal, complain, answer), the official's cut,
        phase 2 (reveal), and if a QUAL dealer withheld its reveal, the official's
        ``ceremony_reconstruct`` and the others' published shares."""
        m = self.e.messages
        for a in m.announcements:
            self.trustee("trustee_announced", a.trustee, a, f"announce:{a.trustee}")
        for s in m.shares:
            self.trustee("trustee_shares", s.dealer, s, f"shares:{s.dealer}")
        for c in m.complaints:
            self.trustee("trustee_complaint", c.accuser, c, f"complaint:{c.accuser}:{c.accused}")
        for a in (*m.answers, *self.e.bad_answers):
            self.trustee("trustee_complaint_answer", a.dealer, a, f"answer:{a.dealer}:{a.accuser}")
        self.qualified()
        for c in m.commitments:
            self.trustee("trustee_committed", c.trustee, c, f"commit:{c.trustee}")
        if m.reconstruct is not None:
            self.reconstruct()
            for r in m.reconstructions:
                self.trustee("trustee_reconstruction", r.trustee, r,
                             f"rebuild:{r.trustee}:{r.dealer}")

    def key(self, joint: dkg.JointKey | None = None) -> Step:
        return self.command("key_published", self.e.official,
                            {"joint_key": (joint or self.e.joint).to_json()}, "key")

    def credentials(self) -> None:
        for i, batch in enumerate(self.e.batches):
            self.command("credentials_published", self.e.authority,
                         {"credentials": batch.to_json()}, f"credentials:{i}")

    def opened(self, fingerprint: bytes | None = None) -> Step:
        fp = fingerprint if fingerprint is not None else self.e.ctx.fingerprint
        return self.command("election_opened", self.e.official, {"fingerprint": b64encode(fp)},
                            "open")

    def setup(self) -> None:
        self.created()
        self.head()
        self.ceremony()
        self.key()
        self.credentials()
        self.opened()
        self.head()

    # -- voting ------------------------------------------------------------
    def ballot(self, voter: int, choice: int, *, ctx: ElectionContext | None = None,
               credential: SigningKey | None = None) -> tuple[Ballot, Any]:
        e = self.e
        sel = _selection(e.manifest, choice)
        return encrypt_ballot(ctx or e.ctx, credential or e.voters[voter], sel, e.rng)

    def cast(self, voter: int, choice: int, *, counts: bool = True,
             ballot: Ballot | None = None, tag: str = "") -> Step:
        if ballot is None:
            ballot, _ = self.ballot(voter, choice)
        step = self.add("ballot_cast", {"ballot": ballot.to_json()}, tag or f"cast:{voter}")
        if counts:
            self.counted[ballot.credential.raw] = ballot
            self.cast_steps[ballot.credential.raw] = step
        return step

    def audit(self, voter: int, choice: int, tag: str = "") -> Step:
        ballot, secrets = self.ballot(voter, choice)
        audited = AuditedBallot.from_secrets(ballot, secrets)
        return self.add("ballot_audited", {"audited": audited.to_json()}, tag or f"audit:{voter}")

    # -- tally -------------------------------------------------------------
    def closed(self) -> Step:
        return self.command("election_closed", self.e.official, {}, "close")

    def total_weight(self) -> int:
        return sum(self.e.credentials.weight_of(VerifyKey(c)) for c in self.counted)

    def honest_tally(self, leave_out: int = 0) -> EncryptedTally:
        """The sum of the counted ballots' choice and score questions (the ranked and
        graded ones are mixed instead: evote.ranked.tally_shape, R-MIX-11)."""
        m = self.e.manifest
        rows = []
        for cred, ballot in list(self.counted.items())[leave_out:]:
            w = self.e.credentials.weight_of(VerifyKey(cred))
            rows.append((w, tally_ciphertexts(m, [list(a.choices) for a in ballot.answers])))
        return aggregate(tally_shape(m), rows)

    def tally(self, *, tally: EncryptedTally | None = None, counted: int | None = None,
              total_weight: int | None = None) -> Step:
        self.tally_value = tally or self.honest_tally()
        return self.command("tally_posted", self.e.official, {
            "tally": self.tally_value.to_json(),
            "counted": len(self.counted) if counted is None else counted,
            "total_weight": self.total_weight() if total_weight is None else total_weight,
        }, "tally")

    def partial(self, j: int, *, share: Scalar | None = None, tag: str = "") -> Step:
        assert self.tally_value is not None
        e = self.e
        s = share if share is not None else e.finished[j].share
        p = partial_decrypt(e.ctx.fingerprint, j, s, self.tally_value, e.rng)
        self.partials.append(p)
        return self.command("partial_decryption", e.trustee_keys[j], p.to_json(),
                            tag or f"partial:{j}")

    def decryption(self) -> Result:
        """The honest decryption of the posted tally by the valid partials."""
        assert self.tally_value is not None
        e = self.e
        bounds = tally_bounds(e.manifest, self.total_weight())
        # combine skips a partial whose proofs fail (robust decryption, R-TAL-06)
        valid = {p.trustee: p for p in self.partials if p.trustee in e.finished}
        return combine(e.ctx.fingerprint, self.tally_value, list(valid.values()), e.joint,
                       bounds)

    def result(self, result: Result | None = None) -> Step:
        r = result or self.decryption()
        return self.command("result_published", self.e.official, {"result": r.to_json()},
                            "result")

    def finish(self, partials: Sequence[int] | None = None) -> None:
        """Close, tally, the partials (default the first t qualified), result, last head."""
        self.head()
        self.closed()
        self.tally()
        for j in partials if partials is not None else sorted(self.e.finished)[: self.e.t]:
            self.partial(j)
        self.result()
        self.head()

    def vote(self, plan: Sequence[tuple[int, int]]) -> None:
        """Cast (voter, choice) ballots in order (a repeated voter re-votes)."""
        for v, c in plan:
            self.cast(v, c)

    def plan(self) -> Plan:
        return Plan(self.e, list(self.steps), self.cosigners)


def _selection(manifest: Manifest, choice: int) -> list[list[int]]:
    """A valid selection for every question, varied by ``choice``."""
    out = []
    for q in manifest.questions:
        n = len(q.options)
        row = [0] * n
        if q.kind == "ranked":  # a rotation, ranking all but the last when choice is odd
            for i in range(n - choice % 2):
                row[(choice + i) % n] = i + 1
        elif q.kind == "grades":
            row = [(choice + o) % len(q.grades) for o in range(n)]
        elif q.kind == "choice":
            row[choice % n] = 1
        else:
            budget = min(q.max, q.max_score * n)
            i = choice
            while sum(row) < budget - (choice % 2):
                if row[i % n] < q.max_score:
                    row[i % n] += 1
                i += 1
        out.append(row)
    return out


# --------------------------------------------------------------------------
# Writing a plan: chain, tree, heads, checkpoint
# --------------------------------------------------------------------------


@dataclass
class Plan:
    """What :func:`render` writes: the election (its keys) and the steps, in board order."""

    election: Election
    steps: list[Step]
    cosigners: tuple[int, ...] | None = None  # witnesses (0-based) cosigning the final board


def entry_object(election: str, index: int, kind: str, prev: bytes, time: int,
                 payload: dict[str, Any]) -> dict[str, Any]:
    """A board entry as JSON (the shape :class:`evote.board.Entry` writes)."""
    return {"v": ENTRY_VERSION, "election": election, "index": index, "kind": kind,
            "prev": b64encode(prev), "time": time, "payload": payload}


def render(plan: Plan) -> dict[str, bytes]:
    """The record's files (name -> bytes) for ``plan``."""
    e = plan.election
    eid = e.eid
    lines: list[bytes] = []
    heads: list[bytes] = []
    tree = MemoryTree()
    prev = bytes(32)
    time = START_TIME
    head_time = 0
    shift = 0  # how far Step.at moved the clock on
    for step in plan.steps:
        if step.head is not None:
            size = len(lines)
            head_time = max(time + 1, head_time + 1)  # heads in ascending (size, time)
            if step.head is True:
                signed = TreeHead(eid, size, tree.root(size), head_time).sign(e.board_key)
            else:
                signed = step.head(e, size, tree, head_time)
            heads.append(tree_head_line(signed))
            continue
        index = len(lines)
        time = START_TIME + 1000 * index + shift
        if step.at is not None and step.at > time:
            shift += step.at - time
            time = step.at
        obj = entry_object(eid, index, step.kind, prev, time, step.payload)
        if step.edit is not None:
            obj = step.edit(obj)
        line = step.raw(obj) if step.raw is not None else canonical_json(obj)
        lines.append(line)
        tree.append(leaf_hash(line))
        prev = leaf_hash(line)
    files = {
        RECORD_FILE: record_json(RecordHeader(eid, e.board_key.verify_key)),
        TREE_HEADS_FILE: b"".join(heads),
        BOARD_FILE: b"".join(line + b"\n" for line in lines),
    }
    if plan.cosigners is not None:
        files[CHECKPOINT_FILE] = final_checkpoint(e, tree, plan.cosigners)
    return files


def final_checkpoint(e: Election, tree: MemoryTree, cosigners: Sequence[int],
                     size: int | None = None) -> bytes:
    """The board-signed checkpoint of the board (default: all of it), cosigned by the
    witnesses ``cosigners`` (0-based) at a fixed time."""
    size = tree.size if size is None else size
    cp = Checkpoint(election_origin(e.board_key.verify_key, e.eid), size, tree.root(size))
    note = sign_checkpoint(cp, e.board_key)
    stamp = START_TIME // 1000 + 86_400
    sigs = [cosign(note.text, e.witnesses[i][0], e.witnesses[i][1], stamp) for i in cosigners]
    return note.with_signatures(sigs).to_bytes()


def write_record(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
