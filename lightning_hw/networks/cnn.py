"""``CifarCNN``: our CIFAR-10 network, after the airbench recipe (Keller Jordan, 2024).

    whiten (2x2 conv, frozen, from the data's patch covariance) -> GELU
    -> 3 x ConvGroup(conv3x3 -> maxpool2 -> BN -> GELU -> conv3x3 -> BN -> GELU)
    -> maxpool3 -> flatten -> linear (no bias) -> x scale

Why each piece helps is in docs/cifar_cnn.md. ``widths`` sets the cost: (64, 256, 256) is the
airbench94 network. The whitening layer is fitted from training images before training
(``fit_whitening``, called by the ``FitWhitening`` callback); ``tta_level`` sets the test-time
augmentation of ``evaluate`` (test and predict).
"""

import torch
from torch import nn

from lightning_hw.networks.base import Network


class BatchNorm(nn.BatchNorm2d):
    """BatchNorm with a fixed scale of 1 (only the bias learns), as in airbench."""

    def __init__(self, num_features: int, momentum: float = 0.6, eps: float = 1e-12):
        super().__init__(num_features, eps=eps, momentum=1 - momentum)
        self.weight.requires_grad = False


class Conv(nn.Conv2d):
    """3x3 'same' conv without bias, initialized with identity (dirac) on its first channels:
    each block starts close to passing its input through, which makes early training stable."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__(channels_in, channels_out, kernel_size=3, padding="same", bias=False)

    def reset_parameters(self):
        super().reset_parameters()
        w = self.weight.data
        torch.nn.init.dirac_(w[: w.size(1)])


class ConvGroup(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, bn_momentum: float):
        super().__init__()
        self.conv1 = Conv(channels_in, channels_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = BatchNorm(channels_out, bn_momentum)
        self.conv2 = Conv(channels_out, channels_out)
        self.norm2 = BatchNorm(channels_out, bn_momentum)
        self.activ = nn.GELU()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class CifarCNN(Network):
    """Inputs: normalized (n, 3, 32, 32) images. Outputs: (n, num_classes) logits."""

    def __init__(
        self,
        widths: tuple = (64, 256, 256),
        num_classes: int = 10,
        bn_momentum: float = 0.6,
        scaling_factor: float = 1 / 9,
        whiten_kernel: int = 2,
        tta_level: int = 0,
    ):
        """
        Args:
            widths: output channels of the three conv groups.
            bn_momentum: weight of the running statistics' past (airbench's convention: 0.6).
            scaling_factor: multiplies the logits (small logits at the start).
            whiten_kernel: patch size of the whitening layer.
            tta_level: test-time augmentation in ``evaluate``: 0 none, 1 mirror, 2 mirror and
                1-pixel translations.
        """
        super().__init__()
        self.set_tta_level(tta_level)
        whiten_width = 2 * 3 * whiten_kernel**2
        self.whiten = nn.Conv2d(3, whiten_width, whiten_kernel, padding=0, bias=True)
        self.whiten.weight.requires_grad = False  # set from data by fit_whitening(), never trained
        w1, w2, w3 = widths
        self.layers = nn.Sequential(
            nn.GELU(),
            ConvGroup(whiten_width, w1, bn_momentum),
            ConvGroup(w1, w2, bn_momentum),
            ConvGroup(w2, w3, bn_momentum),
            nn.MaxPool2d(3),
            nn.Flatten(),
        )
        self.head = nn.Linear(w3, num_classes, bias=False)
        self.scaling_factor = scaling_factor
        self.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def fit_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the first layer to whiten 2x2 patches of ``images`` (normalized, n x 3 x 32 x 32).

        With the patch covariance Σ = V Λ V^T, the filters are ±V^T / sqrt(Λ + eps): every output
        channel has unit variance and they are decorrelated, so the next layer sees well
        conditioned inputs from the first step (airbench: ~1 epoch saved). Both signs are kept so
        that the GELU after it loses no information.
        """
        c, (h, w) = images.shape[1], self.whiten.weight.shape[2:]
        patches = (
            images.float().unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c * h * w)
        )
        cov = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov, UPLO="U")
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.T.flip(0)
        filters = (eigenvectors / torch.sqrt(eigenvalues + eps)[:, None]).reshape(-1, c, h, w)
        self.whiten.weight.copy_(torch.cat((filters, -filters)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.layers(self.whiten(x))) * self.scaling_factor
