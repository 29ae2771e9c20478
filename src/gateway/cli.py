"""`pcache` command line: `pcache serve [-c FILE] [--listen HOST:PORT] [--data-dir DIR]`,
`pcache admin ...` (gateway.admin_cli), `pcache warm s3://PBUCKET/PREFIX` (gateway.warm_cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pcache", description="PCache S3 caching gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a gateway node")
    serve.add_argument("-c", "--config", type=Path, help="TOML config file")
    serve.add_argument("--listen", help="HOST:PORT for the S3 HTTP listener")
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./pcache-data)")
    # Listed for --help only: main() hands `admin ...` to gateway.admin_cli before parsing.
    sub.add_parser("admin", help="manage IAM through the admin API (pcache admin --help)")
    sub.add_parser("warm", help="warm s3://PBUCKET/PREFIX into the cache (pcache warm --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["admin"]:
        from gateway.admin_cli import main as admin_main

        return admin_main(argv[1:])
    if argv[:1] == ["warm"]:
        from gateway.warm_cli import main as warm_main

        return warm_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "serve":
        # Imported here: the config pulls in the router (and redis); `pcache admin` and
        # `pcache warm` start a third of a second sooner without it.
        from gateway.config import ConfigError, load_config

        try:
            cfg = load_config(args.config, listen=args.listen, data_dir=args.data_dir)
        except ConfigError as exc:
            print(f"pcache: {exc}", file=sys.stderr)
            return 2
        from gateway.server import run

        run(cfg, argv)  # workers, if any, are started with the same arguments
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
