"""People changes survive a SIGKILL at any point: the process doing the change is forked and ends with os._exit
(no cleanup, no rollback, no finally: what SIGKILL leaves) at several points of enrolling again, removing a person,
naming a cluster and re-matching. Afterwards the person is never lost by a re-enrolment, the collection is as it
was or as it was meant to be, and the next people command brings every document into line with it."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from mediaindex.adapters.faces.local import LocalFaceCollection
from mediaindex.config import Settings
from mediaindex.media.picture import Picture
from mediaindex.services.people import People
from tests.people.synthetic import COLOURS, index_folder, local_people, png, sqlite_index, write_colour_library

KILLED = 137
# who is really in each file of the library (tests/people/test_people_service.COLOURS)
TRUTH = {f"{n}.png": {who for who, _ in faces} for n, faces in enumerate(COLOURS.values())}
IDENTITY = {"Ada": "ada", "Bob": "bob"}


def build(home) -> People:
    return local_people(Settings(home=home, features=("faces", "people")), sqlite_index(home))


@pytest.fixture
def home(tmp_path):
    media = write_colour_library(tmp_path)
    (tmp_path / "ada.png").write_bytes(png((250, 0, 0)))
    (tmp_path / "bob.png").write_bytes(png((0, 250, 0)))
    people = build(tmp_path)
    index_folder(people.pipeline, media)
    people.enroll("Ada", picture(tmp_path / "ada.png"), str(tmp_path / "ada.png"))
    people.faces.close()
    return tmp_path


def picture(path) -> Picture:
    return Picture.from_bytes(path.read_bytes())


def names_in_documents(people: People) -> dict[str, list[str]]:
    out = {}
    for doc in people.pipeline.index.iter_documents():
        doc = getattr(doc, "doc", doc)
        out[os.path.basename(doc["key"])] = sorted(doc.get("people") or [])
    return out


def expected(enrolled: dict[str, int]) -> dict[str, list[str]]:
    return {name: sorted(p for p in enrolled if IDENTITY[p] in who) for name, who in TRUTH.items()}


# ---- the operations and where they are killed ----------------------------------------------------------------------
def reenrol_ada(people: People, home) -> None:
    people.enroll("Ada", picture(home / "ada.png"), str(home / "ada.png"))


def enrol_bob(people: People, home) -> None:
    people.enroll("Bob", picture(home / "bob.png"), str(home / "bob.png"))


def remove_ada(people: People, home) -> None:
    people.remove_person("Ada")


def name_bobs_cluster(people: People, home) -> None:
    cluster = next(c for c in people.clusters(min_size=1) if any(f["key"].endswith("1.png") for f in c["files"]))
    people.name_cluster(cluster["cluster"], "Bob")


def rematch_after_a_manual_change(people: People, home) -> None:
    """`mediaindex people rematch` after faces.db was changed by hand (no note of a re-match owed)."""
    from tests.people.test_people_service import BOB
    from tests.people.vectors import photo_of

    vector = __import__("numpy").asarray(photo_of(BOB, 9), dtype="float32").tobytes()
    people.faces.store.db.execute("INSERT OR IGNORE INTO enrolled (face_id, person, source, embedding, model) "
                                  "VALUES (?, ?, ?, ?, ?)", ("manual-bob", "Bob", "manual", vector, people.faces.space.id))
    people.rematch()


def kill_during_analysis(people: People) -> None:
    people.pipeline.analyzer.analyze = lambda picture: os._exit(KILLED)


def kill_before_rematch(people: People) -> None:
    people.rematch = lambda person=None: os._exit(KILLED)


def kill_after_first_update(people: People) -> None:
    index, real, done = people.pipeline.index, people.pipeline.index.update_fields, []

    def update(*args, **kwargs):
        if done:
            os._exit(KILLED)
        done.append(real(*args, **kwargs))

    index.update_fields = update


def _child(home, operation, kill) -> None:
    people = build(home)
    kill(people)
    operation(people, home)
    os._exit(0)


def run_killed(home, operation, kill) -> int:
    process = multiprocessing.get_context("fork").Process(target=_child, args=(home, operation, kill))
    process.start()
    process.join(60)
    return process.exitcode


CASES = [
    (reenrol_ada, kill_during_analysis), (reenrol_ada, kill_before_rematch),
    (enrol_bob, kill_before_rematch), (enrol_bob, kill_after_first_update),
    (remove_ada, kill_before_rematch), (remove_ada, kill_after_first_update),
    (name_bobs_cluster, kill_before_rematch), (name_bobs_cluster, kill_after_first_update),
    (rematch_after_a_manual_change, kill_after_first_update),
]


@pytest.mark.parametrize("operation, kill", CASES, ids=[f"{o.__name__}-{k.__name__}" for o, k in CASES])
def test_a_kill_at_any_point_leaves_a_state_the_next_command_completes(home, operation, kill):
    before = build(home)
    enrolled_before = before.list_people()
    assert names_in_documents(before) == expected(enrolled_before)
    before.faces.close()

    assert run_killed(home, operation, kill) == KILLED

    after = build(home)
    enrolled = after.list_people()
    if operation is reenrol_ada:
        assert enrolled == {"Ada": 1}  # never un-enrolled, whatever moment the kill came
    if kill is kill_during_analysis:
        assert enrolled == enrolled_before and names_in_documents(after) == expected(enrolled_before)
    assert after.faces.pending_rematch() is not None or names_in_documents(after) == expected(enrolled)
    after.finish_pending()  # what the next `mediaindex people ...` command does first
    assert names_in_documents(after) == expected(enrolled)
    assert after.faces.pending_rematch() is None
    # and the operation, run again to its end, gives the state it was meant to (a named cluster is gone: done)
    if operation in (name_bobs_cluster, rematch_after_a_manual_change):
        assert "Bob" in enrolled
    else:
        operation(after, home)
    assert names_in_documents(after) == expected(after.list_people())
    after.faces.close()


def test_a_noted_rematch_is_only_cleared_up_to_what_it_saw(tmp_path):
    collection = LocalFaceCollection(Settings(home=tmp_path))
    collection.enroll_embeddings("Ada", [[0.1] * 128], "a.png")
    first = collection.pending_rematch()
    collection.remove_person("Ada")
    collection.rematch_done(first[0])  # a re-match that started before the removal does not clear it
    assert collection.pending_rematch()[1] == {"Ada"}
    collection.rematch_done(collection.pending_rematch()[0])
    assert collection.pending_rematch() is None
    collection.close()


def test_replacing_a_source_is_one_transaction(tmp_path):
    collection = LocalFaceCollection(Settings(home=tmp_path))
    old = collection.enroll_embeddings("Ada", [[0.1] * 128], "a.png")
    with pytest.raises(ValueError):  # a bad vector half way: nothing of the replacement is kept
        collection.replace_source("Ada", "a.png", [[0.2] * 128, [float("nan")] * 128])
    assert collection.list_people() == {"Ada": 1} and collection.name_of(old[0]) == "Ada"
    new = collection.replace_source("Ada Lovelace", "a.png", [[0.2] * 128])
    assert collection.list_people() == {"Ada Lovelace": 1} and collection.name_of(old[0]) is None
    assert collection.name_of(new[0]) == "Ada Lovelace"
    assert collection.pending_rematch()[1] == {"Ada"}  # the old name leaves documents that cannot be matched again
    collection.close()


def test_a_removal_delivered_again_after_a_kill_still_takes_the_name_out_on_rekognition(home):
    """Rekognition's collection keeps no note of what is owed: the redelivered event finds nothing to remove,
    and the documents naming the person are matched again all the same."""
    from tests.fakes import FakeFaces

    class Forgetful(FakeFaces):  # Ada's faces already left the collection (the killed first delivery)
        def remove_source(self, source):
            return 0

    local = build(home)
    assert "Ada" in {p for names in names_in_documents(local).values() for p in names}
    pipeline = local.pipeline
    rekognition = People(settings=local.settings, pipeline=pipeline, faces=Forgetful(person=None))
    result = rekognition.remove_source(str(home / "ada.png"), person="Ada")
    assert result.faces_removed == 0 and result.rematch.documents_updated >= 1
    assert all("Ada" not in names for names in names_in_documents(local).values())
    local.faces.close()
