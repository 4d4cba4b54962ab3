"""Section 15: the torch CIFAR-10 CNN's training step, as `cifar_cnn.yaml` trains it and with
each CPU option the issue named: channels_last (the network's layout) or the default contiguous
layout, eager or ``torch.compile``, and what the step's time goes to.

The arms train the same network (``CifarCNN``, airbench94's widths) on the same random batch at
the config's batch size, with the precision ``precision: auto`` picks on this CPU, in
alternating blocks in one process."""

from bench.machine import ROOT, interleaved_blocks

BATCH = 1024  # configs/cifar_cnn.yaml


def _network(channels_last: bool):
    """``CifarCNN`` as the configs build it, or the same weights in the contiguous layout."""
    import torch

    from lightning_hw.networks.cnn import CifarCNN

    class Contiguous(CifarCNN):
        def forward(self, x):
            return self.head(self.layers(self.whiten(x))) * self.scaling_factor

    torch.manual_seed(0)
    net = (CifarCNN if channels_last else Contiguous)(widths=(64, 256, 256))
    if not channels_last:
        net.to(memory_format=torch.contiguous_format)
    return net


def step_rows(repeats: int = 3, block: int = 3) -> tuple[str, list]:
    """(precision, [(arm, ms per step)]) and, last, the top operators of the channels_last
    eager step by their own CPU time."""
    import torch
    import torch.nn.functional as F

    from lightning_hw.precision import auto_precision

    precision, _ = auto_precision("cpu")
    bf16 = precision == "bf16-mixed"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (BATCH,), generator=g)
    arms = {
        "eager, channels_last (the config)": (True, False),
        "eager, contiguous (NCHW)": (False, False),
        "torch.compile, channels_last": (True, True),
    }
    steps = {}
    for name, (channels_last, compiled) in arms.items():
        net = _network(channels_last)
        model = torch.compile(net) if compiled else net
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.85, nesterov=True)

        def step(model=model, opt=opt):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x), y, label_smoothing=0.2)
            loss.backward()
            opt.step()

        step()  # compiles, and settles each arm's buffers
        steps[name] = step
    t = interleaved_blocks(steps, repeats, block)
    return precision, [(name, 1e3 * s) for name, s in t.items()] + [_top_ops(steps)]


def _top_ops(steps: dict, top: int = 6) -> tuple:
    """("profile", [(operator, ms per step)]) of the config's arm over two steps."""
    from torch.profiler import ProfilerActivity, profile

    step = next(iter(steps.values()))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
        step()
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return ("profile", [(e.key, e.self_cpu_time_total / 2e3) for e in ops[:top]])


def torch_step(**_) -> str:
    import json
    import subprocess
    import sys

    code = "import json; from bench.torch_step import step_rows; print(json.dumps(step_rows()))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    precision, rows = json.loads(out.stdout.strip().splitlines()[-1])
    (_, ops), rows = rows[-1], rows[:-1]
    base = rows[0][1]
    lines = [
        "## 15. The torch CIFAR-10 CNN's training step: layout and torch.compile",
        "",
        f"One training step of `configs/cifar_cnn.yaml`'s network (`CifarCNN`, widths 64, 256, "
        f"256) at its batch of {BATCH}, `precision: auto` as on this CPU ({precision}), the "
        "same random batch; the arms in alternating blocks of 3 steps, 3 rounds, median of all "
        "but each block's first, in a fresh process (`torch.compile`'s compilation before the "
        "timing). `python -m bench --only torch_step`.",
        "",
        "| step | ms | against the config's |",
        "|---|---:|---:|",
        *(f"| {name} | {ms:.0f} | {ms / base:.2f}x |" for name, ms in rows),
        "",
        "Where the config's step goes (torch profiler, own CPU time per step, the largest "
        "operators): " + "; ".join(f"`{name}` {ms:.0f} ms" for name, ms in ops) + ".",
    ]
    return "\n".join(lines)
