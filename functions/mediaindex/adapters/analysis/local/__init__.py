"""The local analyzer: labels, objects, faces and their attributes, text and moderation from models that ship
inside PyPI packages and run offline on a CPU. Importing this package loads no model."""

from mediaindex.adapters.analysis.local.analyzer import FEATURES, LocalAnalyzer
from mediaindex.adapters.analysis.local.similarity import embedding_similarity

__all__ = ["FEATURES", "LocalAnalyzer", "embedding_similarity"]
