"""`slmconvert env`: versions and device, for bug reports."""

from __future__ import annotations

import typer

from slmconvert import __version__
from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.util.device import env_info, library_versions


def register(app: typer.Typer) -> None:
    @command(app, "env", help="Print versions and device information for bug reports.")
    def env(opts: CommonOptions) -> int:
        info = {"slmconvert": __version__, **env_info(), "libraries": library_versions()}
        if opts.json:
            print_json(info)
            return 0
        for key, value in info.items():
            if key == "libraries":
                for lib, version in value.items():
                    typer.echo(f"- {lib}: {version or 'not installed'}")
            else:
                typer.echo(f"- {key}: {value}")
        return 0
