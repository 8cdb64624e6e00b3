"""A streaming parser for the one JSON shape big collection pages have: an object whose ``value``
member is an array. The array's elements come out one by one (each parsed on its own with
``JSONDecoder.raw_decode``), so no list of a page's every item is ever built, and the parse runs in
turns so a thread parsing a 9 MB page does not hold the GIL away from the UI thread for long.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
PARSE_BATCH = 256  # elements parsed per turn
# Reads parse their pages in turns, one batch at a time: with the GIL, two pages parsed at once are no
# faster than one after the other, but each busy parsing thread takes its share of the GIL from the UI
# thread (two parsers leave it a third of the CPU, one leaves it half).
PARSE_TURN = threading.Lock()


def value_elements_in_turns(text: str, members: dict[str, Any]) -> Iterator[Any]:
    """:func:`object_members`, parsed :data:`PARSE_BATCH` elements at a time while holding
    :data:`PARSE_TURN` (same errors)."""
    parse = object_members(text, members)
    while True:
        with PARSE_TURN:
            batch = list(itertools.islice(parse, PARSE_BATCH))
        if not batch:
            break
        yield from batch


def object_members(text: str, members: dict[str, Any]) -> Iterator[Any]:
    """Parse ``text``, a JSON object, yielding the elements of its ``value`` array one by one and
    storing its other members in ``members`` (``value`` itself is stored as an empty list once seen as
    an array). ValueError: not valid JSON; TypeError: valid JSON but not an object."""
    # ``[ \t\n\r]*`` matches everywhere, so ``space(...)`` is never None.
    space = cast(Callable[[str, int], re.Match[str]], _SPACE.match)
    decode = _DECODER.raw_decode
    at = space(text, 0).end()
    if text[at:at + 1] != "{":
        _, at = decode(text, at)  # ValueError if this is not JSON at all
        if space(text, at).end() != len(text):
            raise ValueError("extra data after the JSON value")
        raise TypeError("not an object")
    at = space(text, at + 1).end()
    closed = text[at:at + 1] == "}"  # ``at`` stays on the closing brace
    while not closed:
        key, at = decode(text, at)
        if not isinstance(key, str):
            raise ValueError("an object key is not a string")
        at = space(text, at).end()
        if text[at:at + 1] != ":":
            raise ValueError("':' expected")
        at = space(text, at + 1).end()
        if key == "value" and text[at:at + 1] == "[":
            members["value"] = []
            at = space(text, at + 1).end()
            ended = text[at:at + 1] == "]"
            while not ended:
                element, at = decode(text, at)
                yield element
                at = space(text, at).end()
                ended = text[at:at + 1] == "]"
                if not ended:
                    if text[at:at + 1] != ",":
                        raise ValueError("',' or ']' expected")
                    at = space(text, at + 1).end()
            at += 1
        else:
            members[key], at = decode(text, at)
        at = space(text, at).end()
        closed = text[at:at + 1] == "}"
        if not closed:
            if text[at:at + 1] != ",":
                raise ValueError("',' or '}' expected")
            at = space(text, at + 1).end()
    if space(text, at + 1).end() != len(text):
        raise ValueError("extra data after the JSON object")
