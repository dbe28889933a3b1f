"""Secrets out of any text the server writes (log lines, --help): a URL's password,
API keys and the values of query parameters that carry credentials. No imports of the package: the
settings and the log formatters both use it."""

import re

# A URL's password (`scheme://user:password@`) and the values of query parameters that
# carry credentials (`?token=...`), wherever they appear in a line or its traceback.
# The password runs to the last "@" before the host (a password may hold an "@").
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s/]*@")
_SECRET_PARAMETER = re.compile(
    r"([?&](?:token|access_token|api_key|key|reset_token|secret|password)=)[^&\s\"'>]+",
    re.IGNORECASE,
)

# An API key wherever it appears (a header echoed in a traceback, a script's line).
_API_KEY = re.compile(r"\bodk_[A-Za-z0-9_-]{16,}")


def redact(text: str) -> str:
    """`text` with its secrets masked. Every log line passes here (the access log's
    too), so each pattern runs only on a text holding what it needs to match."""
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\1***@", text)
    if "odk_" in text:
        text = _API_KEY.sub("odk_***", text)
    if "=" in text:
        text = _SECRET_PARAMETER.sub(r"\1***", text)
    return text
