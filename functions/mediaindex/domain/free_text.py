"""Free text as people type it into a search box: "a horse running in a field", "pictures of my car", "ice cream".

`read_words` turns the plain words of a query into concepts (domain/expressions.Concept): stop words go, multi-word
names are read as one ("ice cream", "golden retriever", "new york"), verbs and plurals are reduced to their lemma
("riding" -> ride, "mice" -> mouse), and each concept carries its options with weights: the word as a label, a
person, a face (man, girl), a word of the text or path, and the labels WordNet relates it to (data/lexicon.json,
built by adapters/analysis/local/build_lexicon.py: "lake" -> lakeside, "puppy" -> dog, "beach" -> seashore).

Which concepts the index knows, and what to do when a file has only some of them, is the search use case's
business (services/search.py); this module only reads the words.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from mediaindex.domain.expressions import (
    OPTION_ANSWERS, PEOPLE_WORDS, And, Concept, DateRange, Expr, FaceHas, FactIs, LabelIs, Or, PersonIs, TextHas,
    simplify, text_tokens,
)
from mediaindex.domain.time_words import read_time_words
from mediaindex.domain.words import singulars

LEXICON = Path(__file__).with_name("data") / "lexicon.json"
MAX_RELATED = 8  # related labels a word brings, the closest first: enough for recall, few enough for the limits
MAX_PHRASE_WORDS = 3
# words for the kinds of files (domain/kinds.py): "screenshots", "selfie", "videos", "clips"
KIND_WORDS = {"video": "video", "clip": "video", "movie": "video", "film": "video", "screenshot": "screenshot",
              "screengrab": "screenshot", "selfie": "selfie", "photograph": "photo"}

# Words that carry no concept in a photo search: English function words, and the words people put around what they
# want ("photos of", "show me", "pictures with"). A query made of nothing else is searched as written.
STOP_WORDS = frozenset("""
a an the and or but if of in on at by for with without from to into onto over under above below near beside behind
between among through during before after about around against along across off out up down upon within
is are was were be been being am do does did doing have has had having will would shall should can could may might
must i me my mine myself we us our ours you your yours he him his she her hers it its they them their theirs this
that these those there here who whom whose which what when where why how all any some each every both few more most
other such no nor not only own same so than too very just also s t d ll m re ve y
photo photos picture pictures pic pics image images shot shots snap snaps showing shows show find search look
looking get taken take one ones something someone's thing things kind sort lot lots
playing sitting standing holding wearing having doing being going making
""".split())


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    table = json.loads(LEXICON.read_text(encoding="utf-8"))
    return {
        "related": {w: [(t, float(s)) for t, s in pairs] for w, pairs in table["related"].items()},
        "phrases": frozenset(table["phrases"]),
        "verb_forms": table["verb_forms"],
    }


def lemmas(word: str) -> list[str]:
    """The word, its singular forms and its verb lemma: "mice" -> mouse, "riding" -> ride, "ran" -> run."""
    forms = list(singulars(word))
    table = lexicon()
    base = table["verb_forms"].get(word)
    if base:
        forms.append(base)
    for suffix, endings in (("ing", ("", "e")), ("ed", ("", "e")), ("es", ("",)), ("s", ("",))):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            if suffix in ("ing", "ed") and len(stem) > 2 and stem[-1] == stem[-2]:
                forms.append(stem[:-1])  # running -> run
            forms.extend(stem + ending for ending in endings)
    return list(dict.fromkeys(f for f in forms if f))


def concept(written: str, quoted: bool = False, budget: int = MAX_RELATED) -> Concept:
    """One word or name as a concept: its label forms and related labels, a person, a face, text, a place, a camera
    word, a kind of file. A negative `budget` (a very long query): only the label, the person and the text."""
    value = " ".join(written.split())
    options: list[Expr] = [LabelIs(value)]
    weights: list[float] = [1.0]
    if "-" in value.strip("-") and not quoted:  # "sea-lion", "t-shirt": the label may be written either way
        options.append(LabelIs(value.replace("-", " ")))
        weights.append(1.0)
    if not quoted:
        related: dict[str, float] = {}
        for form in lemmas(value.lower()):
            for target, weight in lexicon()["related"].get(form, ()):
                related[target] = max(weight, related.get(target, 0.0))
            if form != value.lower() and form not in singulars(value.lower()):
                related[form] = max(related.get(form, 0.0), 0.9)  # the verb's lemma as a label: "riding" -> ride
        for target, weight in sorted(related.items(), key=lambda kv: (-kv[1], kv[0]))[:budget]:
            options.append(LabelIs(target))
            weights.append(weight)
    options.append(PersonIs(value))
    weights.append(OPTION_ANSWERS["person"])
    words = text_tokens(value)
    if words:
        options.append(TextHas(value, phrase=quoted and len(words) > 1))
        weights.append(OPTION_ANSWERS["text"])
    for form in singulars(value):
        if form in PEOPLE_WORDS:  # man, women, girls: a face with those attributes
            options.append(simplify(And(*(FaceHas(a, v) for a, v in PEOPLE_WORDS[form]))))
            weights.append(OPTION_ANSWERS["face"])
            break
    folded = " ".join(words)
    if budget < 0:
        return Concept(value.lower(), tuple(options), tuple(weights))
    if folded:  # a place's name ("paris", "new york", "zurich"), a camera's word ("iphone", "canon")
        options.append(FactIs("place", folded))
        weights.append(OPTION_ANSWERS["other"])
        if len(words) == 1:
            options.append(FactIs("camera", folded))
            weights.append(OPTION_ANSWERS["other"])
    kind = next((KIND_WORDS[f] for f in singulars(folded) if f in KIND_WORDS), None)
    if kind:
        options.append(FactIs("kind", kind))
        weights.append(OPTION_ANSWERS["other"])
    return Concept(value.lower(), tuple(options), tuple(weights))


def time_filters(written: list[str], today: date) -> tuple[list[Expr], list[str]]:
    """The time phrases of a run of words ("beach summer 2019", "last christmas") as conditions on when a file was
    taken, and the words left over. A word counts as used when all of its parts are ("year's" is year, s)."""
    owners: list[int] = []
    tokens: list[str] = []
    for i, word in enumerate(written):
        for token in text_tokens(word):
            tokens.append(token)
            owners.append(i)
    found = read_time_words(tokens, today)
    if not found.conditions:
        return [], written
    used: set[int] = set()
    for start, end in found.spans:
        used.update(range(start, end))
    consumed = {i for i in set(owners) if all(k in used for k, o in enumerate(owners) if o == i)}
    filters: list[Expr] = []
    for condition in found.conditions:
        if condition.months:
            filters.append(Or(*(FactIs("month", f"{m:02d}") for m in condition.months)))
        elif condition.days:  # a named day is also a thing ("christmas": a Christmas stocking), so a concept
            thing = concept(condition.phrase)
            filters.append(Concept(thing.word, (Or(*(FactIs("day", d) for d in condition.days)), *thing.options),
                                   (OPTION_ANSWERS["other"], *thing.weights)))
        elif condition.since is not None or condition.before is not None:
            filters.append(DateRange("taken_at", condition.since, condition.before))
    return [simplify(f) for f in filters], [w for i, w in enumerate(written) if i not in consumed]


def _phrase_at(words: list[str], i: int) -> int:
    """How many words from position i form a known multi-word name (1: none)."""
    phrases = lexicon()["phrases"]
    for size in range(min(MAX_PHRASE_WORDS, len(words) - i), 1, -1):
        candidate = " ".join(words[i:i + size])
        if any(form in phrases for form in singulars(candidate)):
            return size
    return 1


_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_POSSESSIVE = re.compile(r"['\u2019]s$", re.I)


def clean(word: str) -> str:
    """A word as typed in a sentence, without the punctuation around it or a possessive: "dog?" "boat," "dog's"."""
    return _EDGES.sub("", _POSSESSIVE.sub("", _EDGES.sub("", word)))


def read_words(written: list[str]) -> list[tuple[str, int]]:
    """The words of a run of plain query words, as concepts to search: (text, how many written words it spans).
    Punctuation around a word goes; stop words are dropped unless every word is one; known multi-word names are
    kept together."""
    written = [c for c in (clean(w) for w in written) if c] or written
    lowered = [w.lower() for w in written]
    kept = [i for i, w in enumerate(lowered) if w not in STOP_WORDS and text_tokens(w) != []]
    if not kept:
        kept = list(range(len(written)))
    out: list[tuple[str, int]] = []
    j = 0
    while j < len(kept):
        i = kept[j]
        # a phrase only from words written side by side, none of them dropped
        run = [kept[j]]
        while j + len(run) < len(kept) and kept[j + len(run)] == run[-1] + 1:
            run.append(kept[j + len(run)])
        size = _phrase_at([lowered[k] for k in run], 0)
        out.append((" ".join(written[i:i + size]), size))
        j += size
    return out


def budget_for(concepts: int, limit: int) -> int:
    """Related labels per concept so that a long sentence stays within the query's condition limit: the fixed
    options (label, person, text, place, camera) first; -1 when even those do not fit (then label, person, text)."""
    per_concept = limit // max(concepts, 1) - 5
    return -1 if per_concept < 0 else min(MAX_RELATED, per_concept)
