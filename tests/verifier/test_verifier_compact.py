"""The verifier's compact state of checks 12 and 13 (verifier.checks.compact):
duplicate alphas found at the end with the streaming check's first index, prefix
collisions that are not duplicates, and a credential voting three times."""

from __future__ import annotations

import secrets

import pytest

from tests.support import recordgen
from tests.verifier.test_verifier_checks import Pairs, assert_caught, dishonest, index_of, verify
from verifier.checks.compact import AlphaTable, find_duplicates, reread_ciphertexts
from verifier.report import PASS


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> recordgen.GeneratedRecord:
    return recordgen.build_record(tmp_path_factory.mktemp("compact"), voters=4, revotes=1,
                                  audits=1, again=[0])


def test_prefix_collision_that_is_no_duplicate_is_not_reported():
    a, b = b"P" * 8 + b"a" * 24, b"P" * 8 + b"b" * 24
    t = AlphaTable()
    for pos, alpha in [(5, a), (5, secrets.token_bytes(32)), (9, b), (12, a)]:
        t.add(pos, alpha)
    cand = t.candidates()
    assert cand == [0, 2, 3]
    assert [t.locate(i) for i in cand] == [(5, 0), (9, 0), (12, 0)]
    full = {0: a, 2: b, 3: a}
    assert find_duplicates(cand, full) == [3]
    assert find_duplicates([0, 2], {0: a, 2: b}) == []


def test_table_grows_and_finds_only_the_repeats():
    t = AlphaTable()
    alphas = [secrets.token_bytes(32) for _ in range(5000)]
    for n, alpha in enumerate(alphas):
        t.add(n // 5, alpha)
    assert t.candidates() == []
    t.add(1000, alphas[17])
    assert t.candidates() == [17, 5000]
    assert t.locate(17) == (3, 2)


def test_three_ballots_count_only_the_last(base):
    report = verify(base.path)
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != PASS]
    assert report.check("ballots").counts["re-votes"] == 2
    assert report.check("aggregation").status == PASS


def test_third_ballot_moved_first_changes_the_aggregate(base, tmp_path):
    """Voter 0's third ballot (a different choice) moved before its first: the
    verifier now counts the second, which the honest tally does not hold."""
    def edit(p: Pairs) -> Pairs:
        casts = [i for i, (k, _) in enumerate(p) if k == "ballot_cast"]
        last = casts[-1]
        first = casts[0]
        moved = p[last]
        rest = p[:last] + p[last + 1:]
        return rest[:first] + [moved] + rest[first:]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "aggregation")


def test_duplicate_far_apart_is_reported_at_the_second_position(base, tmp_path):
    def edit(p: Pairs) -> Pairs:
        i = index_of(p, "ballot_cast", 0)
        j = index_of(p, "election_closed")
        return p[:j] + [p[i]] + p[j:]

    report = dishonest(base, tmp_path, edit)
    check = report.check("unique-ciphertexts")
    j = index_of([(e.kind, e.payload) for e in base.entries], "election_closed")
    assert check.first_failure.code == "duplicate_ciphertext"
    assert check.first_failure.index == j  # the copy, not the original
    n_alphas = sum(len(a["choices"]) for a in
                   base.entries[index_of([(e.kind, 0) for e in base.entries], "ballot_cast")]
                   .payload["ballot"]["answers"])
    assert check.failures == n_alphas


def test_a_board_that_changed_between_reads_is_refused(base):
    lines = list((base.path / "board.jsonl").read_bytes().splitlines(keepends=True))
    assert reread_ciphertexts(iter(lines), base.election.manifest, {len(lines) - 1},
                              bytes(32)) is None
