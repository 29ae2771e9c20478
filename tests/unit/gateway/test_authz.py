"""Pure parts of S3 authorisation: aws:SourceIp and the actions each request needs."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from gateway.authz import Need, needs, source_ip
from gateway.dispatch import dispatch
from gateway.errors import S3Error


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("127.0.0.1", "10.1.1.1", (), "127.0.0.1"),  # IAM-09: forged header, no proxies
        ("127.0.0.1", "10.1.1.1", ("192.168.0.0/16",), "127.0.0.1"),  # peer not a proxy
        ("192.168.1.5", "10.1.1.1", ("192.168.0.0/16",), "10.1.1.1"),
        ("192.168.1.5", "6.6.6.6, 10.1.1.1, 192.168.1.4", ("192.168.0.0/16",), "10.1.1.1"),
        ("192.168.1.5", None, ("192.168.0.0/16",), "192.168.1.5"),
        ("::1", "2001:db8::7", ("::1/128",), "2001:db8::7"),
        ("192.168.1.5", "garbage", ("192.168.0.0/16",), "garbage"),
    ],
)
def test_source_ip__only_trusted_proxies_forward(
    peer: str, xff: str | None, trusted: tuple[str, ...], expected: str
) -> None:
    assert source_ip(peer, xff, trusted) == expected


def _needs(method: str, path: str, query: str = "", **headers: str) -> list[Need]:
    h = CIMultiDict(headers)
    return needs(dispatch(method, "gw", path, query, h), h)


def test_needs__s3_action_mapping() -> None:
    assert _needs("HEAD", "/bkt/k") == [Need("s3:GetObject", "arn:aws:s3:::bkt/k", "bkt")]
    assert _needs("GET", "/") == [Need("s3:ListAllMyBuckets", "arn:aws:s3:::*", None)]
    assert _needs("GET", "/bkt", "list-type=2") == [
        Need("s3:ListBucket", "arn:aws:s3:::bkt", "bkt")
    ]
    assert [n.action for n in _needs("PUT", "/bkt/k", **{"x-amz-tagging": "a=b"})] == [
        "s3:PutObject",
        "s3:PutObjectTagging",
    ]
    assert [n.action for n in _needs("PUT", "/bkt/k", **{"x-amz-grant-read": "id=x"})] == [
        "s3:PutObject",
        "s3:PutObjectAcl",
    ]
    copy = _needs("PUT", "/bkt/k", **{"x-amz-copy-source": "/src/a%20b"})
    assert copy == [
        Need("s3:PutObject", "arn:aws:s3:::bkt/k", "bkt"),
        Need("s3:GetObject", "arn:aws:s3:::src/a b", "src"),
    ]
    part_copy = _needs("PUT", "/bkt/k", "uploadId=u&partNumber=1", **{"x-amz-copy-source": "src/x"})
    assert part_copy[1] == Need("s3:GetObject", "arn:aws:s3:::src/x", "src")
    assert _needs("POST", "/bkt", "delete") == []  # per key, in the handler
    assert _needs("PUT", "/bkt", "policy") == [
        Need("s3:PutBucketPolicy", "arn:aws:s3:::bkt", "bkt")
    ]


def test_needs__lifecycle_actions_as_aws_names_them() -> None:
    # AWS has no delete action for lifecycle: DeleteBucketLifecycle needs the PUT permission.
    assert _needs("GET", "/bkt", "lifecycle") == [
        Need("s3:GetLifecycleConfiguration", "arn:aws:s3:::bkt", "bkt")
    ]
    for method in ("PUT", "DELETE"):
        assert _needs(method, "/bkt", "lifecycle") == [
            Need("s3:PutLifecycleConfiguration", "arn:aws:s3:::bkt", "bkt")
        ]


def test_needs__copy_tags_only_count_when_replaced() -> None:
    keep = _needs("PUT", "/bkt/k", **{"x-amz-copy-source": "/bkt/s", "x-amz-tagging": "a=b"})
    assert "s3:PutObjectTagging" not in [n.action for n in keep]
    repl = _needs(
        "PUT",
        "/bkt/k",
        **{
            "x-amz-copy-source": "/bkt/s",
            "x-amz-tagging": "a=b",
            "x-amz-tagging-directive": "REPLACE",
        },
    )
    assert "s3:PutObjectTagging" in [n.action for n in repl]


def test_needs__copy_source_escaping_the_bucket_is_invalid() -> None:
    with pytest.raises(S3Error) as err:
        _needs("PUT", "/bkt/k", **{"x-amz-copy-source": "/bkt/../x"})
    assert err.value.code == "InvalidArgument"
