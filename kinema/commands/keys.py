"""`kinema keys`: create, list and revoke the API keys of `kinema serve` (stored hashed in its database)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser("keys", help=help_text, description=help_text)
    parser.add_argument("action", choices=("create", "list", "revoke"))
    parser.add_argument("key_id", nargs="?", help="the key id to revoke (from `kinema keys list`)")
    parser.add_argument(
        "--tier", default="free", choices=("free", "standard", "pro"), help="priority, concurrency and quota"
    )
    parser.add_argument("--name", help="who the key is for")
    parser.add_argument(
        "--database", help="SQLAlchemy URL of the server's database (default: SQLite in --data-dir)"
    )
    parser.add_argument("--data-dir", type=Path, help="the server's data folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinema.errors import InvalidInputError
    from kinema.serving.auth import create_key
    from kinema.serving.settings import ServeSettings
    from kinema.serving.store import Store

    overrides = {k: v for k, v in (("database", args.database), ("data_dir", args.data_dir)) if v is not None}
    settings = ServeSettings(**overrides)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url())
    try:
        if args.action == "create":
            if not args.name:
                raise InvalidInputError("`kinema keys create` needs --name (who the key is for).")
            key_id, key = create_key(store, args.name, args.tier)
            print(f"Created {args.tier} key {key_id} for {args.name}. Keep it now; it is not shown again:")
            print(key)
        elif args.action == "list":
            for row in store.keys.list():
                created = dt.datetime.fromtimestamp(row["created_at"], dt.timezone.utc).strftime(
                    "%Y-%m-%d %H:%M"
                )
                state = "revoked" if row["revoked"] else "active"
                print(
                    f"{row['id']}  {row['prefix']}…  {row['tier']:<8}  {state:<7}  {created}  {row['name']}"
                )
        else:
            if not args.key_id:
                raise InvalidInputError("`kinema keys revoke` needs the key id (see `kinema keys list`).")
            if not store.keys.revoke(args.key_id):
                raise InvalidInputError(f"No key with id {args.key_id!r}; see `kinema keys list`.")
            print(f"Revoked {args.key_id}.")
            if not store.keys.has_keys():
                print(
                    "No active key is left: the server now refuses every request until you create a key "
                    "(`kinema keys create`); it does not reopen to key-less use."
                )
    finally:
        store.dispose()
    return 0
