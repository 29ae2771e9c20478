"""The narrow interface every vendor implements, with a base that answers "unsupported".

A vendor implements what it can; everything else raises `UnsupportedOperation`, which the gateway
renders as S3 `NotImplemented`. Bucket names here are *vendor* bucket names and keys are vendor
keys (any PBucket key prefix already applied): the PBucket view in `router.pbucket` does that.
Bodies are async iterators of bytes with a known length, never whole objects in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from router.errors import UnsupportedOperation
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
from router.profiles import StorageClasses

__all__ = ["Upstream"]


class Upstream:
    """One vendor endpoint with one set of credentials. Subclasses override what they support."""

    #: Stable identity of this vendor (name from config); part of cache block ids later.
    name: str = "upstream"
    #: The vendor's names for hot / cold / archive (router.profiles); lifecycle transitions use it.
    storage_classes: StorageClasses = StorageClasses()

    async def close(self) -> None:
        return None

    # -- buckets -----------------------------------------------------------------------------
    async def list_buckets(self) -> list[VendorBucket]:
        raise UnsupportedOperation("ListBuckets")

    async def create_bucket(self, bucket: str, *, region: str | None = None) -> None:
        raise UnsupportedOperation("CreateBucket")

    async def head_bucket(self, bucket: str) -> None:
        raise UnsupportedOperation("HeadBucket")

    async def delete_bucket(self, bucket: str) -> None:
        raise UnsupportedOperation("DeleteBucket")

    # -- objects -----------------------------------------------------------------------------
    async def head_object(
        self,
        bucket: str,
        key: str,
        *,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectInfo:
        raise UnsupportedOperation("HeadObject")

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        byte_range: ByteRange | None = None,
        conditions: Conditions | None = None,
        part_number: int | None = None,
    ) -> ObjectStream:
        raise UnsupportedOperation("GetObject")

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterator[bytes],
        length: int,
        options: PutOptions,
    ) -> PutResult:
        raise UnsupportedOperation("PutObject")

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
        raise UnsupportedOperation("CopyObject")

    async def delete_object(self, bucket: str, key: str) -> None:
        """Delete; deleting a missing key succeeds, as in S3."""
        raise UnsupportedOperation("DeleteObject")

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = 1000,
        start_after: str | None = None,
    ) -> ListPage:
        raise UnsupportedOperation("ListObjectsV2")

    # -- tagging -----------------------------------------------------------------------------
    async def get_object_tagging(self, bucket: str, key: str) -> list[tuple[str, str]]:
        raise UnsupportedOperation("GetObjectTagging")

    async def put_object_tagging(
        self, bucket: str, key: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        raise UnsupportedOperation("PutObjectTagging")

    async def delete_object_tagging(self, bucket: str, key: str) -> None:
        raise UnsupportedOperation("DeleteObjectTagging")

    # -- multipart ---------------------------------------------------------------------------
    async def create_multipart_upload(self, bucket: str, key: str, options: PutOptions) -> str:
        raise UnsupportedOperation("CreateMultipartUpload")

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
        raise UnsupportedOperation("UploadPart")

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
        raise UnsupportedOperation("UploadPartCopy")

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[CompletedPart]
    ) -> PutResult:
        raise UnsupportedOperation("CompleteMultipartUpload")

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        raise UnsupportedOperation("AbortMultipartUpload")

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        max_parts: int = 1000,
        part_number_marker: int = 0,
    ) -> PartsPage:
        raise UnsupportedOperation("ListParts")

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
        raise UnsupportedOperation("ListMultipartUploads")
