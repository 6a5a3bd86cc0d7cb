"""1-D VGG11 / VGG16 on inputs [B, v, d] (paper App. B; the authors' models/vgg.py).

Conv1d(kernel 3, padding 1, bias) + BatchNorm1d + ReLU blocks and MaxPool1d(2, 2), then a Linear
classifier on the flattened features. The five pools floor-halve the length, so d must be >= 32;
the classifier takes 512 * (d // 32) features, i.e. Linear(512, n_classes) for 32 <= d < 64
(the paper's instance has d = 36: 36 -> 18 -> 9 -> 4 -> 2 -> 1). The ReLUs sit at `features.{i}`
with the same indices as in the authors' stabs.py.
"""

from __future__ import annotations

from torch import Tensor, nn

from srhm.models.conv import Conv1d

POOL = "M"
CONFIGS = {
    "vgg11": (64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    "vgg16": (64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL, 512, 512, 512, POOL),
}
MIN_LENGTH = 2 ** CONFIGS["vgg11"].count(POOL)


class VGG1d(nn.Module):
    """[B, v, d] -> logits [B, n_classes]; `name` is a key of CONFIGS."""

    HIDDEN_LAYER = nn.ReLU

    def __init__(self, name: str, *, v: int, d: int, n_classes: int):
        super().__init__()
        if d < MIN_LENGTH:
            raise ValueError(f"d must be >= {MIN_LENGTH} for {name}: its {CONFIGS[name].count(POOL)} max-pools "
                             f"halve it, got d={d}")
        layers: list[nn.Module] = []
        channels = v
        for entry in CONFIGS[name]:
            if entry == POOL:
                layers.append(nn.MaxPool1d(kernel_size=2, stride=2))
            else:
                layers += [Conv1d(channels, entry, kernel_size=3, padding=1), nn.BatchNorm1d(entry), nn.ReLU()]
                channels = entry
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels * (d // MIN_LENGTH), n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))
