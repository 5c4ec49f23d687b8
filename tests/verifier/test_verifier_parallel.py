"""The report does not depend on how the ballots are checked: inline, processes, Dask, chunk size.

Each runner gets the same records (a valid one and one with a bad ballot, a
replayed ballot and a re-vote) and must produce the same checks, counts and
first failures as the in-process run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support import recordgen
from verifier import parallel
from verifier.checks import verify_record
from verifier.record import Record
from verifier.sources import DirectorySource


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("par")
    good = recordgen.build_record(base / "good", voters=6, revotes=3, audits=2,
                                  weights=[1, 1, 2, 1, 5, 1], seed=b"parallel")
    bad = base / "bad"
    shutil.copytree(good.path, bad)
    pairs = [(e.kind, json.loads(json.dumps(e.payload))) for e in good.entries]
    casts = [i for i, (k, _) in enumerate(pairs) if k == "ballot_cast"]
    choices = pairs[casts[1]][1]["ballot"]["answers"][1]["choices"]
    choices[0], choices[1] = choices[1], choices[0]  # a bad ballot
    j = next(i for i, (k, _) in enumerate(pairs) if k == "election_closed")
    pairs.insert(j, pairs[casts[0]])  # a replayed ballot
    entries = recordgen.rechain(good.election, [], pairs)
    recordgen.rewrite_board(bad, recordgen.iter_lines(entries))
    recordgen.resign_heads(bad, good.election, entries)
    return {"good": good.path, "bad": bad}


def summary(report) -> list:
    return [
        (c.name, c.status, c.counts, c.failures,
         None if c.first_failure is None else c.first_failure.to_json())
        for c in report.checks
    ]


def run(path: Path, **options):
    return verify_record(Record.load(DirectorySource(path)), **options)


@pytest.fixture(scope="module")
def inline(records) -> dict[str, list]:
    return {name: summary(run(path)) for name, path in records.items()}


def test_the_bad_record_fails_as_expected(inline):
    failed = {name for name, status, *_ in inline["bad"] if status == "fail"}
    assert {"ballots", "unique-ciphertexts", "aggregation"} <= failed
    assert {name for name, status, *_ in inline["good"] if status == "fail"} == set()


@pytest.mark.parametrize("chunk_size", [1, 2, 5])
def test_chunk_size_does_not_matter(records, inline, chunk_size):
    for name, path in records.items():
        assert summary(run(path, chunk_size=chunk_size)) == inline[name]


def test_local_processes_give_the_same_report(records, inline):
    def factory(ctx):
        return parallel.ProcessRunner(ctx, 2)

    for name, path in records.items():
        report = run(path, runner_factory=factory, chunk_size=3)
        assert summary(report) == inline[name]
        assert report.stats["workers"] == 2


@pytest.mark.parametrize("processes", [False, True])
def test_dask_cluster_gives_the_same_report(records, inline, processes):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=processes,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        for name, path in records.items():
            report = run(path, runner_factory=lambda ctx: parallel.DaskRunner(ctx, client),
                         chunk_size=4)
            assert summary(report) == inline[name]
            assert report.stats["runner"].startswith("dask cluster")


def test_dask_by_scheduler_address(records, inline):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        report = run(records["good"],
                     runner_factory=lambda ctx: parallel.DaskRunner(ctx, cluster.scheduler_address))
        assert summary(report) == inline["good"]


def test_the_window_bounds_work_in_flight():
    """At most ``window`` chunks are submitted ahead of the one being consumed."""
    submitted: list[int] = []
    chunks = (parallel.Chunk(i, ()) for i in range(10))

    def submit(chunk):
        submitted.append(chunk.start)
        return chunk

    def result(chunk):
        assert len(submitted) - chunk.start <= 3
        return parallel.ChunkResult(chunk.start, (), {})

    out = list(parallel._ordered_window(submit, result, 3, chunks))
    assert [r.start for r in out] == list(range(10))
