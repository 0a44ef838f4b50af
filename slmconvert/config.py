"""Stage parameters from defaults < --config YAML < --set key=value < command-line flags."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from slmconvert.errors import ConfigError
from slmconvert.params import StageParams
from slmconvert.workspace import STAGES

# Sections a config file may hold besides the stages (run-all and the router have their own).
EXTRA_SECTIONS: dict[str, str] = {}


def params_class(stage: str) -> type[StageParams]:
    """The Params model of a stage: the StageParams subclass in slmconvert.<stage>.params.

    The light params module is preferred over the stage module so that validating a config
    never imports torch or spaCy.
    """
    try:
        module = importlib.import_module(f"slmconvert.{stage}.params")
    except ModuleNotFoundError:
        module = None
    if module is not None:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, StageParams)
                and value is not StageParams
                and value.__module__ == module.__name__
            ):
                return value
    return importlib.import_module(f"slmconvert.stages.{stage}").Params


def _config_text(path: Path) -> str:
    """The text of a --config file, or a ConfigError that says what the path is instead."""
    hint = "pass a YAML file, e.g. one written by `slmconvert config > pipeline.yaml`"
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory, not a YAML file", hint=hint)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist", hint=hint)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}", hint=hint) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text file (not UTF-8)", hint=hint) from None
    if "\x00" in text:
        raise ConfigError(f"config file {path} is not a text file (it holds NUL bytes)", hint=hint)
    return text


def load_config_file(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """Parse a YAML config whose top-level keys are stage names."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(_config_text(Path(path))) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of stage names")
    unknown = sorted(set(data) - set(STAGES))
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(unknown)}",
            hint=f"valid sections: {', '.join(STAGES)}",
        )
    for stage, section in data.items():
        if section is None:
            data[stage] = {}
        elif not isinstance(section, dict):
            raise ConfigError(f"{path}: section {stage!r} must be a mapping")
    return data


def _set_path(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        node = target.get(key)
        if not isinstance(node, dict):
            node = {}
            target[key] = node
        target = node
    target[keys[-1]] = value


def apply_sets(config: dict[str, dict[str, Any]], sets: list[str], default_stage: str | None) -> None:
    """Apply `--set stage.key=value` (or `key=value` for the current stage); values are YAML."""
    for item in sets or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r} is not key=value", hint="e.g. --set curate.max_prompt_tokens=8000")
        parts = key.strip().split(".")
        if parts[0] in STAGES:
            stage, path = parts[0], parts[1:]
        elif default_stage is not None:
            stage, path = default_stage, parts
        else:
            raise ConfigError(f"--set {item!r}: start the key with a stage name", hint=f"stages: {', '.join(STAGES)}")
        if not path:
            raise ConfigError(f"--set {item!r} names no parameter")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: value is not valid YAML: {exc}") from exc
        _set_path(config.setdefault(stage, {}), path, value)


def build_params(stage: str, section: dict[str, Any], flags: dict[str, Any] | None = None) -> StageParams:
    """Validate a stage's section (+ explicit flags) into its Params model, with helpful errors."""
    cls = params_class(stage)
    merged = dict(section)
    for key, value in (flags or {}).items():
        if value is not None:
            merged[key] = value
    try:
        return cls(**merged)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown key {stage}.{where}")
            else:
                problems.append(f"{stage}.{where}: {error['msg']}")
        valid = ", ".join(sorted(cls.model_fields))
        raise ConfigError("; ".join(problems), hint=f"valid {stage} keys: {valid}") from None


def resolve_params(
    stage: str,
    config_path: str | Path | None = None,
    sets: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> StageParams:
    """One stage's params from the full precedence chain."""
    config = load_config_file(config_path)
    apply_sets(config, sets or [], default_stage=stage)
    for other in config:  # validate other sections too: a typo anywhere is an error
        if other != stage:
            build_params(other, config[other])
    return build_params(stage, config.get(stage, {}), flags)


def resolve_all(
    config_path: str | Path | None = None, sets: list[str] | None = None
) -> dict[str, StageParams]:
    """Params of every stage (for run-all), validated together."""
    config = load_config_file(config_path)
    apply_sets(config, sets or [], default_stage=None)
    return {stage: build_params(stage, config.get(stage, {})) for stage in STAGES}


def defaults_yaml() -> str:
    """Every stage's documented defaults as YAML with the help text as comments."""
    lines = ["# slmconvert defaults: every stage's parameters, generated by `slmconvert config`.", ""]
    for stage in STAGES:
        cls = params_class(stage)
        lines.append(f"{stage}:")
        instance = cls()
        dumped = instance.model_dump(mode="json")
        if not dumped:
            lines.append("  {}")
        for name, field in cls.model_fields.items():
            if field.description:
                for text_line in field.description.splitlines():
                    lines.append(f"  # {text_line}")
            rendered = yaml.safe_dump({name: dumped[name]}, sort_keys=True, default_flow_style=False)
            lines.extend("  " + line for line in rendered.rstrip("\n").splitlines())
        lines.append("")
    return "\n".join(lines)
