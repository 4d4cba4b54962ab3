"""``Network``: the base of our networks.

It remembers its constructor arguments, so that the Classifier can store
``{"class_path", "init_args"}`` in a checkpoint and rebuild the network from the checkpoint alone
(no pickled objects, loadable with ``torch.load(weights_only=True)``). ``evaluate`` is what test
and predict call: the plain forward pass, unless a network adds test-time augmentation."""

import functools
import importlib
import inspect

from torch import nn

TRUSTED_PREFIX = "lightning_hw."  # only our own network classes are rebuilt from a checkpoint


class Network(nn.Module):
    init_args: dict

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

    def evaluate(self, x):
        """Logits for evaluation (test and predict); networks with test-time augmentation
        override it. Validation uses the plain forward pass, which keeps epochs cheap."""
        return self(x)

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
