"""mediaindex: make images and video searchable by what is in them."""

__version__ = "0.1.0"
