"""The TextImageEmbedder port (ports.py): pictures and descriptions as vectors of one image-text space, for search
by description. `bedrock.py`: Amazon Titan Multimodal Embeddings G1 on AWS; `clip_onnx.py`: a CLIP model the user
installs (`mediaindex models install`, `registry.py`)."""
