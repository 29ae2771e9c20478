"""`S3Upstream`: the `Upstream` interface over aiobotocore, for any S3-compatible vendor.

One aiobotocore client per vendor, created on first use and reused (its aiohttp pool is the
connection pool). SDK retries are off because the gateway owns retries and failover; payload
signing is off (UNSIGNED-PAYLOAD) and SDK checksums are computed only when an operation requires
them, so uploads stream from the gateway's iterator without being read twice, seeked or buffered.
Every SDK exception is mapped in `router.s3_errors`; conversions live in `router.s3_convert`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from router.endpoint_guard import EndpointRefused, check_endpoint_async
from router.errors import RouterError, UpstreamError, VendorUnavailable
from router.models import (
    ByteRange,
    CompletedPart,
    Conditions,
    CopyResult,
    ListPage,
    ObjectInfo,
    ObjectStream,
    PartsPage,
    PutOptions,
    PutResult,
    UploadsPage,
    VendorBucket,
)
from router.s3_convert import (
    checksums,
    completed_parts,
    condition_params,
    content_range,
    integrity_params,
    list_page,
    list_start_after,
    object_headers,
    object_info,
    parts_page,
    quoted_etag,
    uploads_page,
    utc,
    write_conditions,
)
from router.s3_errors import vendor_errors
from router.s3_settings import S3VendorSettings
from router.s3_streams import RequestBody, ResponseBody
from router.s3_transport import GuardedResolver, NoRedirectSession, disable_region_redirects
from router.upstream import Upstream

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import TaggingTypeDef

__all__ = ["S3Upstream"]

# Below this, skip `Expect: 100-continue` (one round trip to a far vendor for nothing much).
_EXPECT_CONTINUE_MIN = 1024 * 1024
_DEFAULT_REGION = "us-east-1"  # CreateBucket there takes no LocationConstraint
_process_session: AioSession | None = None


def _shared_session() -> AioSession:
    """The process's one AioSession. It caches botocore's service data; a fresh session per
    client reads it from disk again (~0.2 s of blocking file I/O on the event loop each time:
    ~1.3 s at the start of a node with six vendors, and a stall on every vendor rebuild).
    Clients are given their credentials and config explicitly, so sharing it shares nothing
    else between vendors."""
    global _process_session
    if _process_session is None:
        _process_session = AioSession()
    return _process_session


class S3Upstream(Upstream):
    """One S3-compatible endpoint with one set of credentials.

    Without a `session`, every S3Upstream of the process shares one (`_shared_session`).
    """

    def __init__(self, settings: S3VendorSettings, *, session: AioSession | None = None) -> None:
        self.name = settings.name
        self.settings = settings
        self.storage_classes = settings.storage_classes
        self._session = session
        self._client: S3Client | None = None
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    def _config(self) -> AioConfig:
        s = self.settings
        return AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": s.addressing_style, "payload_signing_enabled": False},
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            max_pool_connections=s.max_pool_connections,
            request_checksum_calculation=s.request_checksum_calculation,
            response_checksum_validation=s.response_checksum_validation,
            # SSRF: never follow a redirect; re-check every DNS answer before connecting.
            http_session_cls=NoRedirectSession,
            connector_args={"resolver": GuardedResolver(s.allowlist)},
        )

    async def _s3(self) -> S3Client:
        """The shared client, created once; concurrent first calls wait for the same one."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                s = self.settings
                try:  # whoever built the settings, no client exists for a refused endpoint
                    await check_endpoint_async(s.endpoint_url, s.allowlist)
                except EndpointRefused:
                    # No detail: the message may be logged beside a client's request.
                    raise VendorUnavailable("vendor endpoint refused (SSRF guard)") from None
                stack = AsyncExitStack()
                session = self._session or _shared_session()
                self._client = await stack.enter_async_context(
                    session.create_client(
                        "s3",
                        endpoint_url=s.endpoint_url,
                        region_name=s.region,
                        aws_access_key_id=s.access_key,
                        aws_secret_access_key=s.secret_key,
                        verify=s.verify_tls,
                        config=self._config(),
                    )
                )
                self._client.meta.events.register("before-send.s3", _skip_expect_for_small_bodies)
                self._client.meta.events.register(
                    "before-parameter-build.s3", disable_region_redirects
                )
                self._stack = stack
        return self._client

    async def start(self) -> None:
        """Create the client now (it reads botocore's S3 model from disk, blocking the loop for
        up to ~0.1 s) instead of inside the first request. Optional: clients are made lazily."""
        await self._s3()

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # -- buckets -----------------------------------------------------------------------------
    async def list_buckets(self) -> list[VendorBucket]:
        client = await self._s3()
        buckets: list[VendorBucket] = []
        params: dict[str, Any] = {}
        while True:
            with vendor_errors("ListBuckets"):
                response = await client.list_buckets(**params)
            buckets += [
                VendorBucket(b["Name"], utc(b["CreationDate"])) for b in response.get("Buckets", [])
            ]
            token = response.get("ContinuationToken")
            if not token or token == params.get("ContinuationToken"):  # a vendor stuck on a page
                return buckets
            params["ContinuationToken"] = token

    async def create_bucket(self, bucket: str, *, region: str | None = None) -> None:
        client = await self._s3()
        params: dict[str, Any] = {"Bucket": bucket}
        region = region or self.settings.region
        if region and region != _DEFAULT_REGION:
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with vendor_errors("CreateBucket"):
            await client.create_bucket(**params)

    async def head_bucket(self, bucket: str) -> None:
        client = await self._s3()
        with vendor_errors("HeadBucket", not_found="NoSuchBucket"):
            await client.head_bucket(Bucket=bucket)

    async def delete_bucket(self, bucket: str) -> None:
        client = await self._s3()
        with vendor_errors("DeleteBucket", not_found="NoSuchBucket"):
            await client.delete_bucket(Bucket=bucket)

    # -- objects -----------------------------------------------------------------------------
    async def head_object(
        self,
        bucket: str,
        key: str,
        *,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectInfo:
        client = await self._s3()
        params = _read_params(bucket, key, conditions, part_number)
        with vendor_errors("HeadObject", key=key):
            response = await client.head_object(**params)
        span = content_range(response.get("ContentRange"))  # a HEAD ?partNumber= answers 206
        info = object_info(key, response, size=span[2] if span else None)
        if span is not None and part_number is not None:
            info = replace(info, part_range=(span[0], span[1]))
        return info

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        client = await self._s3()
        params = _read_params(bucket, key, conditions, part_number)
        if byte_range is not None:
            params["Range"] = byte_range.header_value()
        try:
            with vendor_errors("GetObject", key=key):
                response = await client.get_object(**params)
        except UpstreamError as exc:
            if exc.code == "InvalidRange" and "ActualObjectSize" not in exc.extra:
                raise await self._with_object_size(exc, bucket, key) from exc
            raise
        span = content_range(response.get("ContentRange"))
        return ObjectStream(
            info=object_info(key, response, size=span[2] if span else None),
            body=ResponseBody(response["Body"], operation="GetObject"),
            content_length=int(response["ContentLength"]),
            content_range=span,
        )

    async def _with_object_size(self, exc: UpstreamError, bucket: str, key: str) -> UpstreamError:
        """InvalidRange must tell the object's size; ask for it when the vendor did not."""
        try:
            info = await self.head_object(bucket, key)
        except RouterError:
            return exc
        return UpstreamError(exc.code, exc.status, extra={"ActualObjectSize": str(info.size)})

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        client = await self._s3()
        payload = RequestBody(body, length)
        params = {
            "Bucket": bucket,
            "Key": key,
            "Body": payload,
            "ContentLength": length,
            **object_headers(options),
            **integrity_params(options),
            **write_conditions(options),
        }
        response = await _upload("PutObject", client.put_object, params, payload)
        return _put_result(response)

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        *,
        options: PutOptions,
        replace_metadata: bool,
        replace_tagging: bool = False,
        source_conditions: Conditions | None = None,
    ) -> CopyResult:
        client = await self._s3()
        attributes = object_headers(options)
        tagging = attributes.pop("Tagging", None)
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "CopySource": {"Bucket": src_bucket, "Key": src_key},
            "MetadataDirective": "REPLACE" if replace_metadata else "COPY",
            "TaggingDirective": "REPLACE" if replace_tagging else "COPY",
            **condition_params(source_conditions, prefix="CopySource"),
            # Destination preconditions (If-None-Match / If-Match) as for PutObject; callers
            # that must not overwrite a newer write set them (the rebalance job).
            **write_conditions(options),
        }
        if replace_metadata:
            params.update(attributes)
        elif "StorageClass" in attributes:  # S3 lets a COPY change the storage class alone
            params["StorageClass"] = attributes["StorageClass"]
        if replace_tagging:
            params["Tagging"] = tagging or ""
        with vendor_errors("CopyObject"):
            response = await client.copy_object(**params)
        result = response.get("CopyObjectResult", {})
        return CopyResult(
            quoted_etag(result.get("ETag")),
            utc(result["LastModified"]),
            response.get("VersionId"),
        )

    async def delete_object(self, bucket: str, key: str) -> None:
        client = await self._s3()
        try:
            with vendor_errors("DeleteObject"):
                await client.delete_object(Bucket=bucket, Key=key)
        except UpstreamError as exc:
            if exc.code != "NoSuchKey":  # S3 answers 204 here; some vendors say 404
                raise

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        start_after: str | None = None,
    ) -> ListPage:
        client = await self._s3()
        # EncodingType=url set by us, so botocore leaves the keys encoded and s3_convert decodes.
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "MaxKeys": max_keys,
            "EncodingType": "url",
        }
        if delimiter:
            params["Delimiter"] = delimiter
        if marker := list_start_after(start_after, prefix, delimiter):
            params["StartAfter"] = marker
        with vendor_errors("ListObjectsV2", not_found="NoSuchBucket"):
            response = await client.list_objects_v2(**params)
        return list_page(response, start_after=start_after)

    # -- tagging -----------------------------------------------------------------------------
    async def get_object_tagging(self, bucket: str, key: str) -> list[tuple[str, str]]:
        client = await self._s3()
        with vendor_errors("GetObjectTagging"):
            response = await client.get_object_tagging(Bucket=bucket, Key=key)
        return [(t["Key"], t["Value"]) for t in response.get("TagSet", [])]

    async def put_object_tagging(
        self, bucket: str, key: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        client = await self._s3()
        tagging: TaggingTypeDef = {"TagSet": [{"Key": k, "Value": v} for k, v in tags]}
        with vendor_errors("PutObjectTagging"):
            await client.put_object_tagging(Bucket=bucket, Key=key, Tagging=tagging)

    async def delete_object_tagging(self, bucket: str, key: str) -> None:
        client = await self._s3()
        with vendor_errors("DeleteObjectTagging"):
            await client.delete_object_tagging(Bucket=bucket, Key=key)

    # -- multipart ---------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, options: PutOptions) -> str:
        client = await self._s3()
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, **object_headers(options)}
        if options.checksum_algorithm:  # parts will carry checksums of this algorithm
            params["ChecksumAlgorithm"] = options.checksum_algorithm.upper()
        with vendor_errors("CreateMultipartUpload"):
            response = await client.create_multipart_upload(**params)
        return response["UploadId"]

    async def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        client = await self._s3()
        payload = RequestBody(body, length)
        params = {
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "Body": payload,
            "ContentLength": length,
            **integrity_params(options),
        }
        response = await _upload("UploadPart", client.upload_part, params, payload)
        return _put_result(response)

    async def upload_part_copy(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        byte_range: tuple[int, int] | None = None,
        source_conditions: Conditions | None = None,
    ) -> CopyResult:
        client = await self._s3()
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "CopySource": {"Bucket": src_bucket, "Key": src_key},
            **condition_params(source_conditions, prefix="CopySource"),
        }
        if byte_range is not None:
            params["CopySourceRange"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        with vendor_errors("UploadPartCopy"):
            response = await client.upload_part_copy(**params)
        result = response.get("CopyPartResult", {})
        return CopyResult(quoted_etag(result.get("ETag")), utc(result["LastModified"]))

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> PutResult:
        client = await self._s3()
        with vendor_errors("CompleteMultipartUpload", not_found="NoSuchUpload"):
            response = await client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload=completed_parts(parts),  # type: ignore[arg-type]
            )
        return _put_result(response)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        client = await self._s3()
        with vendor_errors("AbortMultipartUpload", not_found="NoSuchUpload"):
            await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        max_parts: int = 1000,
        part_number_marker: int = 0,
    ) -> PartsPage:
        client = await self._s3()
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "MaxParts": max_parts,
        }
        if part_number_marker:
            params["PartNumberMarker"] = part_number_marker
        with vendor_errors("ListParts", not_found="NoSuchUpload"):
            response = await client.list_parts(**params)
        return parts_page(response)

    async def list_multipart_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
        max_uploads: int = 1000,
    ) -> UploadsPage:
        client = await self._s3()
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "MaxUploads": max_uploads,
            "EncodingType": "url",
        }
        # S3 ignores an upload-id marker without a key marker; SeaweedFS pages by it alone.
        optional = {
            "Delimiter": delimiter,
            "KeyMarker": key_marker,
            "UploadIdMarker": upload_id_marker,
        }
        params.update({k: v for k, v in optional.items() if v})
        with vendor_errors("ListMultipartUploads", not_found="NoSuchBucket"):
            response = await client.list_multipart_uploads(**params)
        return uploads_page(response)


