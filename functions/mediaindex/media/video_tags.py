"""What a video container's tags say about where, when and with what it was recorded (phones write these)."""

from __future__ import annotations

import re
from datetime import datetime


def creation_time(value: str | None) -> str | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.year < 1971:  # muxers write 1970 or 1904 when they know nothing
        return None
    return stamp.replace(tzinfo=None).isoformat()


_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def iso6709_location(value: str | None) -> dict[str, float] | None:
    """'+37.7749-122.4194+010.000/' (decimal degrees form) -> {"lat": 37.7749, "lon": -122.4194}."""
    if not value:
        return None
    m = _ISO6709.match(value.strip())
    if not m:
        return None
    lat, lon = float(m.group(1)), float(m.group(2))
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return {"lat": round(lat, 7), "lon": round(lon, 7)}
    return None


def camera(tags: dict[str, str]) -> str | None:
    make = tags.get("com.apple.quicktime.make") or tags.get("make")
    model = tags.get("com.apple.quicktime.model") or tags.get("model")
    if model:
        return model if not make or model.lower().startswith(make.lower()) else f"{make} {model}"
    return make or None
