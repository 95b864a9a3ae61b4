"""How right the local analyzer's labels are on the labelled photos (../shared/data/images: one ImageNet class each,
named in the file name), with the detector's labels checked against the classifier (the analyzer's default) and
without (as before that check existed).

    python bench/label_accuracy.py [FOLDER] [--json FILE]

For each photo, with its class from the file name (`<wordnet id>_<name>`):
- wrong animal label: on a photo of an animal, a label naming another animal (an animal label that is neither the
  class nor a broader or narrower term of it; adapters/analysis/local/agreement.py says when two agree);
- a label its class excludes: any label that cannot be true of the photo's subject (another animal, a fruit on a
  photo of a fish, a person on a photo of a crab);
- own class among labels: the class itself is one of the labels; "or broader" also counts a broader term
  ("Dog" for a Siberian husky), which is what search by that word finds;
- most confident label right: the first label is the class, or a broader or narrower term of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from mediaindex.adapters.analysis.local import LocalAnalyzer, agreement, taxonomy  # noqa: E402
from mediaindex.adapters.analysis.local.analyzer import _label  # noqa: E402
from mediaindex.config import Settings  # noqa: E402
from mediaindex.media.picture import Picture  # noqa: E402


def truth(path: Path, table: taxonomy.Taxonomy):
    wnid = path.name.split("_", 1)[0]
    concept = next((c for c in table.imagenet if c.wnid == wnid), None)
    return _label(concept.name, 100.0, concept) if concept else None


def measure(folder: Path, check: bool) -> dict:
    analyzer = LocalAnalyzer(Settings(features=("labels",)))
    analyzer.labels_agree = check
    table = taxonomy.load()
    rows = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        expected = truth(path, table)
        if expected is None:
            continue
        labels = analyzer.analyze(Picture.from_bytes(path.read_bytes())).labels
        animal = agreement.kind(expected) == "animal"
        wrong = [l.name for l in labels if agreement.kind(l) == "animal" and not agreement.agree(l, expected)]
        rows.append({
            "file": path.name, "animal": animal, "wrong_animal_labels": wrong if animal else [],
            "excluded_labels": [l.name for l in labels if agreement.exclude(l, expected)],
            "own_class": any(agreement.same_concept(expected, [l]) for l in labels),
            "own_class_or_broader": any(agreement.agree(expected, l) for l in labels),
            "top_right": bool(labels) and agreement.agree(labels[0], expected),
            "labels": [f"{l.name} {l.confidence:.0f}" for l in labels],
        })
    animals = [r for r in rows if r["animal"]]
    share = lambda key, of: sum(bool(r[key]) for r in of) / len(of) if of else 0.0  # noqa: E731
    return {
        "photos": len(rows), "animal_photos": len(animals),
        "animal_photos_with_a_wrong_animal_label": share("wrong_animal_labels", animals),
        "photos_with_a_label_their_class_excludes": share("excluded_labels", rows),
        "own_class_among_labels": share("own_class", rows),
        "own_class_or_broader_among_labels": share("own_class_or_broader", rows),
        "most_confident_label_right": share("top_right", rows),
        "wrong": {r["file"]: r["wrong_animal_labels"] for r in animals if r["wrong_animal_labels"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" / "images")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {"without_check": measure(args.folder, False), "with_check": measure(args.folder, True)}
    print(f"{'':<42}{'without check':>14}{'with check':>12}")
    for key in ("animal_photos_with_a_wrong_animal_label", "photos_with_a_label_their_class_excludes",
                "own_class_among_labels",
                "own_class_or_broader_among_labels", "most_confident_label_right"):
        print(f"{key.replace('_', ' '):<42}{results['without_check'][key]:>14.2f}{results['with_check'][key]:>12.2f}")
    a = results["with_check"]
    print(f"{a['photos']} photos, {a['animal_photos']} of animals")
    for name in ("without_check", "with_check"):
        for file, wrong in results[name]["wrong"].items():
            print(f"  {name}: {file}: {', '.join(wrong)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