def _read_params(
    bucket: str, key: str, conditions: Conditions | None, part_number: int | None
) -> dict[str, Any]:
    """GetObject/HeadObject members; ChecksumMode=ENABLED so full-object checksums come back."""
    params: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "ChecksumMode": "ENABLED",
        **condition_params(conditions),
    }
    if part_number is not None:
        params["PartNumber"] = part_number
    return params


async def _upload(
    operation: str,
    call: Callable[..., Awaitable[Any]],
    params: Mapping[str, Any],
    payload: RequestBody,
) -> Mapping[str, Any]:
    """Send a streamed body; when the body itself failed, raise that, not the broken request."""
    try:
        with vendor_errors(operation):
            response: Mapping[str, Any] = await call(**params)
    except RouterError as exc:
        failure = payload.failure()
        if failure is None:
            raise
        raise failure from exc
    return response


def _put_result(response: Mapping[str, Any]) -> PutResult:
    algorithm, value = next(iter(checksums(response).items()), (None, None))
    return PutResult(quoted_etag(response.get("ETag")), response.get("VersionId"), algorithm, value)


def _skip_expect_for_small_bodies(request: Any, **_: Any) -> None:
    """botocore asks for `Expect: 100-continue` on every upload; only big bodies are worth the
    extra round trip (the header is not signed, so dropping it here is safe)."""
    headers = request.headers
    if "Expect" in headers and int(headers.get("Content-Length") or 0) < _EXPECT_CONTINUE_MIN:
        del headers["Expect"]
