"""IAM policies enforced at the S3 edge against real clients (security.md §7.4, IAM-01..25).

Users, keys and policies are written to Redis through `auth.iam_store` (as the admin API does);
the gateway picks them up through its IAM view and boto3 sees the outcome.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rig.gateway import GatewayProcess
from tests.rig.iam import IamRig, error_code, until

ACCOUNT = "000000000000"


def allow(actions: list[str] | str, resources: list[str] | str, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


def deny(actions: list[str] | str, resources: list[str] | str, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Deny", "Action": actions, "Resource": resources, **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _client(iam: IamRig, *policies: dict[str, Any], tls_gw: GatewayProcess | None = None) -> Any:
    _, ak, sk = iam.user(*policies)
    if tls_gw is not None:
        client = iam.client(ak, sk, endpoint=tls_gw.https_endpoint, verify=str(tls_gw.ca_file))
    else:
        client = iam.client(ak, sk)
    until(lambda: error_code(client.list_buckets) != "InvalidAccessKeyId")
    return client


def test_iam01__no_policy_is_denied_everything(iam: IamRig, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    bob = _client(iam)
    assert error_code(lambda: bob.get_object(Bucket=bucket, Key="k")) == "AccessDenied"
    assert error_code(lambda: bob.put_object(Bucket=bucket, Key="k", Body=b"y")) == "AccessDenied"
    assert error_code(lambda: bob.list_objects_v2(Bucket=bucket)) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_iam02__deny_beats_allow_in_one_policy_and_across_two(iam: IamRig, bucket: str) -> None:
    both = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ],
    }
    one = _client(iam, both)
    assert error_code(lambda: one.list_objects_v2(Bucket=bucket)) == "AccessDenied"
    two = _client(
        iam,
        allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
        deny("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
    )
    assert error_code(lambda: two.list_objects_v2(Bucket=bucket)) == "AccessDenied"


def test_iam04__action_wildcards_and_case(iam: IamRig, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    getter = _client(iam, allow("s3:Get*", f"arn:aws:s3:::{bucket}/*"))
    assert getter.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert getter.head_object(Bucket=bucket, Key="k")["ContentLength"] == 1
    assert error_code(lambda: getter.put_object(Bucket=bucket, Key="k", Body=b"")) == "AccessDenied"
    shouty = _client(iam, allow("S3:GETOBJECT", f"arn:aws:s3:::{bucket}/*"))
    assert shouty.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_iam05_06__resource_arns(iam: IamRig, s3: Any, bucket: str) -> None:
    for key in ("public/x", "private/x", "private.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    pub = _client(iam, allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"))
    assert pub.get_object(Bucket=bucket, Key="public/x")["Body"].read() == b"public/x"
    assert error_code(lambda: pub.get_object(Bucket=bucket, Key="private/x")) == "AccessDenied"
    # Authorised on the literal key the vendor stores: never private.txt's bytes. (SeaweedFS
    # refuses dot segments itself; the local vendor keeps the key literal: NoSuchKey.)
    assert error_code(lambda: pub.get_object(Bucket=bucket, Key="public/../private.txt")) in (
        "AccessDenied",
        "NoSuchKey",
        "InvalidRequest",
    )
    bucket_only = _client(iam, allow("s3:*", f"arn:aws:s3:::{bucket}"))
    assert bucket_only.list_objects_v2(Bucket=bucket)["KeyCount"] == 3
    assert error_code(lambda: bucket_only.get_object(Bucket=bucket, Key="public/x")) == (
        "AccessDenied"
    )
    objects_only = _client(iam, allow("s3:*", f"arn:aws:s3:::{bucket}/*"))
    assert error_code(lambda: objects_only.list_objects_v2(Bucket=bucket)) == "AccessDenied"
    assert objects_only.get_object(Bucket=bucket, Key="private/x")["Body"].read()


def test_iam11__prefix_condition_on_listing(iam: IamRig, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="home/alice/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="home/bob/b", Body=b"b")
    alice = _client(
        iam,
        allow(
            "s3:ListBucket",
            f"arn:aws:s3:::{bucket}",
            Condition={"StringLike": {"s3:prefix": ["home/alice/*"]}},
        ),
    )
    keys = [
        o["Key"] for o in alice.list_objects_v2(Bucket=bucket, Prefix="home/alice/")["Contents"]
    ]
    assert keys == ["home/alice/a"]
    assert error_code(lambda: alice.list_objects_v2(Bucket=bucket, Prefix="home/bob/")) == (
        "AccessDenied"
    )
    assert error_code(lambda: alice.list_objects_v2(Bucket=bucket)) == "AccessDenied"


def test_iam14__secure_transport(
    iam: IamRig, gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    policies = (
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
        deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    _, ak, sk = iam.user(*policies)
    plain = iam.client(ak, sk)
    tls = iam.client(ak, sk, endpoint=gateway.https_endpoint, verify=str(gateway.ca_file))
    until(lambda: error_code(lambda: tls.get_object(Bucket=bucket, Key="k")) is None)
    assert error_code(lambda: plain.get_object(Bucket=bucket, Key="k")) == "AccessDenied"


def test_iam15__username_variable(iam: IamRig, s3: Any, bucket: str) -> None:
    doc = allow("s3:*", f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*")
    name, ak, sk = iam.user(doc)
    me = iam.client(ak, sk)
    until(lambda: error_code(me.list_buckets) != "InvalidAccessKeyId")
    me.put_object(Bucket=bucket, Key=f"home/{name}/x", Body=b"mine")
    assert me.get_object(Bucket=bucket, Key=f"home/{name}/x")["Body"].read() == b"mine"
    s3.put_object(Bucket=bucket, Key="home/other/x", Body=b"theirs")
    assert error_code(lambda: me.get_object(Bucket=bucket, Key="home/other/x")) == "AccessDenied"


def test_iam16__tagging_on_put_needs_put_object_tagging(iam: IamRig, s3: Any, bucket: str) -> None:
    put_only = _client(iam, allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*"))
    assert (
        error_code(lambda: put_only.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=b"))
        == "AccessDenied"
    )
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="t")) == "404"
    both = _client(iam, allow(["s3:PutObject", "s3:PutObjectTagging"], f"arn:aws:s3:::{bucket}/*"))
    both.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=b")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "a", "Value": "b"}]
    assert (
        error_code(lambda: both.put_object(Bucket=bucket, Key="acl", Body=b"x", ACL="public-read"))
        == "AccessDenied"
    )


def test_iam17__copy_needs_get_on_the_source(iam: IamRig, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="secret/s", Body=b"classified")
    s3.put_object(Bucket=bucket, Key="public/p", Body=b"open")
    copier = _client(
        iam,
        allow("s3:PutObject", f"arn:aws:s3:::{bucket}/public/*"),
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"),
    )
    assert (
        error_code(
            lambda: copier.copy_object(
                Bucket=bucket, Key="public/leak", CopySource={"Bucket": bucket, "Key": "secret/s"}
            )
        )
        == "AccessDenied"
    )
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="public/leak")) == "404"
    copier.copy_object(
        Bucket=bucket, Key="public/copy", CopySource={"Bucket": bucket, "Key": "public/p"}
    )
    assert (
        error_code(
            lambda: copier.copy_object(Bucket=bucket, Key="public/x", CopySource=f"{bucket}/../x")
        )
        == "InvalidArgument"
    )


def test_iam18__delete_objects_checks_each_key(iam: IamRig, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="private/b", Body=b"b")
    deleter = _client(iam, allow("s3:DeleteObject", f"arn:aws:s3:::{bucket}/public/*"))
    out = deleter.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "public/a"}, {"Key": "private/b"}]}
    )
    assert [d["Key"] for d in out.get("Deleted", [])] == ["public/a"]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("private/b", "AccessDenied")]
    assert s3.get_object(Bucket=bucket, Key="private/b")["Body"].read() == b"b"


def _anonymous(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_iam19_bucket_policy__anonymous_only_where_granted(
    iam: IamRig, gateway: GatewayProcess, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="pub/a", Body=b"hello")
    s3.put_object(Bucket=bucket, Key="priv/b", Body=b"hidden")
    url = f"{gateway.endpoint}/{bucket}"
    for headers in ({"If-None-Match": "*"}, {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}):
        status, got, _ = _anonymous(f"{url}/priv/b", **headers)
        assert status == 403
        assert "ETag" not in got and "Last-Modified" not in got
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/pub/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    until(lambda: _anonymous(f"{url}/pub/a")[0] == 200)
    assert _anonymous(f"{url}/pub/a")[2] == b"hello"
    assert _anonymous(f"{url}/priv/b")[0] == 403
    assert _anonymous(url)[0] == 403  # listing was not granted
    s3.delete_bucket_policy(Bucket=bucket)
    until(lambda: _anonymous(f"{url}/pub/a")[0] == 403)
    assert error_code(lambda: s3.get_bucket_policy(Bucket=bucket)) == "NoSuchBucketPolicy"


def test_iam03__bucket_policy_deny_beats_user_allow(iam: IamRig, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    name, ak, sk = iam.user(allow("s3:*", "*"))
    user = iam.client(ak, sk)
    until(lambda: error_code(lambda: user.get_object(Bucket=bucket, Key="k")) is None)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{name}"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    until(lambda: error_code(lambda: user.get_object(Bucket=bucket, Key="k")) == "AccessDenied")


@pytest.mark.parametrize(
    "document",
    [
        '{"Version": "2010-10-17", "Statement": []}',
        '{"Version": "2012-10-17"}',
        "not json",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",'
        ' "Resource": "arn:aws:s3:::other-bucket/*", "Principal": "*"}]}',
        "[" * 19_000,  # deep nesting under the size cap: refused, never a RecursionError
    ],
)
def test_iam20__bad_bucket_policies_are_malformed(s3: Any, bucket: str, document: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert err.value.response["Error"]["Code"] == "MalformedPolicy"
    assert error_code(lambda: s3.get_bucket_policy(Bucket=bucket)) == "NoSuchBucketPolicy"


def test_bucket_policy__over_the_body_cap_is_too_large(s3: Any, bucket: str) -> None:
    assert (
        error_code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy="[" * 100_000))
        == "PolicyTooLarge"
    )


def test_bucket_policy__too_large(s3: Any, bucket: str) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/" + "x" * 200,
    }
    doc = {"Version": "2012-10-17", "Statement": [dict(statement, Sid=f"s{i}") for i in range(120)]}
    assert (
        error_code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(doc)))
        == "PolicyTooLarge"
    )


def test_existing_object_tag_condition(iam: IamRig, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", Tagging="class=public")
    s3.put_object(Bucket=bucket, Key="closed", Body=b"c", Tagging="class=secret")
    reader = _client(
        iam,
        allow(
            "s3:GetObject",
            f"arn:aws:s3:::{bucket}/*",
            Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}},
        ),
    )
    assert reader.get_object(Bucket=bucket, Key="open")["Body"].read() == b"o"
    assert error_code(lambda: reader.get_object(Bucket=bucket, Key="closed")) == "AccessDenied"
    # A missing object has no tags: denied, never a 404 that would reveal existence.
    assert error_code(lambda: reader.get_object(Bucket=bucket, Key="absent")) == "AccessDenied"


def test_list_buckets__shows_only_what_the_caller_may_list(
    iam: IamRig, s3: Any, bucket: str
) -> None:
    viewer = _client(
        iam,
        allow("s3:ListAllMyBuckets", "*"),
        allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
    )
    names = [b["Name"] for b in viewer.list_buckets()["Buckets"]]
    assert names == [bucket]
    assert len(s3.list_buckets()["Buckets"]) > 1


def test_delete_bucket__drops_its_policy(iam: IamRig, s3: Any) -> None:
    name = "pb-policy-reuse"
    s3.create_bucket(Bucket=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    try:
        assert error_code(lambda: s3.get_bucket_policy(Bucket=name)) == "NoSuchBucketPolicy"
    finally:
        s3.delete_bucket(Bucket=name)


def test_iam25__disabled_and_deleted_keys_stop_within_a_second(
    iam: IamRig, s3: Any, bucket: str
) -> None:
    name, ak, sk = iam.user(allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"))
    user = iam.client(ak, sk)
    until(lambda: error_code(lambda: user.list_objects_v2(Bucket=bucket)) is None)
    iam.run(iam.store.set_key_status(ak, "Inactive"))
    took = until(
        lambda: error_code(lambda: user.list_objects_v2(Bucket=bucket)) == "InvalidAccessKeyId",
        timeout=1.5,
    )
    assert took < 1.0
    iam.run(iam.store.set_key_status(ak, "Active"))
    until(lambda: error_code(lambda: user.list_objects_v2(Bucket=bucket)) is None)
    iam.run(iam.store.set_user_enabled(name, False))
    until(
        lambda: error_code(lambda: user.list_objects_v2(Bucket=bucket)) == "InvalidAccessKeyId",
        timeout=1.5,
    )
    iam.run(iam.store.delete_user(name))
    assert not iam.run(iam.store.load()).keys_of(name)


def test_adm02__no_secret_in_plaintext_anywhere_in_redis(
    iam: IamRig, gateway: GatewayProcess, redis_server: str
) -> None:
    import redis as redis_sync

    _, ak, secret = iam.user(allow("s3:ListAllMyBuckets", "*"))
    client = redis_sync.Redis.from_url(redis_server)
    seen = 0
    for name in client.scan_iter(count=1000):
        kind = client.type(name).decode()
        if kind == "string":
            values = [client.get(name) or b""]
        elif kind == "hash":
            values = [k + b"=" + v for k, v in client.hgetall(name).items()]
        elif kind == "set":
            values = list(client.smembers(name))
        elif kind == "list":
            values = client.lrange(name, 0, -1)
        else:
            values = [str(client.dump(name)).encode()]
        for value in values:
            seen += 1
            assert secret.encode() not in value, name
            assert gateway.secret_key.encode() not in value, name
    assert seen > 0
    assert ak.encode() in b"".join(client.hkeys("pc:iam:{iam}:keys"))
