"""Files that hold secrets, and the key files of the official and credential authority.

Rules every secret file follows:

* it is created with mode 0600 and never overwritten: a second ``evote official
  init`` must not destroy the key an election was created with;
* it appears complete or not at all: the bytes go to a private temporary file
  in the same directory, which is then *linked* to the final name (``link``
  fails if the name exists, so two processes cannot both win) or, for state
  files that are meant to change (a trustee's state between rounds),
  atomically renamed over the old version.

A signing key file is one JSON object::

    {"type": "evote-signing-key", "v": 1, "role": "official",
     "secret": b64url(32-byte Ed25519 seed), "public": b64url(public key)}

``role`` is checked on load, so handing the official's command a credential
authority key (or a trustee's state file) fails with a message naming both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cli.console import CliError, warn
from evote.encoding import Fields, canonical_json, parse_json
from evote.errors import EncodingError, EvoteError, SchemaError
from evote.signing import SigningKey, VerifyKey

KEY_FILE_TYPE = "evote-signing-key"
KEY_FILE_VERSION = 1
ROLES = ("official", "credential-authority", "mixer")

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


def write_temp(directory: Path, data: bytes, mode: int, *, prefix: str = ".evote-") -> str:
    """A new temporary file in ``directory`` (so a rename into place is atomic) holding
    ``data``, fsynced, with ``mode``; its path.  Nothing is left behind if this fails."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)  # created 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_new_file(path: str | os.PathLike[str], data: bytes, *, secret: bool) -> Path:
    """Create ``path`` with ``data``; :class:`CliError` if it exists or cannot be written.

    ``secret`` files get mode 0600, others 0644.  The file appears complete or
    not at all.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if target.exists():
        raise CliError(f"{target} already exists; refusing to overwrite it", code="already_exists")
    try:
        tmp = write_temp(directory, data, SECRET_MODE if secret else PUBLIC_MODE)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}", code="io_error") from None
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise CliError(f"{target} already exists; refusing to overwrite it", code="already_exists") from None
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}", code="io_error") from None
    finally:
        os.unlink(tmp)
    return target


def replace_file(path: str | os.PathLike[str], data: bytes, *, secret: bool) -> Path:
    """Atomically replace (or create) ``path``: readers see the old or the new bytes."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        tmp = write_temp(directory, data, SECRET_MODE if secret else PUBLIC_MODE)
        try:
            os.replace(tmp, target)
        except OSError:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}", code="io_error") from None
    return target


def json_bytes(obj: Any) -> bytes:
    """Canonical JSON plus a newline: stable bytes that diff and hash well."""
    return canonical_json(obj) + b"\n"


def read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    """The contents of ``path``; :class:`CliError` naming ``what`` if it cannot be read."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CliError(f"{what} {path} does not exist", code="not_found") from None
    except IsADirectoryError:
        raise CliError(f"{what} {path} is a directory, not a file", code="wrong_file") from None
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror or exc}", code="io_error") from None


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse ``path`` as strict JSON; errors name the file."""
    data = read_bytes(path, what)
    try:
        return parse_json(data)
    except EncodingError as exc:
        raise EncodingError(f"{what} {path}: {exc.message}") from None


def warn_if_exposed(path: str | os.PathLike[str], what: str) -> None:
    """Warn (like ssh) when a secret file can be read by other users."""
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warn(f"{what} {path} is readable by other users (chmod 600 {path})")


# --- signing key files -------------------------------------------------------------


def key_file_json(role: str, key: SigningKey) -> dict[str, Any]:
    if role not in ROLES:
        raise ValueError(f"unknown key role {role!r}")
    return {
        "type": KEY_FILE_TYPE,
        "v": KEY_FILE_VERSION,
        "role": role,
        "secret": key.to_json(),
        "public": key.verify_key.to_json(),
    }


def write_key_file(path: str | os.PathLike[str], role: str, key: SigningKey) -> Path:
    """Write a new 0600 key file for ``role``; refuses to overwrite."""
    return write_new_file(path, json_bytes(key_file_json(role, key)), secret=True)


