"""A small synchronous admin API client: SigV4-signed JSON over urllib (stdlib, no SDK).

Every body is signed (x-amz-content-sha256 = its SHA-256), path segments are percent-encoded
once here, and an error reply becomes `ApiError(code, message)` for the CLI to print.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from auth.sigv4_sign import sign_headers
from gateway.admin_cli.profile import Connection

__all__ = ["AdminClient", "ApiError", "path"]

TIMEOUT = 30.0
USER_AGENT = "pcache-admin/1"


class ApiError(Exception):
    """The API (or the network) refused a call: printed as `code: message`, exit code 1."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def path(*segments: str) -> str:
    """`/admin/v1/<seg>/<seg>...`, each segment percent-encoded (no '/' survives inside one)."""
    return "/admin/v1/" + "/".join(quote(s, safe="") for s in segments)


class AdminClient:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._tls = self._tls_context(conn)

    @staticmethod
    def _tls_context(conn: Connection) -> ssl.SSLContext | None:
        if not conn.endpoint.startswith("https://"):
            return None
        if not conn.verify_tls:
            return ssl._create_unverified_context()  # noqa: S323 - the user asked (--no-verify-ssl)
        return ssl.create_default_context(cafile=conn.ca_bundle)

    def call(
        self, method: str, target: str, body: object = None, *, raw: bytes | None = None
    ) -> Any:
        """Send one request; returns the decoded JSON reply (None for 204). `body` is sent as
        JSON, `raw` as is (a bucket policy document)."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        url = self.conn.endpoint + target
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        headers.update(
            sign_headers(
                method,
                url,
                headers,
                data or b"",
                self.conn.access_key,
                self.conn.secret_key,
                self.conn.region,
                self.conn.session_token,
            )
        )
        # S310: profile.resolve admits only http:// and https:// endpoints.
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self._tls) as resp:  # noqa: S310
                return _decode(resp.read())
        except urllib.error.HTTPError as err:
            raise _api_error(err.code, err.read()) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ApiError(
                "ConnectionError", f"cannot reach {self.conn.endpoint}: {reason}"
            ) from None


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError("InvalidResponse", "the endpoint did not answer JSON") from None


def _api_error(status: int, raw: bytes) -> ApiError:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("code"), str):
        message = str(doc.get("message", ""))
        if doc.get("field"):
            message = f"{message} (field: {doc['field']})"
        return ApiError(doc["code"], message, status)
    return ApiError(f"HTTP{status}", raw[:200].decode("utf-8", "replace") or "no details", status)
