"""Every size limit of evote, in one place, each with the reason it exists.

Each bound keeps hostile input from making a parser allocate or a verifier
work without bound, and the server, the CLI and the verifier must agree on
them: a value one accepts and another refuses is a disagreement about the
record.  So they are defined here once and the modules that check them import
them (the old names, e.g. ``evote.manifest.MAX_OPTIONS``, stay importable).
Where two modules bound different things under one word (a tally's questions
against a manifest's), the names here say which.

Pure constants: this module imports nothing, so every layer may use it.
"""

# --------------------------------------------------------------------------
# Identifiers and the board (evote.commands, evote.board)
# --------------------------------------------------------------------------

#: Longest election id: 1–64 characters of ``a-z 0-9 _ -`` (docs/record-format.md
#: §1.1).  Ids appear in URLs and file names.  The board's entry format used to
#: admit 200 here; every election field is an election id, so both use this one.
MAX_ELECTION_ID = 64
#: Longest ballot tracking code an entry or a request may carry.
MAX_TRACKING_CODE = 200
#: Most sibling hashes in one Merkle inclusion or consistency proof (2^64 leaves).
MAX_PROOF_LENGTH = 64
#: The longest ``kind`` string an entry may carry (registry kinds are far shorter).
MAX_KIND = 64

# --------------------------------------------------------------------------
# Transparency log (evote.merkle, evote.checkpoint, evote.witness)
# --------------------------------------------------------------------------

#: Sizes and indices are unsigned 64-bit in RFC 9162; the tree stays below 2^63.
MAX_TREE_SIZE = 2**63
#: Largest tree size and timestamp a checkpoint note may carry (signed 64-bit).
MAX_CHECKPOINT_TREE_SIZE = (1 << 63) - 1
MAX_CHECKPOINT_TIMESTAMP = (1 << 63) - 1
#: Longest key or witness name in a note.
MAX_CHECKPOINT_NAME = 256
#: Most signature lines one note may carry (the spec asks for at least 16).
MAX_SIGNATURES = 100
#: Largest note accepted: a checkpoint with 100 cosignatures is about 12 KiB.
MAX_NOTE_BYTES = 1 << 16
#: Most witnesses an election may name.
MAX_WITNESSES = 64

# --------------------------------------------------------------------------
# The manifest (evote.manifest, evote.counting)
# --------------------------------------------------------------------------

MAX_OPTIONS = 64
MAX_QUESTIONS = 50
MAX_SCORE = 100
#: Upper bound on the disjunctive-proof branches one ballot carries (each branch
#: is two scalars).  Keeps a hostile or careless manifest from making every
#: ballot megabytes long and every verification seconds long.
MAX_BALLOT_BRANCHES = 10_000
MAX_TITLE = 500
MAX_QUESTION_TITLE = 1000
MAX_OPTION = 500
MAX_DESCRIPTION = 20_000
#: Most grades the majority-judgment count takes (a manifest allows fewer: MAX_GRADES).
MAX_COUNTED_GRADES = 64
#: Widest ranked ballot (candidates) a counting method takes.
MAX_CANDIDATES = 1024

# --------------------------------------------------------------------------
# Ballots, proofs, the tally and the mix-net (evote.proofs, evote.tally, ...)
# --------------------------------------------------------------------------

#: The widest value range a single disjunctive proof may cover.  Bounds the
#: verifier's work per proof so a hostile manifest cannot make it unbounded.
MAX_RANGE_WIDTH = 1024
#: Limits on a tally's shape (wider than a manifest's: a tally is checked before
#: it is matched to the manifest), so hostile input cannot demand unbounded work.
MAX_TALLY_QUESTIONS = 1000
MAX_TALLY_OPTIONS = 1024
#: How many rows one list may have: bounds the generator work a hostile record
#: can demand (and the memory of a proof check).
MAX_GENERATORS = 10_000_000
#: The widest row (options of one ranked question) and the longest list a
#: shuffle takes; they bound a verifier's work on hostile input.
MAX_WIDTH = 1024
MAX_ROWS = MAX_GENERATORS
#: How many mixers a manifest may name.
MAX_MIXERS = 64

# --------------------------------------------------------------------------
# Trustees and credentials (evote.dkg, evote.credentials)
# --------------------------------------------------------------------------

#: Largest number of trustees an election may have.
MAX_TRUSTEES = 32
#: Upper bound on an encoded share box (the real size depends on the election id).
MAX_BOX_BYTES = 20_000
#: Largest weight one credential may carry.
MAX_WEIGHT = 10**6
#: Far above any city; bounds what a hostile list can make a parser allocate.
MAX_CREDENTIALS = 100_000_000

# --------------------------------------------------------------------------
# Inputs of the services (ballot_server, cli, verifier)
# --------------------------------------------------------------------------

#: Default request body limits of the ballot server (settable by environment).
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_COMMAND_BODY = 64 * 1024 * 1024
#: Longest voter login id.
MAX_VOTER_ID = 200
#: Most voter logins one request registers.
MAX_VOTERS_PER_REQUEST = 100_000
#: Most entries one page of the board API returns.
MAX_PAGE = 1000
#: Longest cosignature line a witness posts to the checkpoint API.
MAX_WITNESS_LINE = 512
#: Most casts one transaction takes.  Bounds the time a batch holds the append lock
#: (and the size of its statements); a few dozen are plenty to amortise the commit.
MAX_BATCH = 64
#: Most ciphertexts one transaction takes (a batch always takes at least one cast).
#: The batch's rows go to PostgreSQL in one statement, whose parameters are capped at
#: 65,535: a ballot of the largest manifest carries 3,200 ciphertexts (50 questions x
#: 64 options, three parameters each), so batches of big ballots must stay small.
MAX_BATCH_CIPHERTEXTS = 4096
#: Largest manifest file the CLI reads.
MAX_MANIFEST_BYTES = 1_000_000
#: Largest voter login file (bytes) the CLI reads.
MAX_LOGIN_FILE = 10_000
#: Longest line of a record file the verifier reads: the longest line is the
#: credential list, about 70 bytes per voter: this allows ~15 million voters
#: while keeping a hostile record from making the verifier allocate without bound.
MAX_LINE_BYTES = 1 << 30
#: record.json and tree-heads.jsonl are small; anything larger is not a record.
MAX_SMALL_FILE_BYTES = 256 << 20

# --- ranked and graded questions (issue 16) -----------------------------------------
#: A ranked question's option proves a rank in 0..k (k+1 branches per option,
#: k(k+1) per question): 32 options keep a ballot's question under 1056 branches.
MAX_RANKED_OPTIONS = 32
#: Most grade names a graded question of a manifest may have (grades 0..G-1 per option).
MAX_GRADES = 20
#: A count sheet larger than this (canonical bytes) is refused at parse time;
#: an STV sheet of 32 candidates and every round is far below it.
MAX_SHEET_BYTES = 1_000_000
