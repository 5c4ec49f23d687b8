"""Reading an election manifest from a YAML or JSON file, with errors that point at a line.

The rules live in :mod:`evote.manifest`, whose errors name the field
(``manifest.questions[1].max: must be <= 3``).  This module adds where that
field is in the file, so an official editing a long manifest reads::

    city-poll.yaml:14: manifest.questions[1].max: must be <= 3 (number of options)

YAML is read with a stricter loader than PyYAML's default: duplicate keys are
an error (PyYAML silently keeps the last one), and only ``true``/``false`` are
booleans, so an option written ``- Yes`` stays the text "Yes" instead of
turning into ``True``.  Dates and other implicit YAML types stay text too.
JSON is parsed by :func:`evote.encoding.parse_json` (duplicate keys and NaN are
errors); line numbers for JSON come from the same YAML node walk, since JSON
is valid YAML.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cli.keyfiles import read_bytes
from evote.encoding import parse_json
from evote.errors import EncodingError, ManifestError
from evote.limits import MAX_MANIFEST_BYTES as MAX_MANIFEST_BYTES
from evote.manifest import Manifest

_FIELD_PATH = re.compile(r"manifest(?:\.[A-Za-z0-9_-]+|\[\d+\])*")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, no timestamps and no duplicate keys."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise ManifestError(
                f"line {key_node.start_mark.line + 1}: keys must be text, got {key!r}"
            )
        if key in seen:
            raise ManifestError(
                f"line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                f"(first on line {seen[key]})"
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _field_lines(node: yaml.Node | None, path: str, out: dict[str, int]) -> None:
    """Record the 1-based line of every field path under ``node``."""
    if node is None:
        return
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                sub = f"{path}.{key_node.value}"
                out[sub] = key_node.start_mark.line + 1
                _field_lines(value_node, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _field_lines(item, f"{path}[{i}]", out)


def _line_of(message: str, lines: dict[str, int]) -> int | None:
    """The line of the longest known field path the message starts with."""
    match = _FIELD_PATH.match(message)
    path = match.group(0) if match else None
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else None
    return None


def _yaml_error(name: str, exc: yaml.YAMLError) -> ManifestError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
    return ManifestError(f"{where}: not valid YAML: {problem}")


def parse_manifest(data: bytes, name: str) -> Manifest:
    """Parse manifest bytes; ``name`` (a file name) ends in .json for JSON, else YAML.

    Every error is a :class:`ManifestError` (or :class:`EncodingError` for
    malformed JSON) whose message starts with ``name:line:``.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{name}: larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    lines: dict[str, int] = {}
    if name.lower().endswith(".json"):
        try:
            obj = parse_json(text)
        except EncodingError as exc:
            raise EncodingError(f"{name}: {exc.message}") from None
        try:
            _field_lines(yaml.compose(text, Loader=yaml.SafeLoader), "manifest", lines)
        except yaml.YAMLError:
            lines = {}
    else:
        try:
            node = yaml.compose(text, Loader=_StrictLoader)
            _field_lines(node, "manifest", lines)
            obj = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise _yaml_error(name, exc) from None
        except ManifestError as exc:
            raise ManifestError(f"{name}:{exc.message.removeprefix('line ')}") from None
    if obj is None:
        raise ManifestError(f"{name}: the file is empty")
    try:
        return Manifest.from_json(obj)
    except ManifestError as exc:
        message = _field_message(exc.message)
        line = _line_of(message, lines)
        where = f"{name}:{line}" if line else name
        raise ManifestError(f"{where}: {message}") from None


_REPEATED_PATH = re.compile(r"^([^\s:]+): \1: ")


def _field_message(message: str) -> str:
    """The core's message with its field path in full, once.

    The witness policy's own checks name ``witnesses.…`` (the policy does not
    know it sits in a manifest) and a wrapped key error may repeat its path;
    both would hide the line of the field."""
    if message.startswith("witnesses."):
        message = "manifest." + message
    return _REPEATED_PATH.sub(r"\1: ", message)


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate the manifest at ``path`` (see :func:`parse_manifest`)."""
    return parse_manifest(read_bytes(path, "manifest"), str(path))
