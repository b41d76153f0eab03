"""`pilegate ocpp ...`: OCPP charge points from the command line (database side, like
`pilegate piles add` and `pilegate piles secret`):

    pilegate ocpp add CHARGER_ID [--connectors N] [--station S]
    pilegate ocpp password CHARGER_ID [--key HEX | --password TEXT] [--profile 1|2] | --clear

With neither --key nor --password a random 20-byte key is generated and printed once (set it
as the charger's AuthorizationKey). Only its scrypt hash is stored.
"""

from __future__ import annotations

import argparse
import secrets
from typing import Any

from gateway.adapters.ocpp16.auth import MAX_PASSWORD, MIN_PASSWORD, hash_password
from gateway.adapters.ocpp16.transport import CHARGER_ID

ID_HELP = "the charge point id, as in its URL (1..32 of A-Za-z0-9._:-)"


def charger_arg(text: str) -> str:
    if not CHARGER_ID.match(text):
        raise argparse.ArgumentTypeError(
            f"not a charge point id (1..32 of A-Za-z0-9._:-): {text!r}"
        )
    return text


def register(commands: Any) -> None:
    from gateway import cli_operator as op

    ocpp = commands.add_parser("ocpp", help="OCPP 1.6J charge points (database)")
    sub = ocpp.add_subparsers(dest="ocpp_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="register a charge point")
    add.add_argument("charger_id", type=charger_arg, metavar="CHARGER_ID", help=ID_HELP)
    add.add_argument("--connectors", type=int, default=2, help="its connectors (default 2)")
    add.add_argument("--station", metavar="S", help="its station id")
    op._db(add)
    add.set_defaults(handler=op._handler(cmd_add))
    pw = sub.add_parser("password", help="set (or clear) a charge point's Basic Auth password")
    pw.add_argument("charger_id", type=charger_arg, metavar="CHARGER_ID", help=ID_HELP)
    given = pw.add_mutually_exclusive_group()
    given.add_argument("--key", metavar="HEX", help="the AuthorizationKey, hex digits")
    given.add_argument("--password", metavar="TEXT", help="the password as text")
    given.add_argument("--clear", action="store_true", help="no password (security profile 0)")
    pw.add_argument("--profile", type=int, choices=(1, 2), default=1, help="1: ws://, 2: wss://")
    op._db(pw)
    pw.set_defaults(handler=op._handler(cmd_password))


def cmd_add(args: argparse.Namespace) -> int:
    from gateway import cli_operator as op

    async def go() -> int:
        async with op.open_storage(args) as storage:
            new = await storage.register_charger(
                args.charger_id, gun_count=args.connectors, station_id=args.station,
                at_ms=storage.clock(),
            )  # fmt: skip
        print(f"{args.charger_id}: {'registered' if new else 'already registered'}")
        return 0

    return op._run(go())


def cmd_password(args: argparse.Namespace) -> int:
    from gateway import cli_operator as op

    shown = None
    if args.clear:
        password = None
    elif args.key is not None:
        password = bytes.fromhex(args.key)  # ValueError: exit 2 with the message
    elif args.password is not None:
        password = args.password.encode()
    else:
        password = secrets.token_bytes(20)
        shown = password.hex()
    if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"a password is {MIN_PASSWORD}..{MAX_PASSWORD} bytes")

    async def go() -> int:
        async with op.open_storage(args) as storage:
            stored = None if password is None else hash_password(password)
            profile = 0 if password is None else args.profile
            if not await storage.set_charger_password(
                args.charger_id, stored, profile, at_ms=storage.clock()
            ):
                raise op.OperatorError(f"unknown charge point {args.charger_id}")
        print(f"{args.charger_id}: security profile {profile}")
        if shown is not None:
            print(f"  AuthorizationKey (shown once): {shown}")
        return 0

    return op._run(go())
