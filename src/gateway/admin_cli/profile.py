"""Where `pcache admin` finds its endpoint, credentials, region and TLS trust: like aws-cli.

Precedence, first found wins:

    credentials  --profile's keys when --profile is given; else AWS_ACCESS_KEY_ID +
                 AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); else the profile (AWS_PROFILE,
                 AWS_DEFAULT_PROFILE, "default") in the credentials file, then the config file
    endpoint     --endpoint-url, PCACHE_ENDPOINT, AWS_ENDPOINT_URL, the profile's endpoint_url
    region       --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1
    CA bundle    --ca-bundle, AWS_CA_BUNDLE, the profile's ca_bundle (--no-verify-ssl: none)

Files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials, sections `[name]`) and AWS_CONFIG_FILE
(~/.aws/config, sections `[profile name]` and `[default]`), read with configparser.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigProblem", "Connection", "resolve"]

DEFAULT_REGION = "us-east-1"


class ConfigProblem(Exception):
    """Not enough configuration to make a call: a usage error (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Connection:
    endpoint: str
    region: str
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None
    verify_tls: bool = True


def _read(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as err:
        raise ConfigProblem(f"cannot parse {path}: {err}") from None
    return parser


def _section(parser: configparser.RawConfigParser, name: str) -> dict[str, str]:
    return dict(parser.items(name)) if parser.has_section(name) else {}


def _profile_sections(env: Mapping[str, str], profile: str) -> tuple[dict[str, str], ...]:
    """The profile's keys from the credentials file, then from the config file."""
    home = Path(env.get("HOME", str(Path.home())))
    creds_path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE", home / ".aws" / "credentials"))
    config_path = Path(env.get("AWS_CONFIG_FILE", home / ".aws" / "config"))
    config = _read(config_path)
    in_config = _section(config, f"profile {profile}")
    if not in_config and profile == "default":
        in_config = _section(config, "default")
    return _section(_read(creds_path), profile), in_config


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def resolve(
    env: Mapping[str, str],
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    ca_bundle: str | None = None,
    verify_tls: bool = True,
) -> Connection:
    """The connection settings from the command line (`profile` ... `verify_tls`) and `env`."""
    name = profile or _first(env.get("AWS_PROFILE"), env.get("AWS_DEFAULT_PROFILE")) or "default"
    creds, config = _profile_sections(env, name)
    merged = {**config, **creds}
    if profile is None and env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        access, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        token = env.get("AWS_SESSION_TOKEN") or None
    else:
        access = merged.get("aws_access_key_id", "")
        secret = merged.get("aws_secret_access_key", "")
        token = merged.get("aws_session_token") or None
    if not access or not secret:
        where = f"profile {name!r}" if profile else "AWS_ACCESS_KEY_ID / a profile"
        raise ConfigProblem(f"no credentials found (looked in {where})")
    endpoint = _first(
        endpoint_url,
        env.get("PCACHE_ENDPOINT"),
        env.get("AWS_ENDPOINT_URL"),
        merged.get("endpoint_url"),
    )
    if endpoint is None:
        raise ConfigProblem("no endpoint: pass --endpoint-url or set PCACHE_ENDPOINT")
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigProblem(f"endpoint {endpoint!r} must start with http:// or https://")
    return Connection(
        endpoint=endpoint.rstrip("/"),
        region=_first(
            region, env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"), merged.get("region")
        )
        or DEFAULT_REGION,
        access_key=access,
        secret_key=secret,
        session_token=token,
        ca_bundle=_first(ca_bundle, env.get("AWS_CA_BUNDLE"), merged.get("ca_bundle")),
        verify_tls=verify_tls,
    )
