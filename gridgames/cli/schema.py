"""``gridgames schema [MODEL]``: the instance fields of a model family (section, key, type, units, default, help).

Without MODEL it lists the models; ``--all --format md`` prints the page
``docs/instances.md`` (every model's fields).
"""
from __future__ import annotations

import argparse
import logging

from gridgames.cli import SUBCOMMANDS
from gridgames.cli.boundary import cli_errors
from gridgames.models.instance import known_models, model_fields
from gridgames.models.schema import markdown_reference

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help=SUBCOMMANDS["schema"],
                       description="Print the instance fields of a model (its TOML sections and keys).")
    p.add_argument("model", nargs="?", help="model name (the instance's `model = ...`); omit to list them")
    p.add_argument("--format", choices=("text", "md"), default="text", help="plain text (default) or Markdown")
    p.add_argument("--all", action="store_true", help="every model (with --format md: docs/instances.md)")
    p.set_defaults(func=run)


def reference_page() -> str:
    """The text of ``docs/instances.md``: every model's fields in Markdown."""
    return markdown_reference(model_fields(name) for name in known_models())


def run(args: argparse.Namespace) -> int:
    with cli_errors():
        if args.all:
            if args.format == "md":
                print(reference_page(), end="")
            else:
                print("\n".join(model_fields(name).format_text() for name in known_models()), end="")
            return 0
        if args.model is None:
            print("models (gridgames schema MODEL prints one's fields):")
            for name in known_models():
                print(f"  {name:<22} {model_fields(name).description}")
            return 0
        schema = model_fields(args.model)
        print(schema.format_markdown() if args.format == "md" else schema.format_text(), end="")
    return 0
