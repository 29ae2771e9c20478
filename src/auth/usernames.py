"""Names of IAM users, groups, roles and policies: AWS's character set, 1 to 64 characters.

Why it matters beyond tidiness: a user name is substituted into policies as `${aws:username}`.
The pattern `[A-Za-z0-9+=,.@_-]` cannot hold `*`, `?`, `$`, `{` or `}`, so a name can never
widen a Resource such as `arn:aws:s3:::home/${aws:username}/*` or smuggle in a variable (the
matcher treats substituted text literally anyway; this is the second lock). AWS allows 128
characters for group and policy names; one 64-character cap for all keeps the rule simple.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_NAME_LENGTH", "NAME_CHARS", "validate_name"]

MAX_NAME_LENGTH: Final = 64
NAME_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-"
)


def validate_name(name: str, *, what: str = "name") -> str:
    """Return `name` if it is a valid IAM name, else raise ValueError saying why.

    `what` ("user name", "role name"...) only words the message.
    """
    if not isinstance(name, str):
        raise ValueError(f"{what} must be a string")
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise ValueError(f"{what} must be 1 to {MAX_NAME_LENGTH} characters long")
    bad = sorted(set(name) - NAME_CHARS)
    if bad:
        shown = "".join(bad[:5])
        raise ValueError(f"{what} {name!r} has characters outside [A-Za-z0-9+=,.@_-]: {shown!r}")
    return name
