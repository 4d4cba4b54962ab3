"""``Network``: the base of our networks.

It remembers its constructor arguments, so that the Classifier can store
``{"class_path", "init_args"}`` in a checkpoint and rebuild the network from the checkpoint alone
(no pickled objects: ``lightning_hw.checkpoints`` reads them with ``weights_only``). ``evaluate`` is what test
and predict call: the forward pass, averaged over mirrored (and shifted) inputs where the network's
``tta_level`` asks for test-time augmentation."""

import functools
import importlib
import inspect

import torch
import torch.nn.functional as F
from torch import nn

TRUSTED_PREFIX = "lightning_hw."  # only our own network classes are rebuilt from a checkpoint


TTA_LEVELS = (0, 1, 2)


class Network(nn.Module):
    init_args: dict
    tta_level: int = 0  # test-time augmentation of evaluate(): see tta_logits

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__init__

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            if "init_args" not in self.__dict__:  # the outermost __init__ records
                bound = inspect.signature(init).bind(self, *args, **kw)
                bound.apply_defaults()
                args_ = dict(bound.arguments)
                args_.pop("self")
                object.__setattr__(self, "init_args", args_)
            init(self, *args, **kw)

        cls.__init__ = recording_init

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for evaluation (test and predict), with the network's test-time augmentation.
        Validation uses the plain forward pass, which keeps epochs cheap."""
        return tta_logits(self, x, self.tta_level)

    def set_tta_level(self, level: int) -> None:
        if level not in TTA_LEVELS:
            raise ValueError(f"tta_level must be 0, 1 or 2, got {level}")
        self.tta_level = level

    def config(self) -> dict:
        cls = type(self)
        return {
            "class_path": f"{cls.__module__}.{cls.__qualname__}",
            "init_args": dict(self.init_args),
        }


def build_network(config: dict) -> nn.Module:
    """Instantiate ``{"class_path": "lightning_hw.networks....", "init_args": {...}}``."""
    path = config.get("class_path", "") if isinstance(config, dict) else ""
    if not path.startswith(TRUSTED_PREFIX):
        raise ValueError(
            f"refusing to build network {path or config!r}: only classes under {TRUSTED_PREFIX} are "
            "rebuilt from checkpoints"
        )
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"{path} is not an nn.Module class")
    return cls(**config.get("init_args", {}))


def tta_logits(network: nn.Module, x: torch.Tensor, level: int) -> torch.Tensor:
    """Test-time augmentation of images (n, c, h, w): 0 none; 1 average with the mirror image;
    2 also average over 1-pixel translations (reflect-padded), each mirrored, as in airbench."""
    if level == 0:
        return network(x)
    logits = 0.5 * (network(x) + network(x.flip(-1)))
    if level == 1:
        return logits
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    h, w = x.shape[-2:]
    shifted = [padded[..., :h, :w], padded[..., 2 : h + 2, 2 : w + 2]]
    translated = torch.stack([0.5 * (network(s) + network(s.flip(-1))) for s in shifted]).mean(0)
    return 0.5 * logits + 0.5 * translated
