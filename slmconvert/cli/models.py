"""`slmconvert models list|prepare`: the model registry, the converted-weights cache, model facts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.cli.safe import safe_tree


def _gib(n: int | None) -> str:
    return "-" if not n else f"{n / 2**30:.2f}"


def _millions(n: int | None) -> str:
    return "-" if not n else f"{n / 1e6:.0f}M"


def _flag(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def render_models(infos: list[dict[str, Any]], console: Console) -> None:
    """The registry and cache as a table."""
    from slmconvert.models.cache import cache_root

    table = Table(title=f"models (cache: {cache_root()})", show_edge=False)
    for column in ("name", "kind", "params", "context", "licence", "chat tmpl", "native tools", "cached", "disk GiB", "note"):
        table.add_column(column)
    for info in safe_tree(infos):
        note = "" if info["available"] else f"not installed: {info['install_hint'] or 'download it'}"
        table.add_row(
            info["name"], info["kind"], _millions(info["n_params"]), str(info["context_length"] or "-"),
            info["license"] or "?", _flag(info["chat_template"]), _flag(info["native_tools"]),
            _flag(info["cached"]), _gib(info["size_bytes"]), note,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    models_app = typer.Typer(help="List the model registry and cache; prepare models ahead of use.", no_args_is_help=True)
    app.add_typer(models_app, name="models")

    @command(models_app, "list", help="Registered aliases and converted models: size, context, licence, tool support, cache state.")
    def list_command(opts: CommonOptions) -> int:
        from slmconvert.models.info import list_models

        infos = [i.to_dict() for i in list_models(inspect_tokenizer=True)]
        if opts.json:
            print_json({"models": infos})
        else:
            render_models(infos, Console(stderr=False))
        return 0

    @command(models_app, "prepare", help="Convert models into the cache now (built-ins are dequantised once) and show their facts.")
    def prepare_command(
        opts: CommonOptions,
        names: Annotated[list[str], typer.Argument(help="Aliases, local paths or Hugging Face ids.")],
    ) -> int:
        from slmconvert.models.info import model_info
        from slmconvert.models.loading import model_path

        infos = []
        for name in names:
            with opts.console.status(f"preparing {name} (first use converts the weights)"):
                model_path(name)
            infos.append(model_info(name).to_dict())
        if opts.json:
            print_json({"models": infos})
        else:
            render_models(infos, Console(stderr=False))
        return 0
