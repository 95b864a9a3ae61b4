"""The errors the use cases tell apart: a bad file (record it and move on) versus a passing fault (retry)."""


class MediaIndexError(Exception):
    """Base of every error this package raises on purpose."""


class BadMedia(MediaIndexError):
    """The file itself cannot be analysed: retrying will not help. It gets a `failed` document with this reason."""

    code = "bad_media"


class EmptyFile(BadMedia):
    code = "empty_file"


class CorruptMedia(BadMedia):
    code = "corrupt"


class UnsupportedMedia(BadMedia):
    code = "unsupported"


class MediaTooLarge(BadMedia):
    code = "too_large"


class LinkNotFollowed(BadMedia):
    """A symbolic link in an indexed folder to a file that is not a picture or a video (adapters/storage/folder.py):
    not read, and its `failed` document records nothing of the target: its size is 0 and its etag `etag`, the
    link's own fingerprint."""

    code = "link_skipped"

    def __init__(self, message: str, etag: str = "") -> None:
        super().__init__(message)
        self.etag = etag


class ArchivedMedia(BadMedia):
    """An S3 object in an archive storage class (Glacier Flexible Retrieval, Deep Archive, or an archive tier of
    Intelligent-Tiering), not restored: it cannot be read until it is. Its ObjectRestore:Completed event indexes
    it."""

    code = "archived"


class TransientError(MediaIndexError):
    """A service is throttling or down. The message is retried and, in the end, dead-lettered with this reason."""


class ObjectNotFound(MediaIndexError):
    """The file is no longer in storage (deleted before we got to it): not an error for indexing."""


class VersionConflict(MediaIndexError):
    """Someone else wrote the document between our read and our write: read again and decide again."""


class ConfigurationError(MediaIndexError):
    """A setting is missing or wrong; the message says which and what to do."""


class AccessRefused(MediaIndexError):
    """A file exists but is not one this server may hand out (a symlink out of the served folders, another
    bucket); the message says how to allow it."""
