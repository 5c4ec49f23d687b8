"""Workers get the credential list as a weight index only (verifier/parallel.py)."""

from __future__ import annotations

import pickle
import secrets

import pytest

from evote.credentials import CredentialList, PublicCredential
from evote.errors import CredentialError
from evote.signing import SigningKey
from tests.support import recordgen
from verifier.parallel import WorkerCredentials, worker_context


def _keys(n):
    return [SigningKey(secrets.token_bytes(32)).verify_key for _ in range(n)]


def test_weights_survive_pickling_and_unlisted_keys_are_refused():
    keys = _keys(5)
    full = CredentialList(tuple(PublicCredential(k, w) for k, w in zip(keys, [1, 2, 3, 10**6, 7])))
    slim = pickle.loads(pickle.dumps(WorkerCredentials({e.key.raw: e.weight for e in full.entries})))
    assert isinstance(slim, CredentialList)
    assert len(slim) == 5
    for k in keys:
        assert slim.weight_of(k) == full.weight_of(k)
        assert k in slim
    [stranger] = _keys(1)
    assert stranger not in slim
    with pytest.raises(CredentialError, match="not on the published list"):
        slim.weight_of(stranger)


def test_the_worker_context_keeps_everything_but_the_list_s_entries():
    e = recordgen.make_election(voters=4, trustees=1, threshold=1, seed=b"worker-credentials")
    slim = worker_context(e.ctx)
    assert (slim.manifest, slim.joint_key, slim.fingerprint) == (
        e.ctx.manifest, e.ctx.joint_key, e.ctx.fingerprint)
    assert isinstance(slim.credentials, WorkerCredentials)
    for entry in e.ctx.credentials.entries:
        assert slim.credentials.weight_of(entry.key) == entry.weight
    assert len(pickle.dumps(slim)) < len(pickle.dumps(e.ctx))
    assert worker_context(None) is None
