"""S3 operations, named exactly as in the AWS API reference, with the IAM action each one needs.

The action belongs to the operation, not to the handler: authorisation reads this table once,
centrally, so no handler can forget it.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Operation", "ResourceKind"]


class ResourceKind(Enum):
    SERVICE = "service"
    BUCKET = "bucket"
    OBJECT = "object"


class Operation(Enum):
    ListBuckets = "ListBuckets"
    CreateBucket = "CreateBucket"
    HeadBucket = "HeadBucket"
    DeleteBucket = "DeleteBucket"
    GetBucketLocation = "GetBucketLocation"
    ListObjects = "ListObjects"
    ListObjectsV2 = "ListObjectsV2"
    ListObjectVersions = "ListObjectVersions"
    ListMultipartUploads = "ListMultipartUploads"
    GetBucketVersioning = "GetBucketVersioning"
    GetBucketPolicy = "GetBucketPolicy"
    PutBucketPolicy = "PutBucketPolicy"
    DeleteBucketPolicy = "DeleteBucketPolicy"
    GetBucketLifecycleConfiguration = "GetBucketLifecycleConfiguration"
    PutBucketLifecycleConfiguration = "PutBucketLifecycleConfiguration"
    DeleteBucketLifecycle = "DeleteBucketLifecycle"
    DeleteObjects = "DeleteObjects"
    GetObject = "GetObject"
    HeadObject = "HeadObject"
    PutObject = "PutObject"
    CopyObject = "CopyObject"
    DeleteObject = "DeleteObject"
    GetObjectTagging = "GetObjectTagging"
    PutObjectTagging = "PutObjectTagging"
    DeleteObjectTagging = "DeleteObjectTagging"
    CreateMultipartUpload = "CreateMultipartUpload"
    UploadPart = "UploadPart"
    UploadPartCopy = "UploadPartCopy"
    CompleteMultipartUpload = "CompleteMultipartUpload"
    AbortMultipartUpload = "AbortMultipartUpload"
    ListParts = "ListParts"
    Unsupported = "Unsupported"

    @property
    def action(self) -> str:
        return _TABLE[self][0]

    @property
    def resource_kind(self) -> ResourceKind:
        return _TABLE[self][1]


_TABLE: dict[Operation, tuple[str, ResourceKind]] = {
    Operation.ListBuckets: ("s3:ListAllMyBuckets", ResourceKind.SERVICE),
    Operation.CreateBucket: ("s3:CreateBucket", ResourceKind.BUCKET),
    Operation.HeadBucket: ("s3:ListBucket", ResourceKind.BUCKET),
    Operation.DeleteBucket: ("s3:DeleteBucket", ResourceKind.BUCKET),
    Operation.GetBucketLocation: ("s3:GetBucketLocation", ResourceKind.BUCKET),
    Operation.ListObjects: ("s3:ListBucket", ResourceKind.BUCKET),
    Operation.ListObjectsV2: ("s3:ListBucket", ResourceKind.BUCKET),
    Operation.ListObjectVersions: ("s3:ListBucketVersions", ResourceKind.BUCKET),
    Operation.ListMultipartUploads: ("s3:ListBucketMultipartUploads", ResourceKind.BUCKET),
    Operation.GetBucketVersioning: ("s3:GetBucketVersioning", ResourceKind.BUCKET),
    Operation.GetBucketPolicy: ("s3:GetBucketPolicy", ResourceKind.BUCKET),
    Operation.PutBucketPolicy: ("s3:PutBucketPolicy", ResourceKind.BUCKET),
    Operation.DeleteBucketPolicy: ("s3:DeleteBucketPolicy", ResourceKind.BUCKET),
    Operation.GetBucketLifecycleConfiguration: (
        "s3:GetLifecycleConfiguration",
        ResourceKind.BUCKET,
    ),
    Operation.PutBucketLifecycleConfiguration: (
        "s3:PutLifecycleConfiguration",
        ResourceKind.BUCKET,
    ),
    # AWS has no s3:DeleteLifecycleConfiguration: removing the rules is putting none.
    Operation.DeleteBucketLifecycle: ("s3:PutLifecycleConfiguration", ResourceKind.BUCKET),
    Operation.DeleteObjects: ("s3:DeleteObject", ResourceKind.BUCKET),
    Operation.GetObject: ("s3:GetObject", ResourceKind.OBJECT),
    Operation.HeadObject: ("s3:GetObject", ResourceKind.OBJECT),
    Operation.PutObject: ("s3:PutObject", ResourceKind.OBJECT),
    Operation.CopyObject: ("s3:PutObject", ResourceKind.OBJECT),
    Operation.DeleteObject: ("s3:DeleteObject", ResourceKind.OBJECT),
    Operation.GetObjectTagging: ("s3:GetObjectTagging", ResourceKind.OBJECT),
    Operation.PutObjectTagging: ("s3:PutObjectTagging", ResourceKind.OBJECT),
    Operation.DeleteObjectTagging: ("s3:DeleteObjectTagging", ResourceKind.OBJECT),
    Operation.CreateMultipartUpload: ("s3:PutObject", ResourceKind.OBJECT),
    Operation.UploadPart: ("s3:PutObject", ResourceKind.OBJECT),
    Operation.UploadPartCopy: ("s3:PutObject", ResourceKind.OBJECT),
    Operation.CompleteMultipartUpload: ("s3:PutObject", ResourceKind.OBJECT),
    Operation.AbortMultipartUpload: ("s3:AbortMultipartUpload", ResourceKind.OBJECT),
    Operation.ListParts: ("s3:ListMultipartUploadParts", ResourceKind.OBJECT),
    Operation.Unsupported: ("s3:*", ResourceKind.SERVICE),
}
