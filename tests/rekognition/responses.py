"""Rekognition responses of the real API's shape (as in the Rekognition Developer Guide's examples: DetectLabels v3
with Parents, Aliases, Categories and Instances; DetectFaces with Attributes ALL), for the real photos in
../shared/data. Face boxes are where the faces are in those photos (found once with dlib's detector)."""

from __future__ import annotations

from typing import Any

# images/n02110185_Siberian_husky.JPEG
HUSKY_LABELS: dict[str, Any] = {
    "Labels": [
        {
            "Name": "Husky",
            "Confidence": 96.31,
            "Instances": [],
            "Parents": [{"Name": "Animal"}, {"Name": "Canine"}, {"Name": "Dog"}, {"Name": "Mammal"}, {"Name": "Pet"}],
            "Aliases": [{"Name": "Siberian Husky"}],
            "Categories": [{"Name": "Animals and Pets"}],
        },
        {
            "Name": "Dog",
            "Confidence": 98.02,
            "Instances": [
                {
                    "BoundingBox": {"Width": 0.7012, "Height": 0.8854, "Left": 0.1493, "Top": 0.0917},
                    "Confidence": 97.55,
                    "DominantColors": [
                        {"Red": 230, "Blue": 232, "Green": 231, "HexCode": "E6E7E8", "CSSColor": "lavender",
                         "SimplifiedColor": "white", "PixelPercent": 41.7},
                    ],
                }
            ],
            "Parents": [{"Name": "Animal"}, {"Name": "Canine"}, {"Name": "Mammal"}, {"Name": "Pet"}],
            "Aliases": [],
            "Categories": [{"Name": "Animals and Pets"}],
        },
        {"Name": "Canine", "Confidence": 98.02, "Instances": [], "Parents": [{"Name": "Animal"}, {"Name": "Mammal"}],
         "Aliases": [], "Categories": [{"Name": "Animals and Pets"}]},
        {"Name": "Animal", "Confidence": 98.02, "Instances": [], "Parents": [], "Aliases": [],
         "Categories": [{"Name": "Animals and Pets"}]},
        {"Name": "Mammal", "Confidence": 98.02, "Instances": [], "Parents": [{"Name": "Animal"}], "Aliases": [],
         "Categories": [{"Name": "Animals and Pets"}]},
        {"Name": "Pet", "Confidence": 98.02, "Instances": [], "Parents": [{"Name": "Animal"}], "Aliases": [],
         "Categories": [{"Name": "Animals and Pets"}]},
        {"Name": "Snow", "Confidence": 71.4, "Instances": [], "Parents": [{"Name": "Nature"}, {"Name": "Outdoors"}],
         "Aliases": [], "Categories": [{"Name": "Nature and Outdoors"}]},
    ],
    "LabelModelVersion": "3.0",
}


def face_detail(box: dict[str, float], *, age: tuple[int, int] = (45, 53), gender: str = "Male",
                smile: bool = True, beard: bool = False, boundary_spill: bool = False) -> dict[str, Any]:
    """A full FaceDetail (Attributes ["ALL"]) for a face at `box`, landmarks placed inside it."""
    left, top, width, height = box["Left"], box["Top"], box["Width"], box["Height"]

    def at(fx: float, fy: float) -> tuple[float, float]:
        return left + fx * width, top + fy * height

    landmarks = []
    for kind, (fx, fy) in {
        "eyeLeft": (0.33, 0.4), "eyeRight": (0.67, 0.4), "mouthLeft": (0.38, 0.75), "mouthRight": (0.62, 0.75),
        "nose": (0.5, 0.58), "leftPupil": (0.33, 0.4), "rightPupil": (0.67, 0.4), "chinBottom": (0.5, 0.98),
        "upperJawlineLeft": (0.02, 0.45), "upperJawlineRight": (0.98, 0.45),
    }.items():
        x, y = at(fx, fy)
        landmarks.append({"Type": kind, "X": x, "Y": y})
    bounding = dict(box)
    if boundary_spill:  # Rekognition's boxes may start outside the image for a face cut by the border
        bounding["Left"] = -0.0123
    return {
        "BoundingBox": bounding,
        "AgeRange": {"Low": age[0], "High": age[1]},
        "Smile": {"Value": smile, "Confidence": 93.4},
        "Eyeglasses": {"Value": False, "Confidence": 97.8},
        "Sunglasses": {"Value": False, "Confidence": 99.9},
        "Gender": {"Value": gender, "Confidence": 99.6},
        "Beard": {"Value": beard, "Confidence": 88.2},
        "Mustache": {"Value": False, "Confidence": 96.1},
        "EyesOpen": {"Value": True, "Confidence": 98.7},
        "MouthOpen": {"Value": False, "Confidence": 91.3},
        "Emotions": [
            {"Type": "HAPPY", "Confidence": 88.5}, {"Type": "CALM", "Confidence": 9.1},
            {"Type": "SURPRISED", "Confidence": 6.3}, {"Type": "FEAR", "Confidence": 5.9},
            {"Type": "SAD", "Confidence": 2.2}, {"Type": "CONFUSED", "Confidence": 0.6},
            {"Type": "ANGRY", "Confidence": 0.3}, {"Type": "DISGUSTED", "Confidence": 0.2},
        ],
        "Landmarks": landmarks,
        "Pose": {"Roll": -2.13, "Yaw": 4.87, "Pitch": 8.51},
        "Quality": {"Brightness": 78.9, "Sharpness": 89.9},
        "Confidence": 99.99,
        "FaceOccluded": {"Value": False, "Confidence": 99.5},
        "EyeDirection": {"Yaw": 1.8, "Pitch": -6.2, "Confidence": 99.1},
    }


