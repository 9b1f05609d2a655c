from models_zoo.necks.fpn import FeaturePyramid

__all__ = ["FeaturePyramid"]
