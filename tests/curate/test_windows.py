"""Long texts are analysed in overlapping windows: a value found when alone is found wherever a cut
falls, in text without line breaks or spaces (minified JSON), as a free text and as a JSON leaf."""

from __future__ import annotations

import json
import random
import re._parser as sre_parser

import pytest
from presidio_analyzer import PatternRecognizer

from slmconvert.curate.analyzer import WHOLE_TEXT_RECOGNIZERS, PiiAnalyzer
from slmconvert.curate.params import CurateParams
from slmconvert.curate.scrub import Scrubber
from slmconvert.curate.surrogates import Pseudonymiser
from slmconvert.curate.windows import ENTITY_MAX_CHARS, MAX_ENTITY_CHARS, Windowing

from .conftest import KEY

SMALL = Windowing(size=600, max_entity=120, context=60)
PEM = ("-----BEGIN RSA PRIVATE KEY-----\\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"
       "\\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ\\n-----END RSA PRIVATE KEY-----")
# (text placed in the log, the part of it that must be scrubbed)
CANARIES = [
    ("4111-1111-1111-1111", "4111-1111-1111-1111"),
    ("536-22-1874", "536-22-1874"),
    ("zq.hollis@example-mail.org", "zq.hollis@example-mail.org"),
    ("GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("85.214.132.117", "85.214.132.117"),
    ("AKIAQ7ZB3XK2MV4PLN8R", "AKIAQ7ZB3XK2MV4PLN8R"),
    ("ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5", "ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQ0MiJ9.Zm9vYmFyYmF6cXV4MTIzNDU2",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQ0MiJ9.Zm9vYmFyYmF6cXV4MTIzNDU2"),
    (PEM, PEM),
]
PROSE = "the parcel left the depot this morning and the courier said it would arrive soon, "


def minified_filler(length: int, seed: int = 5) -> str:
    """Lowercase minified JSON records: no line break, no space, nothing a recognizer finds."""
    rng = random.Random(seed)
    parts, size = [], 0
    while size < length:
        word = "".join(rng.choice("abcdefghkmnpqrstuvwxyz") for _ in range(rng.randint(2, 7)))
        part = f'{{"id":"{word}","ok":true,"n":[{rng.randint(1, 99)},{rng.randint(1, 9)}]}},'
        parts.append(part)
        size += len(part)
    return "".join(parts)[:length]


def place(filler: str, canary: str, position: int) -> tuple[str, int]:
    """The filler with the canary written over it at `position` as a JSON string; where the canary starts."""
    wrapped = f'","{canary}","'
    return filler[:position] + wrapped + filler[position + len(wrapped):], position + 3


def covered(spans, start: int, end: int) -> bool:
    return all(any(s.start <= i < s.end for s in spans) for i in range(start, end))


def cut_points(windowing: Windowing, text: str) -> list[int]:
    """Every inner window edge (starts and ends)."""
    cuts = windowing.cuts(text)
    return sorted({s for s, _ in cuts[1:]} | {e for _, e in cuts[:-1]})


@pytest.fixture(scope="module")
def small(analyzer) -> PiiAnalyzer:
    return PiiAnalyzer(CurateParams(), engine=analyzer.engine, windowing=SMALL)


def test_cuts_cover_the_text_and_overlap_enough():
    rng = random.Random(11)
    alphabet = ["ab", "ab \n", "a\n", "x"]
    for trial in range(200):
        chars = rng.choice(alphabet)
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 3_000)))
        cuts = SMALL.cuts(text)
        assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
        for (s1, e1), (s2, e2) in zip(cuts, cuts[1:], strict=False):
            assert s1 < s2 and e1 <= e2 and e1 - s2 >= SMALL.overlap, (trial, cuts)
        assert all(e - s <= SMALL.size for s, e in cuts)


def test_cuts_prefer_line_breaks_then_spaces():
    lines = ("word " * 30 + "\n") * 40
    assert all(lines[e - 1] == "\n" for _, e in SMALL.cuts(lines)[:-1])
    spaces = "word " * 400
    assert all(spaces[e - 1] == " " and spaces[s - 1] == " " for s, e in SMALL.cuts(spaces)[1:-1])


def test_each_canary_is_found_alone(small):
    for canary, value in CANARIES:
        text, start = place(minified_filler(200), canary, 80)
        spans = small.analyze_text(text)
        value_start = start + canary.index(value)
        assert covered(spans, value_start, value_start + len(value)), canary


@pytest.mark.parametrize(("canary", "value"), CANARIES, ids=lambda c: str(c)[:12])
def test_canaries_at_every_offset_around_every_cut(small, canary, value):
    filler = minified_filler(1_300)
    assert len(SMALL.cuts(filler)) == 3
    wrapped = len(canary) + 6
    positions = sorted({p for cut in cut_points(SMALL, filler) for p in range(cut - wrapped - 2, cut + 3)})
    texts = {p: place(filler, canary, p) for p in positions}
    found = small.analyze([(text, True) for text, _ in texts.values()])
    crossing = 0
    for position, (text, start) in texts.items():
        value_start = start + canary.index(value)
        spans = found[(text, True)]
        assert spans is not None, position
        assert covered(spans, value_start, value_start + len(value)), (position, canary)
        crossing += any(value_start < cut < value_start + len(value) for cut in cut_points(SMALL, text))
    assert crossing >= 4 * (len(value) - 1), "the canary must cross each cut at every inner offset"


