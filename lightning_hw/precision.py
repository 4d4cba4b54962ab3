"""``precision: auto``: the fastest precision this hardware runs natively.

bf16 autocast is only fast where the hardware computes in bf16. A CPU without native bf16 (most
laptops; oneDNN capped by ``ONEDNN_MAX_CPU_ISA``) emulates it: a step of the CIFAR CNN at batch
256 took 24.6 s in bf16 against 1.6 s in float32 under ``ONEDNN_MAX_CPU_ISA=AVX2``. Likewise
CUDA cards before Ampere (compute capability < 8.0, e.g. the T4) emulate bf16 but have fast fp16.

    CPU with AVX512_BF16 or AMX (and oneDNN allowed to use them)  -> bf16-mixed
    CUDA, compute capability >= 8.0                               -> bf16-mixed
    CUDA, older                                                   -> 16-mixed
    anything else (CPU without native bf16, MPS), numpy backend   -> 32-true

An explicit precision always wins; ``auto`` is resolved before the Trainer starts, stated in one
line, and recorded in the run's config.
"""

import os
from pathlib import Path

# oneDNN ISA caps that still allow its bf16 kernels (ONEDNN_MAX_CPU_ISA; DNNL_MAX_CPU_ISA is the
# older name). Any other cap (AVX2, AVX512_CORE, AVX512_CORE_VNNI, ...) means emulated bf16.
BF16_ISAS = {
    "ALL",
    "AVX512_CORE_BF16",
    "AVX512_CORE_FP16",
    "AVX512_CORE_AMX",
    "AVX512_CORE_AMX_FP16",
    "AVX10_1_512",
    "AVX10_1_512_AMX",
    "AVX10_1_512_AMX_FP16",
    "AVX10_2_512",
    "AVX10_2_512_AMX_2",
}


def cpu_bf16_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's native bf16 features (``avx512_bf16``, ``amx_bf16``) from /proc/cpuinfo."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags |= set(line.split(":", 1)[1].split())
    return flags & {"avx512_bf16", "amx_bf16"}


def native_cpu_bf16() -> tuple[bool, str]:
    """(fast bf16 on this CPU?, why) from its flags and oneDNN's ISA cap."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    if cap and cap.upper() not in BF16_ISAS:
        return False, f"oneDNN capped at {cap}"
    flags = cpu_bf16_flags()
    if not flags:
        return False, "CPU without native bf16"
    return True, f"CPU with native bf16 ({', '.join(sorted(flags))})"


def _device(accelerator) -> str:
    import torch

    name = str(accelerator or "auto").lower()
    if name in ("gpu", "cuda") or (name == "auto" and torch.cuda.is_available()):
        return "cuda"
    if name == "mps" or (name == "auto" and torch.backends.mps.is_available()):
        return "mps"
    return "cpu" if name in ("auto", "cpu") else name


def auto_precision(accelerator="auto", backend: str | None = None, probe=None):
    """(precision, reason) for ``precision: auto`` on the device ``accelerator`` selects."""
    import torch

    if backend == "numpy":
        return "32-true", "numpy backend (numpy_nn computes in the network's dtype)"
    device = _device(accelerator)
    if device == "cuda":
        major, minor = torch.cuda.get_device_capability()
        name = f"{torch.cuda.get_device_name()} (compute capability {major}.{minor})"
        if major >= 8:
            return "bf16-mixed", name
        return "16-mixed", f"{name}: bf16 would be emulated"
    if device == "cpu":
        fast, why = (probe or native_cpu_bf16)()
        return ("bf16-mixed" if fast else "32-true"), why
    return "32-true", device
