"""The `pcache admin` command tree: one small function per subcommand, each one API call.

Exit codes: 0 success, 1 the API refused (`code: message` on stderr) or could not be reached,
2 usage (argparse, missing endpoint / credentials, unreadable --document file).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from gateway.admin_cli.client import AdminClient, path
from gateway.admin_cli.output import Column, print_json, print_record, print_table

__all__ = ["Context", "UsageProblem", "build_parser"]


class UsageProblem(Exception):
    """A mistake on the command line that argparse cannot see (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Context:
    client: AdminClient
    raw_json: bool
    out: TextIO
    err: TextIO

    def show(
        self,
        reply: Any,
        *,
        columns: Sequence[Column] | None = None,
        documents: Sequence[str] = (),
    ) -> None:
        if self.raw_json:
            print_json(reply, self.out)
        elif reply is None:
            return
        elif columns is not None:
            print_table(reply["items"], columns, self.out)
        else:
            print_record(reply, self.out, documents=documents)


Command = Callable[[Context, argparse.Namespace], None]

USERS: list[Column] = [
    ("NAME", "name"),
    ("ENABLED", "enabled"),
    ("CREATED", "created"),
    ("POLICIES", "policies"),
    ("GROUPS", "groups"),
]
KEYS: list[Column] = [
    ("ACCESS_KEY", "access_key"),
    ("USER", "user"),
    ("STATUS", "status"),
    ("CREATED", "created"),
    ("EXPIRES", "expires"),
]
POLICIES: list[Column] = [
    ("NAME", "name"),
    ("ATTACHMENTS", "attachment_count"),
    ("UPDATED", "updated"),
    ("DESCRIPTION", "description"),
]
GROUPS: list[Column] = [("NAME", "name"), ("MEMBERS", "members"), ("POLICIES", "policies")]
ROLES: list[Column] = [
    ("NAME", "name"),
    ("MAX_SESSION", "max_session_seconds"),
    ("POLICIES", "policies"),
    ("DESCRIPTION", "description"),
]


def read_document(source: str) -> str:
    """A policy document from a file, or from stdin for '-'."""
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageProblem(f"cannot read {source}: {err}") from None


# --- users -----------------------------------------------------------------------------------


def user_list(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("users")), columns=USERS)


def user_create(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("POST", path("users"), {"name": a.name}))


def user_get(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("users", a.name)))


def user_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("DELETE", path("users", a.name)))


def _user_enabled(enabled: bool) -> Command:
    def command(ctx: Context, a: argparse.Namespace) -> None:
        ctx.show(ctx.client.call("PATCH", path("users", a.name), {"enabled": enabled}))

    return command


# --- access keys -----------------------------------------------------------------------------


def key_create(ctx: Context, a: argparse.Namespace) -> None:
    body = {} if a.expires is None else {"expires": a.expires}
    ctx.show(ctx.client.call("POST", path("users", a.user, "keys"), body))
    if not ctx.raw_json:
        ctx.err.write("Save the secret key now: it cannot be shown again.\n")


def key_list(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("users", a.user, "keys")), columns=KEYS)


def _key_status(status: str) -> Command:
    def command(ctx: Context, a: argparse.Namespace) -> None:
        ctx.show(ctx.client.call("PATCH", path("keys", a.access_key), {"status": status}))

    return command


def key_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("DELETE", path("keys", a.access_key)))


# --- policies --------------------------------------------------------------------------------


def policy_list(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("policies")), columns=POLICIES)


def _policy_body(a: argparse.Namespace) -> dict[str, str]:
    body = {"document": read_document(a.document)}
    if a.description is not None:
        body["description"] = a.description
    return body


def policy_create(ctx: Context, a: argparse.Namespace) -> None:
    body = {"name": a.name, **_policy_body(a)}
    ctx.show(ctx.client.call("POST", path("policies"), body), documents=("document",))


def policy_get(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("policies", a.name)), documents=("document",))


def policy_update(ctx: Context, a: argparse.Namespace) -> None:
    reply = ctx.client.call("PUT", path("policies", a.name), _policy_body(a))
    ctx.show(reply, documents=("document",))


def policy_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("DELETE", path("policies", a.name)))


def _attachment(method: str) -> Command:
    def command(ctx: Context, a: argparse.Namespace) -> None:
        kind, holder = next((k, getattr(a, k)) for k in ("user", "group", "role") if getattr(a, k))
        reply = ctx.client.call(method, path(f"{kind}s", holder, "policies", a.name))
        ctx.show(reply, documents=("trust_policy",))

    return command


# --- groups ----------------------------------------------------------------------------------


def group_list(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("groups")), columns=GROUPS)


def group_create(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("POST", path("groups"), {"name": a.name}))


def group_get(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("groups", a.name)))


def group_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("DELETE", path("groups", a.name)))


def _membership(method: str) -> Command:
    def command(ctx: Context, a: argparse.Namespace) -> None:
        ctx.show(ctx.client.call(method, path("groups", a.group, "members", a.user)))

    return command


# --- roles -----------------------------------------------------------------------------------


def role_list(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("roles")), columns=ROLES)