def test_a_name_at_every_offset_around_every_cut_of_prose(small):
    prose = (PROSE * 20)[:1_300]
    canary = " Dear Priya Raman, "
    positions = sorted({p for cut in cut_points(SMALL, prose) for p in range(cut - len(canary) - 2, cut + 3)})
    texts = {p: prose[:p] + canary + prose[p + len(canary):] for p in positions}
    before = small.stats["ner"]
    found = small.analyze([(text, True) for text in texts.values()])
    assert small.stats["ner"] - before == len(texts), "every placement went through NER, window by window"
    for position, text in texts.items():
        assert covered(found[(text, True)], position + 6, position + 17), position


def test_canaries_across_the_real_cuts():
    """At the real window size: a card, an SSN, an e-mail and an IBAN, each across one cut."""
    analyzer = PiiAnalyzer(CurateParams(entities=["CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS", "IBAN_CODE"],
                                        scrub_secrets=False))
    text = minified_filler(110_000)
    cuts = cut_points(analyzer.windowing, text)
    assert len(cuts) == 4
    placed = []
    for cut, (canary, value) in zip(cuts, CANARIES[:4], strict=True):
        text, start = place(text, canary, cut - len(canary) // 2 - 3)
        placed.append((start + canary.index(value), value))
    assert cut_points(analyzer.windowing, text) == cuts
    spans = analyzer.analyze_text(text, ner=False)
    assert all(covered(spans, start, start + len(value)) for start, value in placed)


def test_a_value_in_a_huge_json_leaf_is_found_across_cuts(small, params):
    scrubber = Scrubber(small, Pseudonymiser(KEY), params)
    filler = minified_filler(1_300).replace('"', "'")  # one string leaf
    for cut in cut_points(SMALL, filler):
        for canary, value in CANARIES[:5]:
            leaf, _ = place(filler, canary, cut - len(canary) // 2)
            content = json.dumps({"result": leaf.replace('"', "'"), "status": "ok"}, separators=(",", ":"))
            [result] = scrubber.scrub([{"messages": [{"role": "tool", "content": content}], "output": None}])
            scrubbed = result.record["messages"][0]["content"]
            assert value not in scrubbed and json.loads(scrubbed)["status"] == "ok", (cut, canary)


def test_what_a_window_sees_through_its_cut_is_not_reported(small, analyzer):
    """'9536-22-1874' is no SSN; a window starting at its '5' must not report one."""
    filler = minified_filler(1_300)
    start_of_second = SMALL.cuts(filler)[1][0]
    text, _ = place(filler, "9536-22-1874", start_of_second - 4)
    assert text[start_of_second:start_of_second + 11] == "536-22-1874"
    assert not [s for s in analyzer.analyze_text(text, ner=False) if s.entity == "US_SSN"]
    assert not [s for s in small.analyze_text(text, ner=False) if s.entity == "US_SSN"]


def test_a_private_key_longer_than_a_window_is_one_span(small):
    body = "".join(random.Random(3).choice("ABCDEFGHabcdefgh0123456789+/") for _ in range(1_500))
    pem = f"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----"
    text, start = place(minified_filler(3_000), pem, 700)
    spans = small.analyze_text(text, ner=False)
    assert any(s.entity == "SECRET_PRIVATE_KEY" and s.start == start and s.end == start + len(pem) for s in spans)


def test_a_value_too_long_for_the_overlap_fails_closed(small):
    email = "q" * 280 + "@example-mail.org"
    filler = minified_filler(1_300)
    second_window_start = SMALL.cuts(filler)[1][0]
    text, _ = place(filler, email, second_window_start - 60)
    before = small.stats["value_across_cut"]
    assert small.analyze_text(text, ner=False) is None
    assert small.stats["value_across_cut"] == before + 1
    assert "EMAIL_ADDRESS value longer than 120 characters" in str(small.first_error)


def test_every_windowed_entity_has_a_length_bound(analyzer):
    windowed = {entity for r in analyzer.engine.registry.recognizers if not isinstance(r, WHOLE_TEXT_RECOGNIZERS)
                for entity in r.supported_entities}
    assert windowed - set(ENTITY_MAX_CHARS) == set(), "declare the longest value of new entity types"
    assert max(ENTITY_MAX_CHARS.values()) == MAX_ENTITY_CHARS


def test_no_bounded_pattern_matches_longer_than_its_entity_bound(analyzer):
    checked = 0
    for recognizer in analyzer.engine.registry.recognizers:
        if not isinstance(recognizer, PatternRecognizer):
            continue
        for pattern in recognizer.patterns:
            longest = sre_parser.parse(pattern.regex).getwidth()[1]
            if longest >= sre_parser.MAXREPEAT:  # unbounded: the runtime guard covers it (test above)
                continue
            checked += 1
            for entity in recognizer.supported_entities:
                assert longest <= ENTITY_MAX_CHARS[entity], (entity, pattern.name, longest)
    assert checked > 20
