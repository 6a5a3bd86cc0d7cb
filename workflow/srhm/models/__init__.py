"""The networks: LCN, CNN and FCN ensembles in the paper's parametrisation and 1-D VGG/ResNet/EfficientNet.

Every network is an `EnsembleNet`: net(x, members) maps [E', B, v, d] to logits [E', B, n_classes] and
net.activations(x, members) returns every hidden layer and the output by name.
"""

from srhm.architectures import ARCHITECTURES, default_width
from srhm.models.build import build_model
from srhm.models.ensemble import EnsembleNet

__all__ = ["ARCHITECTURES", "EnsembleNet", "build_model", "default_width"]
