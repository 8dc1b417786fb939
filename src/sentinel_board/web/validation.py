from __future__ import annotations

import re
from typing import Annotated

from fastapi import HTTPException, Query

REQUIRED = "the field is required"  # the form's words and the API's alike

# C0 and C1 controls and DEL, but tab, \n and \r (a textarea sends newlines as \r\n);
# lone surrogates, which JSON can carry and UTF-8 cannot store.
REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


# No Redis list holds more than 2**32 - 1 elements; past that, LRANGE's indexes would overflow.
MAX_OFFSET = 2**32
Offset = Annotated[
    int,
    Query(ge=0, le=MAX_OFFSET, description="Skip this many newest messages of each list."),
]


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header, without its parameters, in lower case."""
    return content_type.partition(";")[0].strip().lower()


def json_media(content_type: str) -> str | None:
    """The media type of a Content-Type header; None when it says JSON (application/json, or
    any application/...+json)."""
    media = media_type(content_type)
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return None
    return media


def message_text(text: str | None, max_length: int) -> str:
    """The message as the user wrote it, or 422 saying what is wrong with it."""
    if text is None:
        raise HTTPException(422, f"message: {REQUIRED}")
    if not text.strip():
        raise HTTPException(422, "message: must not be empty or blank")
    if len(text) > max_length:
        raise HTTPException(
            422, f"message: {len(text)} characters is over the limit of {max_length}"
        )
    refused = REFUSED.search(text)
    if refused:
        raise HTTPException(
            422,
            f"message: character U+{ord(refused.group()):04X} at {refused.start() + 1} is refused: "
            "no control characters but newline, carriage return and tab, no lone surrogates",
        )
    return text


def idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= 200 or not key.isascii() or not key.isprintable():
        raise HTTPException(
            422, "Idempotency-Key: must be 1 to 200 printable ASCII characters (a UUID is ideal)"
        )
    return key
