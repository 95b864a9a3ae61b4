"""Build `domain/data/lexicon.json`: what the words people type into a search box mean in the labels' vocabulary.

The local analyzer labels a lake shore "lakeside", a beach "seashore", a mountain "alp"; people type "lake",
"beach", "mountain", "puppy", "drink", "riding". WordNet relates those words to the label names, and this script
writes the relations down once, so the search needs no WordNet at run time:

    apt-get install wordnet-base
    python -m mediaindex.adapters.analysis.local.build_lexicon [--wordnet DIR]

For a query word, the targets are names of the label table (`data/taxonomy.json`: every class's name, aliases,
parents and broader terms), each with a weight saying how closely it answers the word (domain/free_text.py):

| relation | weight | example |
|---|---|---|
| a synonym (same synset, first two senses) | 0.9 | automobile -> car |
| a narrower term, at any depth, that does not already answer to the word | 0.8 | mountain -> alp |
| the word's direct broader term, when the word is no label itself | 0.6 | puppy -> dog |
| a label whose definition names the word (in at most 4 definitions), idem | 0.55 | lake -> lakeside ("the shore of a lake") |
| a label that the word's own definition (first sense) names, idem | 0.45 | baby -> crib |
| a word of a label's multi-word name, when the word is no label itself | 0.5 | golf -> golf cart, sea -> sea anemone |
| for a verb (first sense): its noun forms and the labels its definition names | 0.6 / 0.45 | drink -> beverage |

Only words of WordNet's tagged corpus (common words) get an entry: a rare word is matched as it is.

It also lists the multi-word names ("ice cream", "fire engine", "sports car") that a query reads as one concept,
and WordNet's irregular verb forms ("rode" -> "ride").
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from mediaindex.adapters.analysis.local.taxonomy import TABLE as TAXONOMY
from mediaindex.domain.words import rule_forms

OUT = Path(__file__).parents[3] / "domain" / "data" / "lexicon.json"
SYNONYM, NARROWER, BROADER, NAMED_BY, NAMES, VERB_NOUN, VERB_NAMES = 0.9, 0.8, 0.6, 0.55, 0.45, 0.6, 0.45
NAME_WORD = 0.5
# targets too general to be what a definition means when it names them ("a device that ...")
TOO_GENERAL = {
    "animal", "vertebrate", "mammal", "device", "structure", "equipment", "covering", "instrument", "container",
    "food", "plant", "person", "substance", "material", "tool", "instrumentality", "artifact", "object", "thing",
    "part", "body", "area", "place", "way", "form", "piece", "side", "end", "top", "head", "use", "line", "set",
    "people", "man", "woman", "water", "land", "surface", "region", "support", "system", "unit", "kind", "type",
    "group", "matter", "article", "ware", "associate", "participant", "mechanism", "case", "cover", "board",
}
# verbs too common to mean anything visual ("a man having a drink": the drink is the concept)
LIGHT_VERBS = {"be", "have", "do", "make", "get", "take", "go", "come", "see", "look", "show", "give", "use", "put",
               "set", "keep", "let", "seem", "become", "hold", "stand", "sit", "lie", "wear", "play", "find", "like"}
MAX_TARGETS = 24
# What WordNet does not link but photos show: scene and occasion words people search for, to the labels that show
# them (the local classifier has no "beach" or "pet" class; it has seashore, sandbar, dogs and cats).
CURATED: dict[str, list[tuple[str, float]]] = {
    "beach": [("seashore", 0.8), ("sandbar", 0.7), ("swimming trunks", 0.5), ("bikini", 0.5), ("lakeside", 0.5)],
    "coast": [("seashore", 0.8), ("promontory", 0.6), ("cliff", 0.5), ("sandbar", 0.5)],
    "sea": [("seashore", 0.7), ("sandbar", 0.6), ("promontory", 0.5), ("lifeboat", 0.5)],
    "ocean": [("seashore", 0.7), ("sandbar", 0.6), ("promontory", 0.5), ("lifeboat", 0.5)],
    "lake": [("lakeside", 0.8), ("boathouse", 0.5), ("canoe", 0.5)],
    "pet": [("dog", 0.8), ("domestic cat", 0.8), ("cat", 0.7), ("hamster", 0.7), ("goldfish", 0.6),
            ("guinea pig", 0.6), ("rabbit", 0.5)],
    "kitten": [("domestic cat", 0.8), ("cat", 0.8)],
    "kitty": [("domestic cat", 0.8), ("cat", 0.8)],
    "snow": [("ski", 0.6), ("dogsled", 0.6), ("snowmobile", 0.6), ("snowplow", 0.6), ("bobsled", 0.5), ("alp", 0.5)],
    "winter": [("ski", 0.5), ("dogsled", 0.5), ("snowmobile", 0.5), ("snowplow", 0.5), ("bobsled", 0.5)],
    "mountain": [("alp", 0.9), ("volcano", 0.8), ("valley", 0.6), ("cliff", 0.5)],
    "hill": [("alp", 0.6), ("valley", 0.6)],
    "rock": [("cliff", 0.6), ("stone wall", 0.5), ("cliff dwelling", 0.4)],
    "station": [("passenger car", 0.6), ("electric locomotive", 0.6), ("steam locomotive", 0.6), ("streetcar", 0.5)],
    "river": [("dam", 0.6), ("canoe", 0.5), ("valley", 0.5)],
    "boat": [("canoe", 0.8), ("lifeboat", 0.8), ("speedboat", 0.8), ("yawl", 0.7), ("gondola", 0.7)],
    "garden": [("pot", 0.5), ("daisy", 0.5), ("greenhouse", 0.5), ("lawn mower", 0.4)],
    "party": [("balloon", 0.6), ("cake", 0.5), ("wine bottle", 0.4)],
    "birthday": [("cake", 0.6), ("balloon", 0.6), ("candle", 0.5)],
    "christmas": [("christmas stocking", 0.8)],
    "coffee": [("espresso", 0.8), ("espresso maker", 0.7), ("coffee mug", 0.7), ("coffeepot", 0.7), ("cup", 0.4)],
    "tea": [("teapot", 0.7), ("cup", 0.5)],
    "crab": [("hermit crab", 0.7)],  # WordNet files it under decapods, not crabs
    "wedding": [("gown", 0.6), ("groom", 0.6)],
    "church": [("altar", 0.6), ("bell cote", 0.6), ("monastery", 0.5)],
    "city": [("streetcar", 0.4), ("traffic light", 0.4), ("taxicab", 0.4)],
    "street": [("streetcar", 0.5), ("traffic light", 0.5), ("street sign", 0.5), ("taxicab", 0.4)],
    "kitchen": [("refrigerator", 0.5), ("microwave", 0.5), ("stove", 0.5), ("oven", 0.5), ("dishwasher", 0.5)],
    "breakfast": [("espresso", 0.5), ("bagel", 0.5), ("cup", 0.4), ("french loaf", 0.4)],
    "sport": [("ball", 0.5), ("racket", 0.5), ("ski", 0.4)],
}  # per word: the closest first


class WordNet:
    def __init__(self, folder: Path) -> None:
        self.synsets: dict[tuple[str, str], dict] = {}
        self.index: dict[tuple[str, str], list[str]] = {}
        self.common: set[str] = set()  # words common enough to be typed into a search box
        for pos, name in (("n", "noun"), ("v", "verb")):
            for line in (folder / f"data.{name}").read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("  "):
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                offset, w_cnt = fields[0], int(fields[3], 16)
                words = [fields[4 + 2 * i].lower() for i in range(w_cnt)]
                pos_i = 4 + 2 * w_cnt
                pointers = []
                for i in range(int(fields[pos_i])):
                    symbol, target, target_pos = fields[pos_i + 1 + 4 * i: pos_i + 4 + 4 * i]
                    pointers.append((symbol, target, "n" if target_pos == "n" else target_pos))
                words = [re.sub(r"\(.*\)$", "", w) for w in words]  # "sitting_duck(a)" markers
                self.synsets[(pos, offset)] = {"words": [w.replace("_", " ") for w in words],
                                               "pointers": pointers, "gloss": gloss.strip()}
            for line in (folder / f"index.{name}").read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("  "):
                    continue
                fields = line.split()
                count = int(fields[2])
                word = fields[0].replace("_", " ")
                self.index[(pos, word)] = fields[-count:]
                if int(fields[-count - 1]) > 0:  # tagsense_cnt: the word occurs in WordNet's tagged corpus
                    self.common.add(word)
        self.verb_exceptions = {}
        for line in (folder / "verb.exc").read_text(encoding="utf-8", errors="replace").splitlines():
            form, *bases = line.split()
            if bases:
                self.verb_exceptions[form.replace("_", " ")] = bases[0].replace("_", " ")

    def senses(self, pos: str, word: str, first: int) -> list[str]:
        return self.index.get((pos, word), [])[:first]

    def related(self, pos: str, offset: str, symbols: tuple[str, ...]) -> list[str]:
        return [t for s, t, p in self.synsets[(pos, offset)]["pointers"] if s in symbols and p == "n"]

    def hyponyms(self, offset: str) -> set[str]:
        seen, stack = set(), [offset]
        while stack:
            for child in self.related("n", stack.pop(), ("~", "~i")):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def words(self, pos: str, offset: str) -> list[str]:
        return self.synsets[(pos, offset)]["words"]


def load_targets() -> tuple[set[str], dict[str, set[str]], dict[str, str], dict[str, set[str]]]:
    """The label table's names; for each, the names it already answers to (itself, aliases, parents); the WordNet
    noun synset of each class name, for its definition; and the categories each name is found in."""
    table = json.loads(TAXONOMY.read_text(encoding="utf-8"))
    names: set[str] = set()
    answers: dict[str, set[str]] = {}
    synset_of: dict[str, str] = {}
    categories: dict[str, set[str]] = {}
    for entry in [*table["imagenet"], *table["coco"].values()]:
        own = [entry["name"], *entry["aliases"]]
        every = {n.lower() for n in (*own, *entry["parents"], *entry["broader"])}
        names |= every
        for n in every:
            categories.setdefault(n, set()).update(entry["categories"])
        for n in own:
            answers.setdefault(n.lower(), set()).update(every)
            synset_of.setdefault(n.lower(), entry["wnid"][1:])
    return names, answers, synset_of, categories


def gloss_terms(gloss: str, targets: set[str]) -> list[str]:
    """The targets a definition names: single words (in a singular form) and two-word names."""
    words = re.findall(r"[a-z]+", gloss.lower())
    found: dict[str, None] = {}
    for i, word in enumerate(words):
        if i + 1 < len(words):
            pair = f"{word} {words[i + 1]}"
            for form in (pair, *(f"{word} {f}" for f in rule_forms(words[i + 1]))):
                if form in targets:
                    found.setdefault(form, None)
        for form in (word, *rule_forms(word)):
            if form in targets and form not in TOO_GENERAL:
                found.setdefault(form, None)
                break
    return list(found)


def build(wn: WordNet) -> dict:
    targets, answers, synset_of, categories = load_targets()
    classes: dict[str, list[str]] = {}
    for name, offset in synset_of.items():
        classes.setdefault(offset, []).append(name)
    related: dict[str, dict[str, float]] = {}

    def add(word: str, target: str, weight: float) -> None:
        if target == word or word in answers.get(target, ()):  # already a direct match
            return
        slot = related.setdefault(word, {})
        slot[target] = max(weight, slot.get(target, 0.0))

    # a label whose definition names a word: reverse index of the labels' own definitions
    named_by: dict[str, set[str]] = {}
    for name, offset in synset_of.items():
        for word in re.findall(r"[a-z]+", wn.synsets[("n", offset)]["gloss"].split(";")[0].lower()):
            if len(word) > 2:
                named_by.setdefault(word, set()).add(name)

    nouns = [w for (pos, w) in wn.index if pos == "n" and w in wn.common and len(w) > 2]
    for word in nouns:
        senses = wn.senses("n", word, 2)
        known = word in targets
        for offset in senses[:1]:
            for synonym in wn.words("n", offset):
                if synonym in targets:
                    add(word, synonym, SYNONYM)
            for child in wn.hyponyms(offset):  # the very synset of a class: a name alone may mean another sense
                for name in classes.get(child, ()):
                    add(word, name, NARROWER)
        if known:
            continue
        for i, offset in enumerate(senses):
            for parent in wn.related("n", offset, ("@", "@i")):
                for name in wn.words("n", parent)[:1]:
                    if name in targets and name not in TOO_GENERAL:
                        add(word, name, BROADER)
            if i == 0:
                for name in gloss_terms(wn.synsets[("n", offset)]["gloss"], targets):
                    add(word, name, NAMES)
        if len(named_by.get(word, ())) <= 4:  # a word in many definitions ("man", "used") says little
            for name in named_by.get(word, ()):
                add(word, name, NAMED_BY)
    for (pos, word) in list(wn.index):
        if pos != "v" or word in LIGHT_VERBS or " " in word or word not in wn.common:
            continue
        if word in targets or related.get(word):  # "man", "dog": the noun is what a search means
            continue
        for offset in wn.senses("v", word, 1):
            for noun in wn.related("v", offset, ("+",)):
                for name in wn.words("n", noun)[:1]:
                    if name in targets and name not in TOO_GENERAL:
                        add(word, name, VERB_NOUN)
                    for target, weight in related.get(name, {}).items():  # "drink" (n) -> beverage
                        if weight >= BROADER:
                            add(word, target, min(weight, VERB_NAMES))
            for name in gloss_terms(wn.synsets[("v", offset)]["gloss"], targets):
                add(word, name, VERB_NAMES)
    # a word of a label's name: "crab" for a hermit crab, "coffee" for a coffee maker, "golf" for a golf cart
    for name in targets:
        parts = name.split()
        if len(parts) > 1:
            for part in parts:
                # not for a word that is a label itself: "dog" means dogs (WordNet's), not hot dogs, dog sleds or
                # African hunting dogs
                if len(part) > 2 and part.isalpha() and part not in targets | TOO_GENERAL and part in wn.common:
                    add(part, name, NAME_WORD)
    for word, pairs in CURATED.items():
        for target, weight in pairs:
            assert target in targets, target
            add(word, target, weight)
    best = {w: sorted(t.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TARGETS] for w, t in related.items() if t}
    out = {w: [[t, round(s, 2)] for t, s in pairs] for w, pairs in sorted(best.items())}
    phrases = sorted({n for n in targets if " " in n and n.replace(" ", "").isalpha()}
                     | {w for w in out if " " in w and w.replace(" ", "").isalpha()})
    verbs = {form: base for form, base in sorted(wn.verb_exceptions.items()) if " " not in form}
    return {"source": "WordNet 3.0 (Debian wordnet-base) and data/taxonomy.json, generated by build_lexicon.py",
            "related": out, "phrases": phrases, "verb_forms": verbs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = build(WordNet(args.wordnet))
    args.out.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(table['related'])} words, {len(table['phrases'])} phrases, "
          f"{len(table['verb_forms'])} verb forms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
