from __future__ import annotations

from fastapi import HTTPException


def message_text(text: str | None, max_length: int) -> str:
    """The message as the user wrote it, or 422 saying what is wrong with it."""
    if text is None:
        raise HTTPException(422, "message: the field is required")
    if not text.strip():
        raise HTTPException(422, "message: must not be empty or blank")
    if len(text) > max_length:
        raise HTTPException(
            422, f"message: {len(text)} characters is over the limit of {max_length}"
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
