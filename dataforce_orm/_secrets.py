"""The secrets the library knows, and the one function that masks them in text it shows.

A secret joins when the library first holds it: the API key when a session is made, and every
value of a field declared secret when it is sent (a bucket secret's keys). Error messages,
their reprs and the library's log records pass through ``mask()``, so a secret never shows
there, whoever put it in the text (a server echoing a key in its ``detail`` included).
Standard library only.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Any

MASK = "***"
MIN_LENGTH = 6  # shorter values are not masked (they would garble every message)
MAX_KNOWN = 1024  # the most recent secrets are kept; older ones are forgotten

_known: OrderedDict[str, None] = OrderedDict()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def register(value: object) -> None:
    """Mask ``value`` (a string of at least ``MIN_LENGTH`` characters) from now on."""
    global _pattern
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    text = str.__str__(value)  # the text itself, whatever the subclass
    with _lock:
        if text in _known:
            _known.move_to_end(text)
            return
        _known[text] = None
        while len(_known) > MAX_KNOWN:
            _known.popitem(last=False)
        # Longest first, so a secret holding another is masked whole.
        _pattern = re.compile("|".join(map(re.escape, sorted(_known, key=len, reverse=True))))


def is_secret(value: object) -> bool:
    """Whether ``value`` is a secret field's value: a string whose repr hides it (as the
    fields' ``SecretStr`` does), so that no module here needs to import the fields."""
    return isinstance(value, str) and type(value) is not str and repr(value) == "'***'"


def register_sent(body: Any) -> None:
    """Register the values of secret fields found in a request body."""
    if is_secret(body):
        register(body)
    elif isinstance(body, dict):
        for value in body.values():
            register_sent(value)
    elif isinstance(body, (list, tuple)):
        for value in body:
            register_sent(value)


def mask(text: str) -> str:
    """``text`` with every known secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


class _MaskRecords(logging.Filter):
    """Masks the library's log records (their message with its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is not None:
            message = record.getMessage()
            masked = mask(message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True


logging.getLogger("dataforce_orm").addFilter(_MaskRecords())
