"""`slmconvert purge-raw`: delete the raw calls of collect versions that curate has covered."""

from __future__ import annotations

from typing import Annotated

import typer

from slmconvert.cli.common import CommonOptions, command, print_json


def register(app: typer.Typer) -> None:
    @command(app, "purge-raw", help="Delete calls.parquet and rejects.jsonl of every collect version already curated "
             "(the raw, unscrubbed copy); a purged.json marker in each version says so.")
    def purge_raw(
        opts: CommonOptions,
        keep_latest: Annotated[bool, typer.Option(
            "--keep-latest", help="Keep the LATEST collect version's raw files (`collect --append` and "
            "`iterate --logs` build on them).")] = False,
    ) -> int:
        from slmconvert.collect.retention import purge_curated

        done = purge_curated(opts.workspace, keep_latest=keep_latest)
        if opts.json:
            print_json({"purged": [{"collect": p.collect, "curate": p.curate, "files": p.files} for p in done]})
        elif not opts.quiet:
            for p in done:
                opts.console.print(f"collect@{p.collect}: deleted {', '.join(p.files)} (curated in curate@{p.curate})")
            opts.console.print(f"{len(done)} collect version(s) purged")
        return 0
