"""What a JSON request body's text says beyond its parsed value, read at C speed and
without parsing it a second time: how deep its arrays and objects nest, checked before
it is parsed, and the literal text of its top-level numbers (a price is judged by how
it is written: `100.000` and `1e2` are not `100`).

Both work on the raw bytes with regular expressions, which the `re` engine runs in C:
a hostile 1 MiB body costs a few passes over its bytes, never a Python step per value.
"""

import functools
import re

from . import texts
from .errors import Invalid

# A body nests at most this many levels of arrays and objects; the body is level 1.
MAX_DEPTH = 64

# A JSON string, escapes included (an escaped quote does not end it). One left open
# runs to the end of the text: then no quote starts a match that fails after a long
# scan, to be tried again from the next quote (quadratic on `"\"\"\"...`).
_STRING = rb'"[^"\\]*+(?:\\[\s\S]?[^"\\]*+)*+(?:"|\Z)'
_STRINGS = re.compile(_STRING)
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def _nested(levels: int) -> bytes:
    """Balanced brackets nesting at most `levels` deep: each level a group of the next."""
    pattern = b""
    for _ in range(levels):
        pattern = rb"(?:\[" + pattern + rb"\])*+"
    return pattern


_WITHIN_DEPTH = re.compile(_nested(MAX_DEPTH))


def check_depth(raw: bytes) -> None:
    """Refuses a body whose arrays and objects nest deeper than MAX_DEPTH, before any
    parser builds it. An ordinary body holds at most MAX_DEPTH brackets and costs two
    byte counts. Otherwise its strings are dropped, its brackets kept (as one kind:
    the parser checks that they pair), and one match of a pattern of MAX_DEPTH
    nested groups decides. Brackets that cannot pair are not JSON at all."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    outside_strings = _STRINGS.sub(b"", raw) if b'"' in raw else raw
    brackets = outside_strings.translate(_ONE_KIND, _NOT_BRACKETS)
    if _WITHIN_DEPTH.fullmatch(brackets):
        return
    if brackets.count(b"[") * 2 != len(brackets):
        raise Invalid(texts.INVALID_JSON)
    raise Invalid(texts.JSON_TOO_DEEP, depth=MAX_DEPTH)


# ---------------------------------------------------------------- top-level numbers

_NUMBER = rb"-?[0-9]++(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_SPACE = rb"[ \t\r\n]*+"


def _group(levels: int) -> bytes:
    """An array or object nesting at most `levels` deep, strings inside skipped whole;
    one left open runs to the end of the text (as a string does)."""
    pattern = rb"(?!)"
    for _ in range(levels):
        pattern = rb'[\[{](?:[^\[\]{}"]++|' + _STRING + rb"|" + pattern + rb")*+(?:[\]}]|\Z)"
    return pattern


def _key(name: str) -> bytes:
    """A JSON string that decodes to `name` (ASCII), each character as itself or as a
    \\u escape in either letter case."""
    spelled = []
    for char in name:
        hex_digits = "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):04x}")
        spelled.append(b"(?:" + re.escape(char).encode() + rb"|\\u" + hex_digits.encode() + b")")
    return b'"' + b"".join(spelled) + b'"'


@functools.cache
def _members(names: tuple[str, ...]) -> re.Pattern[bytes]:
    """Scans the inside of a top-level object: each match ends at a member whose key is
    one of `names` and whose value is a number (one group per name holds the key, the
    last group the number), or at the end. Every other string and every nested array or
    object is skipped whole, so no key inside one is taken for a top-level key. The
    last alternative steps over a bracket that opens more levels than a body may have:
    only in text that is not JSON (the depth was checked). Every step consumes text
    and none is tried twice, so the scan is linear in the body's length."""
    keys = [_key(name) for name in names]
    wanted = rb"(?:" + rb"|".join(keys) + rb")" + _SPACE + rb":" + _SPACE + _NUMBER
    skip = (
        rb'(?:[^"\[{]++|(?!' + wanted + rb")" + _STRING + rb"|" + _group(MAX_DEPTH - 1)
        + rb"|[\[{])*+"
    )  # fmt: skip
    member = rb"|".join(b"(" + key + b")" for key in keys)
    return re.compile(skip + rb"(?:(?:" + member + rb")" + _SPACE + rb":" + _SPACE
                      + rb"(" + _NUMBER + rb")|\Z)")  # fmt: skip


def top_level_numbers(raw: bytes, names: tuple[str, ...]) -> dict[str, str]:
    """The literal text of the number each of `names` has as a top-level key of the
    JSON object `raw`, for the names that have a number there. Of duplicate keys the
    last counts, as the parser keeps the last. `raw` has passed check_depth (which
    keeps the scan linear); it is an object orjson parsed, or one orjson refused for a
    number out of its range, where the answer only names a field."""
    start = raw.find(b"{")
    end = raw.rfind(b"}")
    if start < 0 or end < start or raw[:start].strip():
        return {}
    found: dict[str, str] = {}
    for *keys, number in reversed(_members(names).findall(raw, start + 1, end)):
        if not number:
            continue  # the scan's end
        name = names[next(i for i, key in enumerate(keys) if key)]
        found.setdefault(name, number.decode("ascii"))
        if len(found) == len(names):
            break
    return found