def role_create(ctx: Context, a: argparse.Namespace) -> None:
    body: dict[str, object] = {"name": a.name, "trust_policy": read_document(a.trust)}
    if a.max_session_seconds is not None:
        body["max_session_seconds"] = a.max_session_seconds
    if a.description is not None:
        body["description"] = a.description
    ctx.show(ctx.client.call("POST", path("roles"), body), documents=("trust_policy",))


def role_get(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("GET", path("roles", a.name)), documents=("trust_policy",))


def role_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.show(ctx.client.call("DELETE", path("roles", a.name)))


# --- per-PBucket JSON documents (bucket policy, lifecycle rules, cache TTL) -----------------


def _bucket_document(
    tree: _Tree, noun: str, help_text: str, sub: str, what: str
) -> Callable[..., argparse.ArgumentParser]:
    """`<noun> get|put|delete BUCKET [--document FILE]` over `/pbuckets/{bucket}/{sub}`, whose
    reply is the document itself: `get` prints it as JSON, the form `put` takes back."""

    def get(ctx: Context, a: argparse.Namespace) -> None:
        print_json(ctx.client.call("GET", path("pbuckets", a.bucket, sub)), ctx.out)

    def put(ctx: Context, a: argparse.Namespace) -> None:
        raw = read_document(a.document).encode("utf-8")
        ctx.show(ctx.client.call("PUT", path("pbuckets", a.bucket, sub), raw=raw))

    def delete(ctx: Context, a: argparse.Namespace) -> None:
        ctx.show(ctx.client.call("DELETE", path("pbuckets", a.bucket, sub)))

    verb = tree.noun(noun, help_text)
    verb("get", get, f"print a PBucket's {what}", "bucket")
    _document_option(verb("put", put, f"set a PBucket's {what}", "bucket"))
    verb("delete", delete, f"delete a PBucket's {what}", "bucket")
    return verb


# --- cache ---------------------------------------------------------------------------------

CACHE_TIERS: list[Column] = [
    ("TIER", "name"),
    ("DIRECTORY", "directory"),
    ("USED", "used"),
    ("CAPACITY", "capacity"),
    ("USE%", "use"),
    ("BLOCKS", "blocks"),
    ("HITS", "hits"),
    ("MISSES", "misses"),
    ("HIT%", "hit"),
    ("EVICTED", "evictions"),
    ("PROMOTED", "promotions"),
    ("DEMOTED", "demotions"),
    ("CRC_FAIL", "checksum_failures"),
    ("IO_ERR", "io_errors"),
    ("IN_SERVICE", "in_service"),
]


def size_text(count: object) -> str:
    """Bytes as a short IEC size: 512 B, 64.0 KiB, 1.5 GiB."""
    if not isinstance(count, int):
        return "-"
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            break
        value /= 1024
    return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"


def _percent(part: object, whole: object) -> str:
    if not isinstance(part, int | float) or not isinstance(whole, int | float) or not whole:
        return "-"
    return f"{100 * part / whole:.1f}"


def cache_status(ctx: Context, a: argparse.Namespace) -> None:
    reply = ctx.client.call("GET", path("cache"))
    if ctx.raw_json:
        print_json(reply, ctx.out)
        return
    runs, joins = reply["singleflight"]["runs"], reply["singleflight"]["joins"]
    summary = {
        "enabled": reply["enabled"],
        "block_size": size_text(reply["block_size"]) if reply["enabled"] else None,
        "max_age": reply["max_age"],
        "singleflight": f"{runs} fetches, {joins} joined",
    }
    print_record(summary, ctx.out)
    rows = [
        {
            **tier,
            "name": tier.get("name", str(i)),
            "used": size_text(tier["used"]),
            "capacity": size_text(tier["capacity"]),
            "use": _percent(tier["used"], tier["capacity"]),
            "hit": _percent(tier["hit_ratio"], 1),
        }
        for i, tier in enumerate(reply["tiers"])
    ]
    if rows:
        ctx.out.write("\n")
        print_table(rows, CACHE_TIERS, ctx.out)


def cache_purge(ctx: Context, a: argparse.Namespace) -> None:
    body: dict[str, str] = {"pbucket": a.pbucket}
    for mode in ("key", "prefix", "regex"):
        if getattr(a, mode) is not None:
            body[mode] = getattr(a, mode)
    ctx.show(ctx.client.call("POST", path("cache", "purge"), body))


# --- the parser ------------------------------------------------------------------------------


