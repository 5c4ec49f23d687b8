"""The normative rule list: every rule of a valid board, with its stable id.

``docs/rules.md`` is this table in prose (a test keeps the two equal: every
id, code, status and check).  The projection (:mod:`evote.rules`) and the
phase table (:mod:`evote.election`) raise :func:`violation` with one of these
ids; the server answers with the rule's ``code``/``http_status``, the
verifier fails the rule's ``check`` and prints the id.

Ids are stable: a rule is never renumbered or reused.  New rules get the next
free number of their family (the DKG helper adds ``R-DKG-13``..., never
renames).  ``http_status`` 0 means the server never refuses on it, because
the server itself writes that part of the record (the chain, the heads).
"""

from __future__ import annotations

from dataclasses import dataclass

from evote.errors import EvoteError, PhaseViolation, RuleViolation


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    check: str  # the verifier check that reports it (docs/verifier.md)
    code: str  # the error code (HTTP body ``code``, verifier ``first_failure.code``)
    http_status: int  # 0: not an append-time rule (the server writes it itself)
    text: str
    #: The code is the wrapped core error's (e.g. invalid_proof), ``code`` its default.
    cause_code: bool = False


_RULES: tuple[Rule, ...] = (
    # --- record format (the server writes these; only the verifier checks them) ---
    Rule("R-REC-01", "record-format", "bad_entry", 0,
         "Every line of board.jsonl is the RFC 8785 canonical JSON of an entry of this "
         "election whose index is its line number (from 0)."),
    Rule("R-REC-02", "hash-chain", "broken_chain", 0,
         "Every entry's prev is the leaf hash of the entry before it (32 zero bytes for "
         "entry 0), and no entry's time is before the previous entry's."),
    Rule("R-REC-03", "tree-heads", "root_mismatch", 0,
         "Every signed tree head verifies under the board key and its root is the root "
         "of the board's first size entries; the latest head covers the whole board."),
    Rule("R-REC-04", "consistency", "inconsistent", 0,
         "Every tree head is consistent (RFC 9162) with every later one."),
    Rule("R-REC-05", "equivocation", "equivocation", 0,
         "No two validly signed tree heads of one size have different roots."),
    Rule("R-REC-06", "(owner of the kind)", "bad_schema", 422,
         "Every payload parses as its kind's type (evote.kinds.REGISTRY); the check "
         "that owns the kind reports it, the server answers with the parser's code "
         "(bad_schema, bad_encoding, invalid_point, invalid_scalar, bad_manifest, "
         "bad_credential).", cause_code=True),
    # --- the phase table (evote.election) ---
    Rule("R-PHASE-01", "lifecycle", "wrong_phase", 409,
         "Entry 0 is election_created and no other entry is."),
    Rule("R-PHASE-02", "lifecycle", "wrong_phase", 409,
         "Every entry's kind is one of the registry's kinds."),
    Rule("R-PHASE-03", "lifecycle", "wrong_phase", 409,
         "A kind is appended only in the phase the registry gives it: setup messages "
         "before election_opened, ballots between election_opened and election_closed, "
         "tally material after election_closed, nothing after result_published."),
    Rule("R-PHASE-04", "lifecycle", "wrong_phase", 409,
         "election_opened comes after key_published and after at least one "
         "credentials_published."),
    Rule("R-PHASE-05", "lifecycle", "wrong_phase", 409,
         "key_published and tally_posted appear at most once each."),
    Rule("R-PHASE-06", "lifecycle", "wrong_phase", 409,
         "partial_decryption and result_published come after tally_posted."),
    Rule("R-PHASE-07", "lifecycle", "wrong_phase", 409,
         "election_abandoned (signed by the official) appears only in setup, before "
         "election_opened, and nothing is appended after it: the record is then the "
         "complete record of an abandoned election, with no tally."),
    # --- command signatures ---
    Rule("R-SIG-01", "command-signatures", "invalid_signature", 422,
         "Every command's Ed25519 signature verifies over its signed bytes for this "
         "election and kind."),
    Rule("R-SIG-02", "command-signatures", "wrong_signer", 403,
         "Every command is signed by the key election_created names for its kind's "
         "role: the official, the credential authority, the trustee whose index the "
         "message names, or the mixer whose index a mix_posted names (the manifest's mixers, "
         "else the trustees); election_created by the official it names."),
    # --- the key ceremony ---
    Rule("R-DKG-01", "key-ceremony", "already_exists", 409,
         "Each trustee announces (keys and Pedersen commitments) at most once."),
    Rule("R-DKG-02", "key-ceremony", "wrong_phase", 409,
         "A trustee's Feldman reveal (trustee_committed) appears only after "
         "ceremony_qualified, and only from a trustee in QUAL."),
    Rule("R-DKG-03", "key-ceremony", "already_exists", 409,
         "Each trustee reveals its Feldman values at most once."),
    Rule("R-DKG-04", "key-ceremony", "wrong_phase", 409,
         "A dealer's encrypted shares appear only after all n trustees have announced."),
    Rule("R-DKG-05", "key-ceremony", "already_exists", 409,
         "Each dealer deals its shares at most once."),
    Rule("R-DKG-06", "key-ceremony", "wrong_phase", 409,
         "No ceremony message (trustee or official) comes after key_published."),
    Rule("R-DKG-07", "key-ceremony", "already_exists", 409,
         "A trustee complains about another at most once."),
    Rule("R-DKG-08", "key-ceremony", "key_ceremony", 422,
         "An answer answers a complaint on the board: trustee a's complaint against "
         "dealer d comes before d's answer to a."),
    Rule("R-DKG-09", "key-ceremony", "already_exists", 409,
         "A dealer answers each complaint at most once."),
    Rule("R-DKG-10", "key-ceremony", "key_ceremony", 422,
         "Every trustee message is valid in itself (evote.dkg.check_announcement, "
         "check_shares, check_complaint, check_complaint_answer, check_commitments against "
         "the trustee's announced Pedersen commitments, check_reconstruction; "
         "docs/protocol-trustees.md).", cause_code=True),
    Rule("R-DKG-11", "key-ceremony", "key_ceremony", 422,
         "key_published's joint key (key, threshold, QUAL, verification keys) equals the "
         "one recomputed from the board's ceremony messages (evote.dkg.verify_ceremony): "
         "every QUAL dealer revealed or is rebuilt from t published shares.", cause_code=True),
    Rule("R-DKG-12", "key-ceremony", "wrong_phase", 409,
         "A dealer's answer comes after the dealer's announcement."),
    Rule("R-DKG-13", "key-ceremony", "key_ceremony", 422,
         "key_published comes after the encrypted shares of every trustee in QUAL (a "
         "qualified dealer that never dealt would leave its recipients without shares); "
         "under GJKR a dealer without a trustee_shares message is not qualified at all "
         "(evote.dkg.qualified_set), so this holds whenever R-DKG-15 does."),
    Rule("R-DKG-14", "key-ceremony", "wrong_phase", 409,
         "No phase-1 message (announcement, shares, complaint, answer) comes after "
         "ceremony_qualified: QUAL is fixed before any Feldman value is public (GJKR)."),
    Rule("R-DKG-15", "key-ceremony", "key_ceremony", 422,
         "ceremony_qualified appears once, after all n announcements, and names exactly the "
         "QUAL recomputed from the phase-1 messages (evote.dkg.qualified_set), at least t "
         "trustees.", cause_code=True),
    Rule("R-DKG-16", "key-ceremony", "key_ceremony", 422,
         "ceremony_reconstruct appears at most once, after ceremony_qualified, and names "
         "exactly the QUAL dealers without a reveal (evote.dkg.unrevealed); no reveal "
         "comes after it."),
    Rule("R-DKG-17", "key-ceremony", "key_ceremony", 422,
         "A trustee_reconstruction is for a dealer named by ceremony_reconstruct, from an "
         "announced trustee, at most once per (trustee, dealer)."),
    Rule("R-DKG-18", "key-ceremony", "wrong_phase", 409,
         "key_published comes after ceremony_qualified."),
    # --- credentials ---
    Rule("R-CRED-01", "credentials", "already_exists", 409,
         "No credentials_published batch repeats a credential of an earlier batch."),
    # --- opening ---
    Rule("R-OPEN-01", "manifest", "fingerprint_mismatch", 422,
         "election_opened's fingerprint equals the one recomputed from the manifest, the "
         "joint key, the commitments of QUAL and the union of the credential batches."),
    # --- ballots ---
    Rule("R-BAL-01", "ballots", "bad_credential", 403,
         "Every cast or audited ballot's credential is on the credential list."),
    Rule("R-BAL-02", "ballots", "invalid_ballot", 422,
         "Every cast ballot is well formed for the manifest and its signature and every "
         "proof verify against the election fingerprint (the server answers with the "
         "core's code: invalid_signature, invalid_proof, bad_schema).", cause_code=True),
    Rule("R-BAL-03", "unique-ciphertexts", "duplicate_ciphertext", 409,
         "No ciphertext (its alpha) appears twice among all cast and audited ballots, "
         "within one ballot or across ballots."),
    Rule("R-BAL-04", "audited-ballots", "audit_mismatch", 422,
         "Every audited ballot's revealed randomness re-encrypts to its ciphertexts and "
         "its proofs verify.", cause_code=True),
    # --- tally ---
    Rule("R-TAL-01", "counted-set", "tally", 422,
         "tally_posted's counted is the size of the counted set (the last valid "
         "ballot_cast of each listed credential, rules.md 3.1) and total_weight the sum of those credentials' weights."),
    Rule("R-TAL-02", "aggregation", "tally", 422,
         "tally_posted's tally is the weighted homomorphic sum of the counted ballots."),
    Rule("R-TAL-03", "partial-decryptions", "decryption", 422,
         "A partial decryption comes from a qualified trustee and has the tally's shape "
         "(one factor and one DLEQ proof per option).", cause_code=True),
    Rule("R-TAL-04", "partial-decryptions", "already_exists", 409,
         "Each trustee posts at most one partial decryption."),
    Rule("R-TAL-05", "result", "tally", 422,
         "result_published's counts are the decryption of the tally by t valid partials "
         "(Lagrange at 0), each within its bound (total weight x max score).", cause_code=True),
    Rule("R-TAL-06", "partial-decryptions", "decryption", 0,
         "A recorded partial decryption whose DLEQ proofs do not verify is evidence against "
         "its trustee, not a fault of the board: it is named and never used; the result "
         "needs t valid partials of other trustees (robust decryption)."),
    # --- the mixnet of ranked and graded questions (docs/protocol-mixnet.md) ---
    Rule("R-MIX-01", "mixes", "mix_order", 409,
         "A mix_posted is for a ranked or grades question and is by the next mixer of the "
         "election's mixer list for that question (mixer 1 first, each once, in order)."),
    Rule("R-MIX-02", "mixes", "mix_input", 422,
         "A mix's input is the previous mix's output for its question, and the first mix's "
         "input is the counted ballots' rows of that question in board order "
         "(evote.ranked.mix_input); the output has the input's number of rows and width."),
    Rule("R-MIX-03", "mixes", "invalid_shuffle", 422,
         "Every mix's mixer signature and Terelius-Wikstrom shuffle proof verify "
         "(evote.mixnet.verify_mix).", cause_code=True),
    Rule("R-MIX-04", "mixed-decryptions", "wrong_phase", 409,
         "A mix_decryption of a question comes after the last mixer's mix of it, from a "
         "qualified trustee, and is for that final list (question, digest, shape)."),
    Rule("R-MIX-05", "mixed-decryptions", "already_exists", 409,
         "Each trustee posts at most one mix_decryption per question."),
    Rule("R-MIX-06", "mixed-decryptions", "decryption", 422,
         "Every DLEQ proof of a mix_decryption verifies against the trustee's verification "
         "key (evote.mixdecryption.verify_partial_rows).", cause_code=True),
    Rule("R-MIX-07", "ranked-count", "tally", 422,
         "A ranked_result comes after the last mix of its question, and its rows are the "
         "decryption of the final list by t valid mix_decryption entries "
         "(evote.mixdecryption.verify_decrypted_rows).", cause_code=True),
    Rule("R-MIX-08", "ranked-count", "already_exists", 409,
         "Each ranked or grades question has at most one ranked_result."),
    Rule("R-MIX-09", "ranked-count", "count_mismatch", 422,
         "A ranked_result's count sheet is the recount of its rows by the question's method "
         "with the tie seed tagged_hash(count-tie-seed, leaf hash of election_closed) "
         "(evote.ranked.expected_count), byte for byte in canonical JSON.", cause_code=True),
    Rule("R-MIX-10", "lifecycle", "wrong_phase", 409,
         "result_published comes after a ranked_result for every ranked or grades question "
         "(none is needed when no ballot was counted)."),
    Rule("R-MIX-11", "aggregation", "tally", 422,
         "tally_posted's tally has one row per choice or score question, in manifest order; "
         "ranked and grades questions are never in the homomorphic tally."),
    # --- scheduled elections: the manifest's opens_at / closes_at (evote.schedule) ---
    Rule("R-TIME-01", "time-window", "not_open_yet", 409,
         "With opens_at in the manifest, election_opened's time is at or after opens_at."),
    Rule("R-TIME-02", "time-window", "not_open_yet", 409,
         "With opens_at in the manifest, no ballot_cast or ballot_audited entry's time is "
         "before opens_at."),
    Rule("R-TIME-03", "time-window", "closed", 409,
         "With closes_at in the manifest, no ballot_cast or ballot_audited entry's time is at "
         "or after closes_at."),
    Rule("R-TIME-04", "time-window", "too_early", 409,
         "An election_closed whose body names a time (at, signed in advance) names the "
         "manifest's closes_at and its time is at or after it; one without is the official's "
         "early close, valid at any time in the open phase.  The first election_closed on "
         "the board wins (R-PHASE-03 refuses a second), so a scheduled close after an early "
         "close is never appended."),
    Rule("R-TIME-05", "time-window", "head_outside_window", 0,
         "With a window in the manifest, the first signed tree head covering each cast or "
         "audited ballot was signed inside the window (at or after opens_at, before "
         "closes_at)."),
    Rule("R-TIME-06", "time-window", "clock_contradiction", 0,
         "No witness cosignature contradicts the board's clock: with a cosignature at time T "
         "on the checkpoint of size N, no entry before N has a time after T plus the skew "
         "(evote.schedule.WITNESS_SKEW_MS) and no entry from N on a time before T minus it."),
    # --- witnesses ---
    Rule("R-WIT-01", "witnesses", "witness_policy", 0,
         "With a witness policy in the manifest, the record's checkpoint.txt is the "
         "board-signed checkpoint of the whole board, cosigned by at least k of the "
         "listed witnesses."),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def violation(
    rule_id: str,
    message: str,
    *,
    cause: EvoteError | None = None,
    detail: dict | None = None,
) -> RuleViolation:
    """The error for a broken rule (a :class:`PhaseViolation` for ``R-PHASE-*``)."""
    rule = RULES[rule_id]
    cls = PhaseViolation if rule_id.startswith("R-PHASE-") else RuleViolation
    code = cause.code if rule.cause_code and cause is not None else rule.code
    return cls(
        rule_id,
        message,
        code=code,
        http_status=rule.http_status or 409,
        check=rule.check,
        detail=detail,
        cause=cause,
    )
