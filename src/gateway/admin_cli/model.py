"""`pcache admin vendor ...` and `pcache admin pbucket ...` (also spelled `vendors`, `pbuckets`).

    vendor list | get NAME | delete NAME
    vendor create NAME --endpoint URL --access-key AK --secret-key SK|- [options]
    vendor update NAME [--endpoint URL] [--secret-key SK|-] [options]      (PATCH: only these)
    pbucket list | get NAME | delete NAME
    pbucket create NAME --target vendor=V,bucket=B[,prefix=P][,weight=W][,region=R] ...
                   [--policy P] [--write-quorum N] [--pbucket-region R] [--create-buckets]
    pbucket update NAME --target ... [--policy P] [--write-quorum N]
    pbucket rebalance|migrate NAME [--dry-run] [--wait] ...   (gateway.admin_cli.jobs)

`--secret-key -` reads the secret from stdin, so it never shows in the process list. The vendor's
region and profile are `--vendor-region` / `--vendor-profile`: `--region` and `--profile` are the
connection's, as everywhere in `pcache admin`.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from gateway.admin_cli.client import path
from gateway.admin_cli.commands import Context, UsageProblem
from gateway.admin_cli.jobs import add_job_commands
from gateway.admin_cli.output import Column

__all__ = ["add_model_commands", "parse_target"]

VENDORS: list[Column] = [
    ("NAME", "name"),
    ("TYPE", "type"),
    ("ENDPOINT", "endpoint"),
    ("REGION", "region"),
    ("PROFILE", "profile"),
    ("MANAGED_BY", "managed_by"),
]
PBUCKETS: list[Column] = [
    ("NAME", "name"),
    ("POLICY", "policy"),
    ("TARGETS", "targets"),
    ("REGION", "region"),
    ("MANAGED_BY", "managed_by"),
]
#: option → (JSON field, type) for vendor create / update
_VENDOR_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "endpoint": ("endpoint", str),
    "access_key": ("access_key", str),
    "vendor_region": ("region", str),
    "vendor_profile": ("profile", str),
    "addressing_style": ("addressing_style", str),
    "connect_timeout": ("connect_timeout", float),
    "read_timeout": ("read_timeout", float),
    "retries": ("retries", int),
    "breaker_failures": ("breaker_failures", int),
    "breaker_cooldown": ("breaker_cooldown", float),
}
STDIN = "-"
_TARGET_KEYS = ("vendor", "bucket", "prefix", "weight", "region")


def _target_text(target: dict[str, Any]) -> str:
    text = f"{target['vendor']}:{target['bucket']}"
    if target.get("prefix"):
        text += f"/{target['prefix']}"
    if target.get("weight", 1) != 1:
        text += f"*{target['weight']:g}"
    return text


def _pbucket_rows(reply: dict[str, Any]) -> dict[str, Any]:
    items = [
        {**pb, "targets": " ".join(_target_text(t) for t in pb["targets"])} for pb in reply["items"]
    ]
    return {"items": items}


# --- vendors ---------------------------------------------------------------------------------


def _from_stdin_or(given: str) -> str:
    """The option's value, or the first line of stdin for '-' (keeps secrets out of `ps`)."""
    return sys.stdin.readline().rstrip("\r\n") if given == STDIN else given


def _vendor_body(a: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for option, (field, _) in _VENDOR_OPTIONS.items():
        value = getattr(a, option)
        if value is not None:
            body[field] = value
    if a.secret_key is not None:
        secret = _from_stdin_or(a.secret_key)
        if not secret:
            raise UsageProblem("the secret key is empty")
        body["secret_key"] = secret
    if a.verify_tls is not None:
        body["verify_tls"] = a.verify_tls
    return body


def vendor_list(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("vendors")), columns=VENDORS)


def vendor_get(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("vendors", a.name)))


def vendor_create(ctx: Context, a: argparse.Namespace) -> None:
    body = {"name": a.name, **_vendor_body(a)}
    ctx.show(ctx.client.call("POST", path("vendors"), body))


def vendor_update(ctx: Context, a: argparse.Namespace) -> None:
    body = _vendor_body(a)
    if not body:
        raise UsageProblem("nothing to change: give at least one option")
    ctx.show(ctx.client.call("PATCH", path("vendors", a.name), body))


def vendor_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("DELETE", path("vendors", a.name)))


# --- PBuckets --------------------------------------------------------------------------------


def parse_target(text: str) -> dict[str, Any]:
    """`vendor=V,bucket=B[,prefix=P][,weight=W][,region=R]` → a target object."""
    target: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _TARGET_KEYS:
            raise UsageProblem(
                f"--target {text!r}: expected vendor=V,bucket=B[,prefix=P][,weight=W][,region=R]"
            )
        if key in target:
            raise UsageProblem(f"--target {text!r}: {key} given twice")
        target[key] = value
    if "vendor" not in target or "bucket" not in target:
        raise UsageProblem(f"--target {text!r}: vendor and bucket are required")
    if "weight" in target:
        try:
            weight = float(target["weight"])
        except ValueError:
            raise UsageProblem(f"--target {text!r}: weight must be a number") from None
        if not math.isfinite(weight):
            raise UsageProblem(f"--target {text!r}: weight must be finite")
        target["weight"] = int(weight) if weight.is_integer() else weight
    return target


