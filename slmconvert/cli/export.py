"""`slmconvert export`: adapters, router config and a vLLM multi-LoRA launch command in one folder.

No `from __future__ import annotations` here: the command helper reads option metadata from
the live annotations."""

from pathlib import Path
from typing import Annotated

import typer

from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.stages.runner import parse_pins


def register(app: typer.Typer) -> None:
    @command(app, "export", help="Export the promoted adapters, the router and a ready vLLM launch command.")
    def export(
        opts: CommonOptions,
        out: Annotated[Path, typer.Option("--out", "-o", help="Bundle directory to write.")],
        include_unpromoted: Annotated[
            bool, typer.Option("--all-adapters", help="Also copy adapters of clusters that were not promoted.")
        ] = False,
    ) -> int:
        from slmconvert.router.export import export_bundle

        iterate = opts.workspace.artifact("iterate", parse_pins(opts.inputs).get("iterate"))
        summary = export_bundle(iterate, out, include_unpromoted, overwrite=opts.force)
        if opts.json:
            print_json({**summary, "out": str(out)})
        elif not opts.quiet:
            console = opts.console
            console.print(f"exported iterate {iterate.version} to {out}: {len(summary['adapters'])} adapter(s)")
            for command_line in summary["vllm_commands"] or ["(no promoted clusters: nothing to serve)"]:
                console.print(command_line, soft_wrap=True, highlight=False, markup=False)
        return 0