def _connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The aws-cli style options; accepted before and after the subcommand (`suppress` keeps a
    leaf parser from overwriting what the top level parsed)."""
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--endpoint-url", help="gateway URL (or env PCACHE_ENDPOINT)", **d)
    parser.add_argument("--profile", help="profile in ~/.aws/credentials and ~/.aws/config", **d)
    parser.add_argument("--region", help="signing region (default: profile, else us-east-1)", **d)
    parser.add_argument("--json", action="store_true", help="print the raw JSON reply", **d)
    parser.add_argument("--ca-bundle", help="CA certificates to trust for https", **d)
    parser.add_argument(
        "--no-verify-ssl", action="store_true", help="do not verify the https certificate", **d
    )


class _Tree:
    """Adds `<noun> <verb>` parsers that all share the connection options."""

    def __init__(self, root: argparse.ArgumentParser) -> None:
        self._nouns = root.add_subparsers(dest="noun", required=True, metavar="COMMAND")
        self._common = argparse.ArgumentParser(add_help=False)
        _connection_options(self._common, suppress=True)

    def noun(
        self, name: str, help_text: str, aliases: Sequence[str] = ()
    ) -> Callable[..., argparse.ArgumentParser]:
        parser = self._nouns.add_parser(name, help=help_text, aliases=list(aliases))
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="ACTION")

        def verb(
            verb_name: str, func: Command, help_text: str, *args: str
        ) -> argparse.ArgumentParser:
            leaf = verbs.add_parser(verb_name, help=help_text, parents=[self._common])
            for arg in args:
                leaf.add_argument(arg)
            leaf.set_defaults(func=func)
            return leaf

        return verb


def _document_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--document", required=required, metavar="FILE", help="JSON file, - = stdin"
    )


def build_parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="pcache admin",
        description="Manage PCache through the admin REST API (/admin/v1).",
    )
    _connection_options(root, suppress=False)
    tree = _Tree(root)

    user = tree.noun("user", "IAM users")
    user("list", user_list, "list users")
    user("create", user_create, "create a user", "name")
    user("get", user_get, "show a user", "name")
    user("delete", user_delete, "delete a user with its keys", "name")
    user("enable", _user_enabled(True), "enable a user", "name")
    user("disable", _user_enabled(False), "disable a user (its keys stop working)", "name")

    key = tree.noun("key", "access keys")
    create = key("create", key_create, "create a key; the secret is printed once", "user")
    create.add_argument("--expires", metavar="ISO8601", help="e.g. 2030-01-01T00:00:00Z")
    key("list", key_list, "list a user's keys (no secrets)", "user")
    key("enable", _key_status("Active"), "activate a key", "access_key")
    key("disable", _key_status("Inactive"), "deactivate a key", "access_key")
    key("delete", key_delete, "delete a key", "access_key")

    policy = tree.noun("policy", "managed policies")
    policy("list", policy_list, "list policies")
    for verb, func, text in (
        ("create", policy_create, "create a policy"),
        ("update", policy_update, "replace a policy's document"),
    ):
        leaf = policy(verb, func, text, "name")
        _document_option(leaf)
        leaf.add_argument("--description")
    policy("get", policy_get, "show a policy and its document", "name")
    policy("delete", policy_delete, "delete a policy (must be detached)", "name")
    for verb, method in (("attach", "PUT"), ("detach", "DELETE")):
        leaf = policy(verb, _attachment(method), f"{verb} a policy", "name")
        holder = leaf.add_mutually_exclusive_group(required=True)
        for kind in ("user", "group", "role"):
            holder.add_argument(f"--{kind}", metavar=kind.upper())

    group = tree.noun("group", "groups")
    group("list", group_list, "list groups")
    group("create", group_create, "create a group", "name")
    group("get", group_get, "show a group", "name")
    group("delete", group_delete, "delete a group", "name")
    group("add-user", _membership("PUT"), "add a user to a group", "group", "user")
    group("remove-user", _membership("DELETE"), "remove a user from a group", "group", "user")

    role = tree.noun("role", "roles")
    role("list", role_list, "list roles")
    leaf = role("create", role_create, "create a role", "name")
    leaf.add_argument("--trust", required=True, metavar="FILE", help="trust policy, - = stdin")
    leaf.add_argument("--max-session-seconds", type=int, metavar="N", help="900..43200")
    leaf.add_argument("--description")
    role("get", role_get, "show a role", "name")
    role("delete", role_delete, "delete a role", "name")

    _bucket_document(tree, "bucket-policy", "PBucket bucket policies", "policy", "policy")
    rules = _bucket_document(
        tree,
        "lifecycle",
        "PBucket lifecycle rules (aws-cli's JSON shape)",
        "lifecycle",
        "lifecycle rules",
    )
    from gateway.admin_cli.lifecycle_jobs import add_lifecycle_job_commands  # builds on this

    add_lifecycle_job_commands(rules)
    _bucket_document(
        tree,
        "cache-ttl",
        "how long a PBucket's cached blocks may be served, per prefix",
        "cache-ttl",
        "cache TTL",
    )

    cache = tree.noun("cache", "the node's block cache")
    cache("status", cache_status, "show the cache settings and each tier's usage and counters")
    leaf = cache("purge", cache_purge, "drop cached objects of a PBucket", "pbucket")
    what = leaf.add_mutually_exclusive_group(required=True)
    what.add_argument("--key", metavar="KEY", help="one object key")
    what.add_argument("--prefix", metavar="PREFIX", help="every key starting with PREFIX")
    what.add_argument("--regex", metavar="REGEX", help="every key REGEX fully matches")

    from gateway.admin_cli.model import add_model_commands  # it builds on this module

    add_model_commands(tree.noun)
    return root
