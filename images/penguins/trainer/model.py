"""The network: a plain MLP over standardized numeric features."""

from torch import nn


def build_mlp(
    input_size: int, hidden_units: tuple[int, ...], num_classes: int, dropout: float
) -> nn.Sequential:
    """Linear -> ReLU -> Dropout per hidden layer, then a Linear to class logits."""
    layers: list[nn.Module] = []
    width = input_size
    for hidden_width in hidden_units:
        layers += [nn.Linear(width, hidden_width), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden_width
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