OBAMA_1_BOX = {"Width": 0.296, "Height": 0.236, "Left": 0.384, "Top": 0.125}
# faces/two_people_obama_biden.jpg: Obama on the left, Biden on the right
TWO_PEOPLE_BOXES = {
    "Obama": {"Width": 0.139, "Height": 0.236, "Left": 0.225, "Top": 0.071},
    "Biden": {"Width": 0.166, "Height": 0.281, "Left": 0.691, "Top": 0.086},
}

OBAMA_1_FACES: dict[str, Any] = {"FaceDetails": [face_detail(OBAMA_1_BOX, age=(47, 55))]}
TWO_PEOPLE_FACES: dict[str, Any] = {
    "FaceDetails": [
        face_detail(TWO_PEOPLE_BOXES["Biden"], age=(60, 68), smile=False),
        face_detail(TWO_PEOPLE_BOXES["Obama"], age=(46, 54), smile=False),
    ]
}
NO_FACES: dict[str, Any] = {"FaceDetails": []}

TEXT: dict[str, Any] = {
    "TextDetections": [
        {"DetectedText": "THE WHITE HOUSE", "Type": "LINE", "Id": 0, "Confidence": 99.2,
         "Geometry": {"BoundingBox": {"Width": 0.31, "Height": 0.05, "Left": 0.34, "Top": 0.9},
                      "Polygon": [{"X": 0.34, "Y": 0.9}, {"X": 0.65, "Y": 0.9}, {"X": 0.65, "Y": 0.95}, {"X": 0.34, "Y": 0.95}]}},
        {"DetectedText": "THE", "Type": "WORD", "Id": 1, "ParentId": 0, "Confidence": 99.5,
         "Geometry": {"BoundingBox": {"Width": 0.06, "Height": 0.05, "Left": 0.34, "Top": 0.9},
                      "Polygon": [{"X": 0.34, "Y": 0.9}, {"X": 0.4, "Y": 0.9}, {"X": 0.4, "Y": 0.95}, {"X": 0.34, "Y": 0.95}]}},
    ],
    "TextModelVersion": "3.0",
}

MODERATION_SAFE: dict[str, Any] = {"ModerationLabels": [], "ModerationModelVersion": "7.0"}
MODERATION: dict[str, Any] = {
    "ModerationLabels": [
        {"Confidence": 87.3, "Name": "Violence", "ParentName": "", "TaxonomyLevel": 1},
        {"Confidence": 87.3, "Name": "Weapons", "ParentName": "Violence", "TaxonomyLevel": 2},
        {"Confidence": 92.6, "Name": "Weapon Violence", "ParentName": "Weapons", "TaxonomyLevel": 3},
        {"Confidence": 61.0, "Name": "Drugs & Tobacco", "ParentName": "", "TaxonomyLevel": 1},
    ],
    "ModerationModelVersion": "7.0",
    "ContentTypes": [],
}


def search_match(person_external_id: str, similarity: float, searched_box: dict[str, float] | None = None,
                 face_id: str = "38271d79-7bc2-5efb-b752-398a8d575b85") -> dict[str, Any]:
    """A SearchFacesByImage answer with one match (MaxFaces=1)."""
    return {
        "SearchedFaceBoundingBox": searched_box or {"Width": 0.58, "Height": 0.58, "Left": 0.21, "Top": 0.21},
        "SearchedFaceConfidence": 99.99,
        "FaceMatches": [
            {"Similarity": similarity, "Face": {
                "FaceId": face_id, "BoundingBox": {"Width": 0.296, "Height": 0.236, "Left": 0.384, "Top": 0.125},
                "ImageId": "d5631190-d039-54e4-b4d3-f1fdd8e84c29", "ExternalImageId": person_external_id,
                "Confidence": 99.99, "IndexFacesModelVersion": "7.0",
            }},
        ],
        "FaceModelVersion": "7.0",
    }


def search_no_match(searched_box: dict[str, float] | None = None) -> dict[str, Any]:
    return {
        "SearchedFaceBoundingBox": searched_box or {"Width": 0.58, "Height": 0.58, "Left": 0.21, "Top": 0.21},
        "SearchedFaceConfidence": 99.9, "FaceMatches": [], "FaceModelVersion": "7.0",
    }
