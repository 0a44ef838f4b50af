"""Settings that make curate find less than its defaults do: warned about and written to audit.json,
so a run that scrubs less is never silent. Only setting names and config words are listed; the
entries of the allow list are the user's own words and are only counted."""

from __future__ import annotations

from typing import Any

from slmconvert.curate.params import CurateParams


def recall_lowering_settings(params: CurateParams) -> list[dict[str, Any]]:
    """One entry per setting that lowers recall below the defaults: {setting, value, default}."""
    defaults = CurateParams()
    found: list[dict[str, Any]] = []

    def note(setting: str, value: Any, default: Any) -> None:
        found.append({"setting": setting, "value": value, "default": default})

    if params.default_score_threshold > defaults.default_score_threshold:
        note("default_score_threshold", params.default_score_threshold, defaults.default_score_threshold)
    for entity in sorted(set(params.entities) | set(params.score_thresholds) | set(defaults.score_thresholds)):
        value = params.score_thresholds.get(entity, params.default_score_threshold)
        default = defaults.score_thresholds.get(entity, defaults.default_score_threshold)
        if value > default and (entity in params.score_thresholds or entity in defaults.score_thresholds):
            note(f"score_thresholds.{entity}", value, default)
    removed = sorted(set(defaults.entities) - set(params.entities))
    if removed:
        note("entities", f"without {', '.join(removed)}", "all default entity types")
    for flag in ("scrub_secrets", "field_hints", "propagate"):
        if not getattr(params, flag) and getattr(defaults, flag):
            note(flag, False, True)
    added = {v.strip().lower() for v in params.allow_list} - {v.strip().lower() for v in defaults.allow_list}
    if added:
        note("allow_list", f"{len(added)} entries added", "loopback addresses only")
    dropped_countries = sorted({c.upper() for c in defaults.countries} - {c.upper() for c in params.countries})
    if dropped_countries:
        note("countries", f"without {', '.join(dropped_countries)}", defaults.countries)
    return found


def describe(settings: list[dict[str, Any]]) -> str:
    """One line for the console: `name=value` of each recall-lowering setting."""
    return ", ".join(f"{s['setting']}={s['value']}" for s in settings)
