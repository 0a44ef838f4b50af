"""`slmconvert route`: where would these calls go, and why (one JSON line per call on stdout).

No `from __future__ import annotations` here: the command helper reads option metadata from
the live annotations."""

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.cli.safe import safe_text
from slmconvert.errors import BadInputError, SlmError


def _router_dir(opts: CommonOptions, router: Path | None) -> Path:
    if router is not None:
        return router
    return opts.workspace.artifact("iterate", None).path / "router"


def _stage_params(workspace: Any, stage: str, version: str | None) -> Any:
    """The params a stage version was built with (None when that version is not in this workspace)."""
    from slmconvert.config import build_params

    if not version:
        return None
    try:
        return build_params(stage, workspace.artifact(stage, version).params)
    except SlmError:
        return None


def register(app: typer.Typer) -> None:
    @command(app, "route", help="Show which calls the router sends to an SLM or the LLM, and why (reads call logs "
             "in any collect format, or normalised records, from FILE or stdin).")
    def route(
        opts: CommonOptions,
        source: Annotated[Path | None, typer.Argument(help="Calls file (default: stdin).", show_default=False)] = None,
        router: Annotated[
            Path | None, typer.Option("--router", help="Router directory (default: <workdir>/iterate/LATEST/router).")
        ] = None,
        generate: Annotated[
            bool, typer.Option("--generate", help="Also let the SLMs answer and apply the serve-time escalation checks.")
        ] = False,
    ) -> int:
        from slmconvert.router import Router
        from slmconvert.router.intake import read_calls

        workspace = opts.workspace
        directory = _router_dir(opts, router)
        loaded = Router.load(directory, embedding_cache=workspace.cache_dir("embeddings"))
        data = source.read_bytes() if source is not None else sys.stdin.buffer.read()
        intake = read_calls(
            data, workspace,
            collect_params=None,
            curate_params=_stage_params(workspace, "curate", loaded.config.lineage.get("curate")),
        )
        usable = [r for r in intake.records if r.get("reason") != "scrub_error"]
        if not usable and not intake.rejects:
            raise BadInputError("no calls in the input", hint="pipe JSON lines of logged calls into `slmconvert route`")
        if generate:
            from slmconvert.config import resolve_params
            from slmconvert.router.generator import PeftGenerator

            params = resolve_params("iterate", opts.config, opts.sets)  # --config/--set: device, batch size
            served = loaded.serve(usable, PeftGenerator(params.device, params.batch_size))
            rows = [s.to_dict() for s in served]
        else:
            rows = [d.to_dict() for d in loaded.route_many(usable)]
        rows += [{"call_id": r.get("call_id"), "cluster_id": -1, "route": "llm", "confidence": 0.0, "model": None,
                  "adapter": None, "reason": "could not be scrubbed safely"}
                 for r in intake.records if r.get("reason") == "scrub_error"]
        counts = Counter((r.get("final_route") or r["route"]) for r in rows)
        summary = {"router": str(directory), "calls": len(rows), "rejected_lines": intake.rejects,
                   "reject_reasons": intake.reject_reasons, "routes": dict(counts),
                   "by_cluster": dict(Counter(str(r["cluster_id"]) for r in rows))}
        if opts.json:
            print_json({**summary, "decisions": rows})
            return 0
        for row in rows:
            sys.stdout.write(_json_line(row))
        if not opts.quiet:
            table = Table(title=f"route: {len(rows)} call(s) via {directory}", title_justify="left")
            for col in ("cluster", "calls", "route"):
                table.add_column(col)
            per = Counter((str(r["cluster_id"]), r.get("final_route") or r["route"]) for r in rows)
            for (cid, where), n in sorted(per.items()):
                table.add_row(cid, str(n), where)
            opts.console.print(table)
            if intake.rejects:
                opts.console.print(f"[yellow]{intake.rejects} input line(s) could not be read as calls[/yellow]: "
                                   + ", ".join(f"{safe_text(k)} x{v}" for k, v in intake.reject_reasons.items()))
        return 0


def _json_line(row: dict[str, Any]) -> str:
    import json

    return json.dumps(row, sort_keys=True, default=str) + "\n"
