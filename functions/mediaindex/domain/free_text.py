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
from functools import lru_cache
from pathlib import Path
from typing import Any

from mediaindex.domain.expressions import (
    OPTION_ANSWERS, PEOPLE_WORDS, And, Concept, Expr, FaceHas, LabelIs, PersonIs, TextHas, simplify, text_tokens,
)
from mediaindex.domain.words import singulars

LEXICON = Path(__file__).with_name("data") / "lexicon.json"
MAX_RELATED = 8  # related labels a word brings, the closest first: enough for recall, few enough for the limits
MAX_PHRASE_WORDS = 3

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
    """One word or name as a concept: its label forms and related labels, a person, a face, text."""
    value = " ".join(written.split())
    options: list[Expr] = [LabelIs(value)]
    weights: list[float] = [1.0]
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
    return Concept(value.lower(), tuple(options), tuple(weights))


def _phrase_at(words: list[str], i: int) -> int:
    """How many words from position i form a known multi-word name (1: none)."""
    phrases = lexicon()["phrases"]
    for size in range(min(MAX_PHRASE_WORDS, len(words) - i), 1, -1):
        candidate = " ".join(words[i:i + size])
        if any(form in phrases for form in singulars(candidate)):
            return size
    return 1


def read_words(written: list[str]) -> list[tuple[str, int]]:
    """The words of a run of plain query words, as concepts to search: (text, how many written words it spans).
    Stop words are dropped unless every word is one; known multi-word names are kept together."""
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
    """Related labels per concept so that a long sentence stays within the query's condition limit."""
    per_concept = limit // max(concepts, 1) - 5  # the word itself, person, text, a face, and some margin
    return max(0, min(MAX_RELATED, per_concept))
