from models_zoo.backbones.resnet import ResNet, ResNetConfig, load_backbone_weights

__all__ = ["ResNet", "ResNetConfig", "load_backbone_weights"]
