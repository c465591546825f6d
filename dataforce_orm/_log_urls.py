"""Keeps presigned storage URLs' query strings (their signature, a bearer credential) out of
the log records of the HTTP clients the library drives: urllib3 logs every request at DEBUG,
httpx at INFO, each with its URL. Standard library only."""

from __future__ import annotations

import logging
import re

REDACTED = "?<query hidden>"
# The HTTP clients' loggers that name a request's URL (a filter on a logger sees only the
# records made on it, so each is named).
CLIENT_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.poolmanager",
                  "urllib3.util.retry", "requests", "httpx", "httpx._client", "httpcore",
                  "httpcore.http11", "httpcore.http2", "httpcore.connection",
                  "httpcore.proxy")
# A URL (``scheme://...``) or a request target (``/path`` after a space or a quote) followed
# by a query.
_QUERY = re.compile(r"""((?:[A-Za-z][A-Za-z0-9+.-]*://|(?<![^\s"'(\[=])/)[^\s"'<>?]*)\?[^\s"'<>)]+""")


def without_queries(text: str) -> str:
    """``text`` with the query string of every URL or request target in it hidden."""
    return _QUERY.sub(lambda m: m.group(1) + REDACTED, text) if "?" in text else text


class _HideQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: left to the handler to report
            return True
        hidden = without_queries(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


_filter = _HideQueries()
for _name in CLIENT_LOGGERS:
    logging.getLogger(_name).addFilter(_filter)