def _parse_key_file(obj: Any, path: str, role: str) -> SigningKey:
    what = role.replace("-", " ")
    if not isinstance(obj, dict) or obj.get("type") != KEY_FILE_TYPE:
        kind = obj.get("type") if isinstance(obj, dict) else None
        hint = f" (it is an {kind!r} file)" if isinstance(kind, str) else ""
        raise CliError(f"wrong key file: {path} is not an evote signing key file{hint}", code="wrong_file")
    try:
        f = Fields(obj, path, required=("type", "v", "role", "secret", "public"))
        if f.int("v") != KEY_FILE_VERSION:
            raise SchemaError(f"{f.sub('v')}: unsupported version, expected {KEY_FILE_VERSION}")
        found = f.str("role", max_len=64)
        if found != role:
            raise CliError(
                f"wrong key file: {path} holds the {found.replace('-', ' ')} key, "
                f"expected the {what} key", code="wrong_file"
            )
        key = SigningKey.from_json(f.raw("secret"))
        public = VerifyKey.from_json(f.raw("public"))
    except EvoteError as exc:
        raise CliError(f"wrong key file: {path}: {exc.message}", code="wrong_file") from None
    if key.verify_key.raw != public.raw:
        raise CliError(f"wrong key file: {path}: the public key does not match the secret key", code="wrong_file")
    return key


def read_key_file(path: str | os.PathLike[str], role: str) -> SigningKey:
    """Load the ``role`` signing key from ``path``; :class:`CliError` on any mismatch."""
    what = role.replace("-", " ") + " key file"
    try:
        obj = read_json(path, what)
    except EncodingError:
        raise CliError(f"wrong key file: {path} is not an evote signing key file", code="wrong_file") from None
    warn_if_exposed(path, what)
    return _parse_key_file(obj, str(path), role)


def public_key_text(key: VerifyKey) -> bytes:
    """A ``.pub`` file: the public key as one line of base64url."""
    return (key.to_json() + "\n").encode("ascii")


def read_public_key(value: str, what: str) -> VerifyKey:
    """A public key given on the command line.

    ``value`` may be the key itself (base64url), a ``.pub`` file holding it, or a
    key or trustee state file, of which only the public part is used.
    """
    candidate = Path(value)
    if candidate.is_file():
        data = read_bytes(candidate, what)
        text = data.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            try:
                obj = parse_json(data)
            except EncodingError as exc:
                raise CliError(f"{what} {value}: {exc.message}", code=exc.code) from None
            if isinstance(obj, dict) and isinstance(obj.get("public"), str):
                text = obj["public"]
            else:
                raise CliError(f'{what} {value}: no "public" key in this JSON file',
                               code="wrong_file")
    else:
        text = value.strip()
    try:
        return VerifyKey.from_json(text)
    except EncodingError as exc:
        source = f"file {value}" if candidate.is_file() else repr(value)
        raise CliError(
            f"{what}: {source} is not a public key file or key ({exc.message})", code="wrong_file"
        ) from None


@contextlib.contextmanager
def new_directory(
    directory: str | os.PathLike[str], *, private: bool
) -> Iterator[Callable[[str, bytes | BinaryIO, bool], None]]:
    """Build a new directory all or nothing: yields ``put(name, bytes or binary file, secret)``.

    Files go into a temporary directory next to ``directory`` (mode 0700), which
    is renamed into place when the block ends without an error and removed
    otherwise.  An existing non-empty ``directory`` is refused up front.
    ``private`` keeps the final directory at 0700 (credential files); otherwise
    it becomes 0755.  Secret files are 0600, others 0644.
    """
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CliError(f"{target} already exists and is not empty; refusing to overwrite it", code="already_exists")
    parent = target.parent if str(target.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".evote-", dir=parent))
    except OSError as exc:
        raise CliError(f"cannot create {target}: {exc.strerror or exc}", code="io_error") from None

    def put(name: str, data: bytes | BinaryIO, secret: bool) -> None:
        path = tmp / name
        path.parent.mkdir(mode=0o700 if private else 0o755, parents=True, exist_ok=True)
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE if secret else PUBLIC_MODE
        )
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, bytes | bytearray):
                fh.write(data)
            else:
                shutil.copyfileobj(data, fh)

    try:
        yield put
        if not private:
            os.chmod(tmp, 0o755)  # noqa: S103 - a public record, meant to be read
        os.rename(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CliError(f"cannot write {target}: {exc.strerror or exc}", code="io_error") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
