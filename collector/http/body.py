"""Reading a request body safely: bounded in size, strict UTF-8, bounded JSON nesting.

Hostile input gets a 4xx with a message that names the problem, never a 500: a body larger than
the route's limit is refused from its Content-Length before a byte is read (and cut off while
reading when it has none); JSON nested deeper than `MAX_JSON_DEPTH` is refused before it is
parsed (Python's parser recurses and a 5,000-deep body would end in RecursionError); bad UTF-8,
lone surrogates and NUL characters (which PostgreSQL cannot store) are refused with the position
or the field. Credentials are checked before any of this runs: by the auth middleware for
/api/v1/, and by the city intake's handler for /city/v1/push.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

MAX_JSON_DEPTH = 32
SMALL_BODY_BYTES = 64 * 1024  # a rescue-case action or a manual case
LARGE_BODY_BYTES = 8 * 1024 * 1024  # a county's push batch or a registry CSV
CLIENT_MAX_SIZE = LARGE_BODY_BYTES  # the apps' own cap, above every route's limit

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class BodyRefused(web.HTTPException):
    """A 4xx whose JSON body says what is wrong with the request body."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


async def read_bytes(request: web.Request, limit_bytes: int) -> bytes:
    """The whole body, at most `limit_bytes` (413 from Content-Length before reading, or while reading)."""
    declared = request.content_length
    if declared is not None and declared > limit_bytes:
        raise BodyRefused(413, f"the body is {declared} bytes; this route takes at most {limit_bytes}")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit_bytes:
            raise BodyRefused(413, f"the body is larger than {limit_bytes} bytes, this route's limit")
        chunks.append(chunk)


def json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _check_strings(value: Any, where: str) -> None:
    """Every string (key or value) must be storable text: no lone surrogate, no NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BodyRefused(400, f"{where}: must not contain a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyRefused(400, f"{where}: contains a lone surrogate (\\ud800-\\udfff), not text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, f"{where} key")
            _check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{where}[{i}]")


def decode_utf8(raw: bytes, what: str = "the body") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRefused(400, f"{what} must be UTF-8 (byte {exc.start} is not)") from None


async def read_json(request: web.Request, limit_bytes: int = SMALL_BODY_BYTES) -> Any:
    """The parsed JSON body; BodyRefused (413/400) names what is wrong."""
    text = decode_utf8(await read_bytes(request, limit_bytes))
    if json_depth(text) > MAX_JSON_DEPTH:
        raise BodyRefused(400, f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and an integer of more than 4,300 digits
        raise BodyRefused(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # unbalanced brackets that fooled the depth count
        raise BodyRefused(400, f"the JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    _check_strings(data, "body")
    return data


async def read_json_object(request: web.Request, limit_bytes: int = SMALL_BODY_BYTES) -> dict[str, Any]:
    data = await read_json(request, limit_bytes)
    if not isinstance(data, dict):
        raise BodyRefused(400, "the body must be a JSON object")
    return data
