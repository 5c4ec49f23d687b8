"""The trustees' t-of-n key generation: GJKR's two-phase DKG (Pedersen VSS, then Feldman).

Each of n trustees deals two random polynomials f_i, f'_i of degree t−1 and gives
every other trustee j the pair (f_i(j), f'_i(j)), encrypted to j.  The election
key is K = Σ_{i∈QUAL} f_i(0)·G and trustee j's key share is
x_j = Σ_{i∈QUAL} f_i(j), so any t trustees can decrypt together and no t−1 of
them learn anything about the secret.  Nobody ever holds the whole secret key.

The protocol is Gennaro, Jarecki, Krawczyk and Rabin's ("Secure distributed key
generation for discrete-log based cryptosystems", J. Cryptology 2007), in two
phases separated by an entry of the official that fixes QUAL on the board
(``docs/protocol-trustees.md`` §5):

=====  =========================  ============================  ==========================
phase  who does                   posts (board kind)            anyone checks
=====  =========================  ============================  ==========================
1      ``step1_announce``         :class:`Announcement`         ``check_announcement``
1      ``step2_shares``           :class:`EncryptedShares`      ``check_shares``
1      ``step3_receive``          :class:`Complaint` (if bad)   ``check_complaint``
1      ``step4_answer``           :class:`ComplaintAnswer`      ``check_complaint_answer``
cut    the official               ``ceremony_qualified``        ``qualified_set``
2      ``step5_reveal``           :class:`Commitments`          ``check_commitments``
cut    the official (if needed)   ``ceremony_reconstruct``      ``unrevealed``
2      ``step6_reconstruct``      :class:`Reconstruction`       ``check_reconstruction``
end    ``finalize``               (nothing; keeps x_j)          ``verify_ceremony``
=====  =========================  ============================  ==========================

Why these choices:

* No bias.  In phase 1 every dealer publishes only *Pedersen* commitments
  E_ik = a_ik·G + b_ik·H, which are perfectly hiding: nothing about the joint
  key is public while QUAL is decided.  QUAL is fixed on the board
  (``ceremony_qualified``) before any Feldman value a_ik·G is revealed.  After
  that, a QUAL dealer cannot drop out: if it does not reveal, or cannot (the
  board refuses a reveal inconsistent with its E_ik), the other trustees
  publish the shares it dealt them and anyone interpolates its polynomial.  So
  c colluders can no longer choose among 2^c keys by disqualifying themselves
  after seeing the others' contributions (the bias of Pedersen's DKG that
  evote v1 had; see ``tests/test_dkg_bias.py``).
* Reveals are publicly checkable: a dealer reveals A_ik = a_ik·G and
  B_ik = b_ik·H with a Schnorr proof of knowledge for each (base G and base H)
  and anyone checks A_ik + B_ik = E_ik.  Knowing both logarithms, the dealer
  could open E_ik two ways only if it knew log_G(H); so phase 2 needs no
  complaints.
* H is derived by a documented hash to the group (libsodium
  ``crypto_core_ed25519_from_uniform``, Elligator 2 with the cofactor cleared),
  so nobody knows log_G(H).
* Shares travel in NaCl boxes (X25519 + XSalsa20-Poly1305) inside signed board
  messages; the plaintext repeats election, dealer and recipient because a box
  between i and j opens with either party's key.
* Complaints are public and the accused dealer answers in public with the
  share pair, which anyone checks against the Pedersen commitments.
* Randomness is a parameter (``rng``), so a seeded generator reproduces a whole
  ceremony byte for byte; the verifying functions hold no secrets.

Every error a trustee message can cause is a :class:`KeyCeremonyError` whose
message names the trustee and the step, with both also in ``detail``.

The code is in three parts by who may hold what:

* :mod:`evote.dkg.messages` (with :mod:`evote.dkg.algebra`): the public wire
  messages, the joint key, H and the polynomial arithmetic;
* :mod:`evote.dkg.verify`: every ``check_*``, QUAL, the reconstruction checks
  and the ceremony recomputed from the board;
* :mod:`evote.dkg.trustee`: a trustee's secret state and the steps it runs.

This package re-exports only the public side, so ``from evote import dkg``
never loads a trustee's code; callers that hold secrets (the trustee CLI,
tests, demos) import :mod:`evote.dkg.trustee` by name.  The verifier and the
board rules import the public modules directly; ``pyproject.toml``'s import
contracts keep :mod:`evote.dkg.trustee` out of their import graph.
"""

from evote.dkg.algebra import H, interpolate, verify_schnorr_h
from evote.dkg.messages import (
    BOX_KEY_BYTES,
    COMPLAINT_REASONS,
    MAX_BOX_BYTES,
    MAX_TRUSTEES,
    NONCE_BYTES,
    STEP_NAMES,
    Announcement,
    CeremonyMessages,
    Commitments,
    Complaint,
    ComplaintAnswer,
    EncryptedShares,
    JointKey,
    Qualified,
    Reconstruct,
    Reconstruction,
)
from evote.dkg.verify import (
    CeremonyOutcome,
    ceremony_outcome,
    check_announcement,
    check_commitments,
    check_complaint,
    check_complaint_answer,
    check_reconstruction,
    check_shares,
    qualified_set,
    trustee_commitments,
    unrevealed,
    verify_ceremony,
)

__all__ = [
    "Announcement",
    "BOX_KEY_BYTES",
    "COMPLAINT_REASONS",
    "CeremonyMessages",
    "CeremonyOutcome",
    "Commitments",
    "Complaint",
    "ComplaintAnswer",
    "EncryptedShares",
    "H",
    "JointKey",
    "MAX_BOX_BYTES",
    "MAX_TRUSTEES",
    "NONCE_BYTES",
    "Qualified",
    "Reconstruct",
    "Reconstruction",
    "STEP_NAMES",
    "ceremony_outcome",
    "check_announcement",
    "check_commitments",
    "check_complaint",
    "check_complaint_answer",
    "check_reconstruction",
    "check_shares",
    "interpolate",
    "qualified_set",
    "trustee_commitments",
    "unrevealed",
    "verify_ceremony",
    "verify_schnorr_h",
]