def _pbucket_body(a: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"targets": [parse_target(t) for t in a.target]}
    if a.policy is not None:
        body["policy"] = a.policy
    if a.write_quorum is not None:
        body["write_quorum"] = a.write_quorum
    return body


def _show_pbucket(ctx: Context, reply: Any) -> None:
    if ctx.raw_json or reply is None:
        ctx.show(reply)
        return
    shown = {**reply, "targets": " ".join(_target_text(t) for t in reply["targets"])}
    ctx.show(shown)


def pbucket_list(ctx: Context, a: argparse.Namespace) -> None:
    reply = ctx.client.call("GET", path("pbuckets"))
    ctx.show(reply if ctx.raw_json else _pbucket_rows(reply), columns=PBUCKETS)


def pbucket_get(ctx: Context, a: argparse.Namespace) -> None:
    _show_pbucket(ctx, ctx.client.call("GET", path("pbuckets", a.name)))


def pbucket_create(ctx: Context, a: argparse.Namespace) -> None:
    body = {"name": a.name, **_pbucket_body(a)}
    if a.pbucket_region is not None:
        body["region"] = a.pbucket_region
    if a.create_buckets:
        body["create_buckets"] = True
    _show_pbucket(ctx, ctx.client.call("POST", path("pbuckets"), body))


def pbucket_update(ctx: Context, a: argparse.Namespace) -> None:
    _show_pbucket(ctx, ctx.client.call("PUT", path("pbuckets", a.name), _pbucket_body(a)))


def pbucket_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("DELETE", path("pbuckets", a.name)))


# --- the parser ------------------------------------------------------------------------------


def _vendor_options(leaf: argparse.ArgumentParser, *, create: bool) -> None:
    leaf.add_argument("--endpoint", required=create, metavar="URL", help="http(s) URL")
    leaf.add_argument("--access-key", required=create, metavar="AK")
    leaf.add_argument(
        "--secret-key", required=create, metavar="SK", help="the secret key; - = read from stdin"
    )
    # --region and --profile are the connection's (aws-cli style), hence the longer names.
    leaf.add_argument("--vendor-region", metavar="REGION", help="the vendor's region")
    leaf.add_argument(
        "--vendor-profile", metavar="NAME", help="vendor profile: aws, oss, minio, seaweedfs, ..."
    )
    leaf.add_argument("--addressing-style", choices=("path", "virtual"))
    leaf.add_argument("--connect-timeout", type=float, metavar="SECONDS")
    leaf.add_argument("--read-timeout", type=float, metavar="SECONDS")
    leaf.add_argument("--retries", type=int, metavar="N")
    leaf.add_argument("--breaker-failures", type=int, metavar="N")
    leaf.add_argument("--breaker-cooldown", type=float, metavar="SECONDS")
    tls = leaf.add_mutually_exclusive_group()
    tls.add_argument("--verify-tls", dest="verify_tls", action="store_true", default=None)
    tls.add_argument("--no-verify-tls", dest="verify_tls", action="store_false")


def _pbucket_options(leaf: argparse.ArgumentParser) -> None:
    leaf.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="vendor=V,bucket=B[,prefix=P][,weight=W][,region=R]",
        help="a vendor bucket behind the PBucket; repeat for several",
    )
    leaf.add_argument("--policy", help="single (default on create), balance, ...")
    leaf.add_argument("--write-quorum", type=int, metavar="N", help="policy replicate only")


def add_model_commands(noun: Callable[..., Callable[..., argparse.ArgumentParser]]) -> None:
    vendor = noun("vendor", "vendors (S3 object stores)", aliases=("vendors",))
    vendor("list", vendor_list, "list vendors")
    vendor("get", vendor_get, "show a vendor (never its secret key)", "name")
    _vendor_options(vendor("create", vendor_create, "add an S3 vendor", "name"), create=True)
    _vendor_options(vendor("update", vendor_update, "change a vendor", "name"), create=False)
    vendor("delete", vendor_delete, "delete a vendor no PBucket uses", "name")

    pbucket = noun("pbucket", "PBuckets and their targets", aliases=("pbuckets",))
    pbucket("list", pbucket_list, "list PBuckets")
    pbucket("get", pbucket_get, "show a PBucket", "name")
    leaf = pbucket("create", pbucket_create, "create a PBucket on existing vendors", "name")
    _pbucket_options(leaf)
    leaf.add_argument("--pbucket-region", metavar="REGION", help="default: the node's region")
    leaf.add_argument("--create-buckets", action="store_true", help="create the vendor buckets too")
    _pbucket_options(pbucket("update", pbucket_update, "replace a PBucket's targets", "name"))
    pbucket("delete", pbucket_delete, "delete a PBucket record (vendor buckets stay)", "name")
    add_job_commands(pbucket)
