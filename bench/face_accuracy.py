"""How well the local analyzer's face vectors tell people apart, on the real photos of ../shared/data/faces.

    python bench/face_accuracy.py [--embedder sface|dlib|both] [--threshold 80] [--video-every 1.0]

SFace is the analyzer's embedding; dlib's ResNet (the one before it) runs when its file is put in the models folder,
which `--embedder dlib` does in a temporary folder. Similarities are each model's own 0-100 scale
(domain/face_vectors.py); for SFace the cosines are printed too, which is what its boundary is chosen from.

Every face of every photo is compared with every other (all pairs); a pair is "same" when both faces belong to one
person (from the file name; `rgba_32bit.png` is a 32-bit copy of an Obama photo; in `two_people_obama_biden` the
face nearer to the other Obama photos is Obama's and the other Biden's, checked against Biden's own photo).
Prints true/false matches at the threshold, accuracy, and the closest stranger pair and farthest same-person pair.
Then each one-face photo is shrunk until its face is 20, 24, 27, 35 and 50 pixels wide and compared with the other
photos at full size: how small a face can be and still be named (the analyzer's MIN_EMBEDDING_PIXELS).
Then faces are found in video frames (one per --video-every seconds) and matched against the two reference photos
of the people who appear in it (Lin-Manuel Miranda, Alex Lacamoire), as `people` matching would, frame by frame;
then the video indexer runs on it without and with following faces over the frames after each sample
(docs/video.md), and prints who is named when.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from mediaindex.adapters.analysis.local import LocalAnalyzer, models  # noqa: E402
from mediaindex.config import Settings  # noqa: E402
from mediaindex.media.picture import Picture  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def identity(name: str) -> str:
    if name.startswith("rgba_32bit"):
        return "obama"
    for prefix in ("obama", "biden", "guido_van_rossum", "steve_wozniak", "lin_manuel_miranda", "alex_lacamoire"):
        if name.startswith(prefix):
            return prefix
    return name


def analyzer_for(embedder: str) -> LocalAnalyzer:
    if embedder == "sface":
        return LocalAnalyzer(Settings(features=("faces",)))
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="face-accuracy-dlib-"))
    atexit.register(shutil.rmtree, folder, True)
    packaged = models.package_dir("face_recognition_models") / models.DLIB_EMBEDDING_PACKAGED.inside
    (folder / models.DLIB_EMBEDDING.filename).symlink_to(packaged)
    return LocalAnalyzer(Settings(features=("faces",), models_dir=folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", choices=("sface", "dlib", "both"), default="both")
    parser.add_argument("--threshold", type=float, default=80.0)
    parser.add_argument("--video-every", type=float, default=1.0, help="seconds between sampled frames")
    args = parser.parse_args()
    for embedder in (("sface", "dlib") if args.embedder == "both" else (args.embedder,)):
        print(f"==== {embedder} ====")
        measure(analyzer_for(embedder), args)


def measure(analyzer: LocalAnalyzer, args: argparse.Namespace) -> None:
    space = analyzer.face_space
    embedding_similarity = space.compare
    started = time.perf_counter()

    faces: list[tuple[str, int, str, list[float]]] = []  # file, face index, person, embedding
    for path in sorted((DATA / "faces").iterdir()):
        found = [f for f in analyzer.analyze(Picture.from_bytes(path.read_bytes())).faces if f.embedding]
        for i, f in enumerate(found):
            faces.append((path.name, i, identity(path.stem), f.embedding))
    # the group photo: give each face the identity it is nearest to, and check the two are different people
    group = [x for x in faces if x[0].startswith("two_people")]
    refs = {p: [x[3] for x in faces if x[2] == p and not x[0].startswith("two_people")] for p in ("obama", "biden")}
    if len(group) == 2:
        score = [max(embedding_similarity(g[3], r) for r in refs["obama"]) for g in group]
        obama_face = int(np.argmax(score))
        for k, g in enumerate(group):
            faces[faces.index(g)] = (g[0], g[1], "obama" if k == obama_face else "biden", g[3])
        print(f"two_people_obama_biden: face {obama_face} (left {'first' if obama_face == 0 else 'second'}) is Obama")

    tp = fp = tn = fn = 0
    worst_same, worst_other = (101.0, None), (-1.0, None)
    for a, b in itertools.combinations(faces, 2):
        s = embedding_similarity(a[3], b[3])
        same = a[2] == b[2]
        said = s >= args.threshold
        tp += same and said
        fn += same and not said
        fp += (not same) and said
        tn += (not same) and not said
        if same and s < worst_same[0]:
            worst_same = (s, (a[0], b[0]))
        if not same and s > worst_other[0]:
            worst_other = (s, (a[0], b[0]))
    total = tp + fp + tn + fn
    print(f"faces: {len(faces)} in {len({f[0] for f in faces})} photos; pairs: {total} "
          f"({tp + fn} same person, {tn + fp} different)")
    print(f"threshold {args.threshold:g}: true matches {tp}, missed {fn}, false matches {fp}, true non-matches {tn}; "
          f"accuracy {(tp + tn) / total:.4f}")
    print(f"lowest same-person similarity {worst_same[0]:.1f} {worst_same[1]}; "
          f"highest different-person similarity {worst_other[0]:.1f} {worst_other[1]}")
    if space.metric == "cosine":
        cos = lambda s: 1 - (100 - s) * (1 - space.boundary) / 20  # noqa: E731 - the scale's inverse
        print(f"  as cosines: lowest same-person {cos(worst_same[0]):.3f}, highest different-person "
              f"{cos(worst_other[0]):.3f} (boundary {space.boundary})")
    print(f"analysing the {len({f[0] for f in faces})} photos took {time.perf_counter() - started:.1f} s")

    tiny_faces(analyzer, faces, args.threshold)

    video = DATA / "video" / "short_hamilton_clip.mp4"
    if video.exists():
        import av

        known = known_people(faces, ("lin_manuel_miranda", "alex_lacamoire"), args.threshold, space)
        counts = {"lin_manuel_miranda": 0, "alex_lacamoire": 0, None: 0}
        frames = 0
        started = time.perf_counter()
        next_at = 0.0
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
                if t < next_at:
                    continue
                next_at = t + args.video_every
                frames += 1
                import io

                buf = io.BytesIO()
                frame.to_image().save(buf, "PNG")
                named = [f for f in analyzer.analyze(Picture.from_bytes(buf.getvalue())).faces if f.embedding]
                for match in known.match_embeddings([f.embedding for f in named]):
                    counts[match.person if match else None] += 1
        print(f"video: {frames} frames sampled in {time.perf_counter() - started:.1f} s; faces named Lin-Manuel Miranda "
              f"{counts['lin_manuel_miranda']}, Alex Lacamoire {counts['alex_lacamoire']}, unnamed {counts[None]}")
        video_timeline(analyzer, video, known, args)


def known_people(faces: list[tuple[str, int, str, list[float]]], people: tuple[str, ...], threshold: float, space):
    """The product's local face collection (in a temporary file) with `people` enrolled from their photos' faces."""
    import atexit
    import shutil
    import tempfile

    from mediaindex.adapters.faces.local import LocalFaceCollection

    folder = tempfile.mkdtemp(prefix="face-accuracy-")
    atexit.register(shutil.rmtree, folder, True)
    collection = LocalFaceCollection(Settings(face_match_threshold=threshold), path=Path(folder) / "faces.db",
                                     space=space)
    for person in people:
        collection.enroll_embeddings(person, [f[3] for f in faces if f[2] == person], person)
    return collection


def video_timeline(analyzer: LocalAnalyzer, video: Path, known, args) -> None:
    """The video indexer on the clip, with and without following faces over the frames after each sample: who is
    named, when, and at what similarity."""
    from mediaindex.ports import ObjectRef, StoredObject
    from mediaindex.services.video import DEFAULT_FOLLOW_FRAMES, VideoIndexer

    data = video.read_bytes()
    for follow in (0, DEFAULT_FOLLOW_FRAMES):
        started = time.perf_counter()
        fields, _ = VideoIndexer(analyzer, known, interval=args.video_every, follow_frames=follow)(
            StoredObject(ObjectRef("bench", video.name), data, len(data)))
        segments = fields["video"]["segments"]["people"]
        named = {f["person"]: f["similarity"] for f in fields["faces"] if f["person"]}
        print(f"video indexer, a frame every {args.video_every:g} s, following {follow} frames "
              f"({time.perf_counter() - started:.1f} s): "
              + ("; ".join(f"{s['name']} {s['start']:g}-{s['end']:g} s" for s in segments) or "nobody named")
              + f"; best similarity {named}")


def tiny_faces(analyzer: LocalAnalyzer, faces: list[tuple[str, int, str, list[float]]], threshold: float) -> None:
    embedding_similarity = analyzer.face_space.compare
    """Similarities of shrunk faces to the full-size ones, with the detector and embedder the analyzer uses but
    without its size gate (MIN_EMBEDDING_PIXELS), which this measures."""
    from PIL import Image

    singles = {f[0]: f for f in faces if sum(g[0] == f[0] for g in faces) == 1}
    for width in (16, 20, 24, 27, 35, 50):
        same: list[float] = []
        other: list[float] = []
        for name, (_, _, person, _) in singles.items():
            image = Image.open(DATA / "faces" / name).convert("RGB")
            [big] = analyzer.model("face_detector").detect(np.ascontiguousarray(np.asarray(image)))
            scale = width / (big.right - big.left)
            small = np.ascontiguousarray(np.asarray(image.resize(
                (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BILINEAR)))
            found = analyzer.model("face_detector").detect(small)
            if not found:
                continue
            face = max(found, key=lambda f: f.right - f.left)
            vector = analyzer.embedder().embed(small, face, analyzer.model("landmarks").landmarks(small, face))
            for other_name, _, other_person, embedding in faces:
                if other_name != name:
                    (same if other_person == person else other).append(embedding_similarity(vector, embedding))
        false = sum(s >= threshold for s in other)
        missed = sum(s < threshold for s in same)
        print(f"faces {width} px wide: lowest same-person {min(same, default=float('nan')):.1f} ({missed} of "
              f"{len(same)} below {threshold:g}); highest stranger {max(other, default=float('nan')):.1f} "
              f"({false} of {len(other)} at or above)")


if __name__ == "__main__":
    main()
