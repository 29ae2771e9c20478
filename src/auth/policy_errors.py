"""The one exception the policy parser raises, carrying the AWS error code the caller must emit.

The code depends on which API received the document, not on what is wrong with it: IAM answers
`MalformedPolicyDocument` (identity, session and trust policies), S3's PutBucketPolicy answers
`MalformedPolicy`, or `PolicyTooLarge` when the bucket policy is over its size cap. So the parser
picks the code and the gateway renders it as is. It is an `AuthError` so the gateway's existing
one-boundary mapping (by `code`, with `status`) renders it without a new branch.
"""

from __future__ import annotations

from typing import Final

from auth.errors import AuthError

__all__ = [
    "MALFORMED_POLICY",
    "MALFORMED_POLICY_DOCUMENT",
    "POLICY_TOO_LARGE",
    "PolicyError",
]

MALFORMED_POLICY_DOCUMENT: Final = "MalformedPolicyDocument"
MALFORMED_POLICY: Final = "MalformedPolicy"
POLICY_TOO_LARGE: Final = "PolicyTooLarge"


class PolicyError(AuthError):
    """A policy document was refused; `code` is the AWS error code, `message` says what is wrong.

    All three codes are HTTP 400 in AWS.
    """

    CODE = MALFORMED_POLICY_DOCUMENT
    STATUS = 400
    DEFAULT_MESSAGE = "The policy document is malformed."

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.args = (f"{code}: {message}",)
