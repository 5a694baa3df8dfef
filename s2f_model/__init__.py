"""The Speech2Face model (Oh et al., CVPR 2019) in PyTorch.

Audio front-end, voice encoder, face encoder (VGG-Face), face decoder (after Cole et al.
2017), losses, training and inference. Knows nothing about fairness.
"""

__all__: list[str] = []
