"""Dispatch: method + host + raw path + raw query (+ two headers) -> a typed S3 operation.

Pure and table-tested. Works on the *raw* path: aiohttp's decoded `request.path` aliases `%2F`
with `/` and `%FF` with `%25FF`, so we decode ourselves, strictly, as UTF-8.
Anything with a sub-resource we do not build lands on `Operation.Unsupported` (rendered
`NotImplemented`), never on a silent fallback such as listing the bucket.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from gateway.errors import S3Error
from gateway.operations import Operation

__all__ = ["Target", "decode_component", "dispatch", "parse_query", "validate_key"]

MAX_KEY_BYTES = (
    1024  # AWS: "The name for a key is a sequence of Unicode characters ... up to 1,024 bytes"
)

# Sub-resources S3 defines; one we do not dispatch explicitly means "not implemented".
_KNOWN_SUBRESOURCES = frozenset(
    [
        "accelerate",
        "acl",
        "analytics",
        "attributes",
        "cors",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "restore",
        "retention",
        "select",
        "session",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versioning",
        "versions",
        "website",
    ]
)

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class Target:
    operation: Operation
    bucket: str | None = None
    key: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    # The sub-resource that made an operation Unsupported, for the log line.
    detail: str | None = None


def decode_component(raw: str, what: str = "key") -> str:
    """Percent-decode strictly to UTF-8; invalid sequences are a client error, not an alias."""
    if raw.isascii() and "%" not in raw:
        return raw  # nothing to decode (most keys and every presigned parameter name)
    decoded = _decoded(raw)
    if decoded is None:
        raise S3Error("InvalidArgument", f"The {what} is not valid UTF-8.")
    return decoded


@functools.lru_cache(maxsize=1024)
def _decoded(raw: str) -> str | None:
    # Memoised: a client sends the same escaped credential, key or token request after request.
    try:
        return unquote_to_bytes(raw).decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def parse_query(raw_query: str) -> dict[str, str]:
    """Decode a raw query string; the first occurrence of a name wins. `+` stays a literal plus."""
    out: dict[str, str] = {}
    if not raw_query:
        return out
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        dname = decode_component(name, "query parameter")
        if dname not in out:
            out[dname] = decode_component(value, "query parameter")
    return out


def validate_bucket_name(name: str) -> None:
    """AWS general-purpose bucket naming rules (3-63, lowercase, no '..', not an IP address)."""
    if not _bucket_name_ok(name):
        raise S3Error("InvalidBucketName", fields={"BucketName": name})


@functools.lru_cache(maxsize=4096)
def _bucket_name_ok(name: str) -> bool:
    # Memoised: every request names a bucket, and the IP-address test raises on a good name.
    ok = bool(_BUCKET_RE.match(name)) and ".." not in name and ".-" not in name
    ok = ok and "-." not in name and not name.startswith("xn--")
    if ok:
        try:
            ipaddress.IPv4Address(name)
            ok = False
        except ValueError:
            pass
    return ok


def validate_key(key: str) -> None:
    """Length, NUL, and dot segments that would climb out of the bucket.

    `a/../b` and `a//b` are ordinary, distinct keys; `..`, `../x` or `a/../../x` would leave the
    bucket if anything downstream ever resolved them, so they are refused (as AWS does).
    """
    if not key:
        raise S3Error("InvalidArgument", "An object key must not be empty.")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", fields={"MaxSizeAllowed": str(MAX_KEY_BYTES)})
    if "\x00" in key:
        raise S3Error("InvalidArgument", "Object key must not contain NUL.")
    depth = 0
    for segment in key.split("/"):
        if segment == "..":
            depth -= 1
            if depth < 0:
                raise S3Error("InvalidArgument", "Object key is not valid.")
        elif segment not in ("", "."):
            depth += 1
    if key in (".", "./"):
        raise S3Error("InvalidArgument", "Object key is not valid.")


def split_target(host: str, raw_path: str, domain: str | None) -> tuple[str | None, str | None]:
    """(bucket, key) from virtual-host or path-style addressing, both still percent-encoded."""
    hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    if domain and hostname.endswith("." + domain):
        bucket = hostname[: -len(domain) - 1]
        rest = raw_path[1:] if raw_path.startswith("/") else raw_path
        return bucket, (rest or None)
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    if not path:
        return None, None
    bucket, sep, rest = path.partition("/")
    return bucket, (rest if sep and rest else None)


def dispatch(
    method: str,
    host: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    *,
    domain: str | None = None,
) -> Target:
    """Choose the S3 operation; `headers` need only answer `x-amz-copy-source`."""
    query = parse_query(raw_query)
    raw_bucket, raw_key = split_target(host, raw_path, domain)
    bucket = decode_component(raw_bucket, "bucket name") if raw_bucket else None
    key = decode_component(raw_key) if raw_key else None
    if bucket is None:
        op, detail = _service_op(method, query)
        return Target(op, query=query, detail=detail)
    validate_bucket_name(bucket)
    if key is None:
        op, detail = _bucket_op(method, query)
        return Target(op, bucket, query=query, detail=detail)
    validate_key(key)
    copy = headers.get("x-amz-copy-source") is not None
    op, detail = _object_op(method, query, copy_source=copy)
    return Target(op, bucket, key, query, detail)


def _unknown(query: Mapping[str, str]) -> str | None:
    for name in query:
        if name in _KNOWN_SUBRESOURCES:
            return name
    return None


def _service_op(method: str, query: Mapping[str, str]) -> tuple[Operation, str | None]:
    if method in ("GET", "HEAD") and _unknown(query) is None:
        return Operation.ListBuckets, None
    return Operation.Unsupported, "service:" + method


_BUCKET_GET: dict[str, Operation] = {
    "location": Operation.GetBucketLocation,
    "uploads": Operation.ListMultipartUploads,
    "versions": Operation.ListObjectVersions,
    "versioning": Operation.GetBucketVersioning,
    "policy": Operation.GetBucketPolicy,
    "lifecycle": Operation.GetBucketLifecycleConfiguration,
}


def _bucket_op(method: str, query: Mapping[str, str]) -> tuple[Operation, str | None]:
    sub = _unknown(query)
    if method == "GET":
        if sub in _BUCKET_GET:
            return _BUCKET_GET[sub], None
        if sub is None:
            v2 = query.get("list-type") == "2"
            return (Operation.ListObjectsV2 if v2 else Operation.ListObjects), None
    elif method == "HEAD" and sub is None:
        return Operation.HeadBucket, None
    elif method == "PUT" and sub is None:
        return Operation.CreateBucket, None
    elif method == "PUT" and sub == "policy":
        return Operation.PutBucketPolicy, None
    elif method == "PUT" and sub == "lifecycle":
        # PutBucketLifecycle (V1) shares the URI; both body forms are parsed as one document.
        return Operation.PutBucketLifecycleConfiguration, None
    elif method == "DELETE" and sub is None:
        return Operation.DeleteBucket, None
    elif method == "DELETE" and sub == "policy":
        return Operation.DeleteBucketPolicy, None
    elif method == "DELETE" and sub == "lifecycle":
        return Operation.DeleteBucketLifecycle, None
    elif method == "POST" and sub == "delete":
        return Operation.DeleteObjects, None
    elif method not in ("GET", "HEAD", "PUT", "DELETE", "POST"):
        raise S3Error("MethodNotAllowed", fields={"Method": method, "ResourceType": "BUCKET"})
    return Operation.Unsupported, f"bucket:{method}:{sub}"


def _object_op(
    method: str, query: Mapping[str, str], *, copy_source: bool
) -> tuple[Operation, str | None]:
    sub = _unknown(query)
    upload = "uploadId" in query
    if method in ("GET", "HEAD"):
        if method == "GET" and sub == "uploadId":
            return Operation.ListParts, None
        if method == "GET" and sub == "tagging":
            return Operation.GetObjectTagging, None
        if sub is None:
            return (Operation.GetObject if method == "GET" else Operation.HeadObject), None
    elif method == "PUT":
        if upload and "partNumber" in query:
            return (Operation.UploadPartCopy if copy_source else Operation.UploadPart), None
        if sub == "tagging":
            return Operation.PutObjectTagging, None
        if sub is None:
            return (Operation.CopyObject if copy_source else Operation.PutObject), None
    elif method == "DELETE":
        if sub == "uploadId":
            return Operation.AbortMultipartUpload, None
        if sub == "tagging":
            return Operation.DeleteObjectTagging, None
        if sub is None:
            return Operation.DeleteObject, None
    elif method == "POST":
        if sub == "uploads":
            return Operation.CreateMultipartUpload, None
        if sub == "uploadId":
            return Operation.CompleteMultipartUpload, None
    else:
        raise S3Error("MethodNotAllowed", fields={"Method": method, "ResourceType": "OBJECT"})
    return Operation.Unsupported, f"object:{method}:{sub}"
