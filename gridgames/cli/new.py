"""``gridgames new MODEL FILE``: write a commented starter instance (every field, its default and help)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gridgames.cli import SUBCOMMANDS
from gridgames.cli.boundary import cli_errors
from gridgames.data.errors import InstanceError
from gridgames.models.instance import model_fields

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new", help=SUBCOMMANDS["new"],
                       description="Write a starter instance of MODEL to FILE: every field with its default "
                                   "(or an example value) and its help as a comment; it runs as written.")
    p.add_argument("model", help="model name (`gridgames schema` lists them)")
    p.add_argument("file", type=Path, help="the TOML file to write")
    p.add_argument("--variant", help="the instance shape, for models with several (tou_pricing: community, city)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=run)


def write_starter(model: str, file: Path, *, variant: str | None = None, force: bool = False) -> Path:
    """Write the starter instance of ``model`` to ``file``; refuses to overwrite unless ``force``.

    Raises
    ------
    InstanceError
        Unknown model or variant, an existing file without ``force``, a missing folder.
    """
    schema = model_fields(model)
    variants = sorted({f.variant for f in schema.fields if f.variant})
    if variant is not None and variant not in variants:
        raise InstanceError([f"--variant: model {model!r} has "
                             + (f"the variants {', '.join(variants)}" if variants else "no variants")
                             + f", got {variant!r}"])
    if file.is_dir():
        raise InstanceError([f"{file}: is a folder; give a file name (e.g. {file / (model + '.toml')})"])
    if file.exists() and not force:
        raise InstanceError([f"{file}: exists; use --force to overwrite it"])
    if not file.parent.is_dir():
        raise InstanceError([f"{file}: the folder {file.parent} does not exist"])
    file.write_text(schema.starter(variant, name=file.stem), encoding="utf-8")
    return file


def run(args: argparse.Namespace) -> int:
    with cli_errors():
        path = write_starter(args.model, args.file, variant=args.variant, force=args.force)
        print(f"wrote {path}; run it with: gridgames run {path}")
    return 0
