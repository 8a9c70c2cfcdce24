"""Full-size rehearsal: DiT-XL/2, Stable Diffusion 1.5, CLIP ViT-B/32 and ResNet-18 at their published
sizes, with random weights, through ``dgr distill`` exactly as a user runs it.

Nothing is downloaded: each architecture is built from its published configuration (below, as
data) with diffusers / transformers / open_clip / torchvision classes and saved in the folder layout
its hub checkpoint has, so dgr loads it through the code a downloaded folder goes through. Random
weights make the images noise: this measures function, shapes, memory and time, not quality.

    python benchmarks/fullsize.py --out /work/fullsize --quick   # headline pair, 5 classes, 2 steps
    python benchmarks/fullsize.py --out /work/fullsize           # every advertised pair

Writes ``OUT/models/{dit-xl-2-256,sd-1.5,clip-vit-b-32,resnet18-224}``, ``OUT/imagenette`` (the 10
ImageNette wnid folders), the runs under ``OUT/runs`` and ``benchmarks/results/fullsize-cpu.md``
(``--device cuda``: ``fullsize-gpu.md``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import RESULTS, header, table, write_result

IMAGENETTE = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
              "n03394916", "n03417042", "n03425413", "n03445777", "n03888257")

# facebook/DiT-XL-2-256: transformer/config.json, vae/ (stabilityai/sd-vae-ft-ema), scheduler/
DIT_XL_2_256 = dict(num_attention_heads=16, attention_head_dim=72, in_channels=4, out_channels=8, num_layers=28,
                    dropout=0.0, norm_num_groups=32, attention_bias=True, sample_size=32, patch_size=2,
                    activation_fn="gelu-approximate", num_embeds_ada_norm=1000, upcast_attention=False,
                    norm_type="ada_norm_zero", norm_elementwise_affine=False, norm_eps=1e-5)
SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32,
              act_fn="silu", block_out_channels=(128, 256, 512, 512),
              down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
DIT_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                     clip_sample=False, set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon")
# runwayml/stable-diffusion-v1-5: unet/, vae/, text_encoder/ (CLIP ViT-L/14's text tower), scheduler/
SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, act_fn="silu",
                 block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8, cross_attention_dim=768,
                 center_input_sample=False, downsample_padding=1, flip_sin_to_cos=True, freq_shift=0,
                 mid_block_scale_factor=1, norm_eps=1e-5, norm_num_groups=32,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
SD15_TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                 num_hidden_layers=12, max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                 projection_dim=768, bos_token_id=0, eos_token_id=2, pad_token_id=1)
SD15_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                      skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

FOLDERS = {"dit": "dit-xl-2-256", "sd": "sd-1.5", "clip": "clip-vit-b-32", "resnet": "resnet18-224"}
PAIRS = (("dit", "clip"), ("dit", "resnet"), ("sd", "clip"), ("sd", "resnet"), ("dit", "ensemble"))
DONE = ".complete"


# --- the data ---------------------------------------------------------------------------
def write_imagenette(root: Path, classes: int, per_class: int, seed: int = 0) -> Path:
    """ImageNette's wnid folders, ``per_class`` JPEGs each, 256 × 320 px (short side 256, like
    imagenette2's 320 release scaled), smooth random colour fields."""
    import numpy as np
    from PIL import Image

    if has_images(root, per_class):
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    for wnid in IMAGENETTE[:classes]:
        (root / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            small = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
            Image.fromarray(small).resize((320, 256), Image.BICUBIC).save(root / wnid / f"{wnid}_{i}.JPEG")
    (root / DONE).write_text("")
    return root


def has_images(root: Path, per_class: int) -> bool:
    """Whether ``root`` is a complete folder written with ``per_class`` images a class."""
    return (root / DONE).exists() and len(list((root / IMAGENETTE[0]).glob("*.JPEG"))) == per_class


# --- the models -------------------------------------------------------------------------
def imagenet_id2label() -> dict[int, str]:
    """ImageNet-1k's 1000 class names in index order, from torchvision's bundled metadata."""
    from torchvision.models import ResNet18_Weights

    return dict(enumerate(ResNet18_Weights.IMAGENET1K_V1.meta["categories"]))


def write_dit(folder: Path) -> None:
    """DiTPipeline layout of facebook/DiT-XL-2-256 with ImageNet id2label in model_index.json."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    torch.manual_seed(0)
    pipe = DiTPipeline(transformer=DiTTransformer2DModel(**DIT_XL_2_256), vae=AutoencoderKL(**SD_VAE, sample_size=256),
                       scheduler=DDIMScheduler(**DIT_SCHEDULER))
    pipe.save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["id2label"] = {str(k): v for k, v in imagenet_id2label().items()}
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))


def write_sd(folder: Path) -> None:
    """StableDiffusionPipeline layout of SD 1.5 (no safety checker), tokenizer from open_clip's BPE."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from dgr.testing.tiny_pipelines import write_clip_tokenizer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp))
    pipe = StableDiffusionPipeline(vae=AutoencoderKL(**SD_VAE, sample_size=512),
                                   text_encoder=CLIPTextModel(CLIPTextConfig(**SD15_TEXT)), tokenizer=tokenizer,
                                   unet=UNet2DConditionModel(**SD15_UNET), scheduler=PNDMScheduler(**SD15_SCHEDULER),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)


def write_clip(folder: Path) -> None:
    """open_clip's hub layout (as laion/CLIP-ViT-B-32-*): open_clip_config.json + open_clip_model.safetensors."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32")
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": open_clip.get_model_config("ViT-B-32"),
              "preprocess_cfg": {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD)}}
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))


def write_resnet(folder: Path, data: Path, env: dict[str, str]) -> None:
    """A ResNet-18 detector at 224 px input, through ``dgr train detector`` (1 step: random weights)."""
    run_cli(["train", "detector", "--arch", "resnet18", "--dataset", str(data), "--image-size", "256",
             "--input-size", "224", "--max-steps", "1", "--epochs", "1", "--out", str(folder)], env)


def build(folder: Path, write: Any, *args: Any) -> float | None:
    """``write(tmp, *args)`` then rename to ``folder``; skipped when already complete. The seconds the
    writing took (kept in the folder's marker; None when unknown)."""
    if (folder / DONE).exists():
        recorded = (folder / DONE).read_text().strip()
        return float(recorded) if recorded else None
    clock = time.perf_counter()
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp, *args)
    seconds = time.perf_counter() - clock
    (tmp / DONE).write_text(f"{seconds:.1f}")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return seconds


# --- parameters and FLOPs -----------------------------------------------------------------
def counted(module: Any, forward: Any) -> tuple[int, int]:
    """(parameters, FLOPs of ``forward(module)``), counted by torch.utils.flop_counter on the meta
    device (no arithmetic runs; matmuls and convolutions at 2 FLOPs per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        forward(module)
    return sum(p.numel() for p in module.parameters()), int(counter.get_total_flops())


def model_costs(kinds: set[str], sd_resolution: int) -> dict[str, tuple[int, int]]:
    """Per forward at batch 1: {part: (parameters, FLOPs)} of the models ``kinds`` use."""
    import open_clip
    import torch
    import torchvision
    from diffusers import AutoencoderKL, DiTTransformer2DModel, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    costs: dict[str, tuple[int, int]] = {}
    with torch.device("meta"), torch.no_grad():
        if "dit" in kinds:
            dit = DiTTransformer2DModel(**DIT_XL_2_256)
            costs["DiT-XL/2 transformer, 32×32×4 latents"] = counted(
                dit, lambda m: m(torch.randn(1, 4, 32, 32), timestep=torch.tensor([500]), class_labels=torch.tensor([0])))
        if kinds & {"dit", "sd"}:
            vae = AutoencoderKL(**SD_VAE)
            for side in sorted({256} if "sd" not in kinds else {256, sd_resolution}):
                pixels, latents = torch.randn(1, 3, side, side), torch.randn(1, 4, side // 8, side // 8)
                costs[f"VAE (whole) encode, {side} px"] = counted(vae, lambda m, x=pixels: m.encode(x))
                costs[f"VAE (whole) decode, {side} px"] = counted(vae, lambda m, z=latents: m.decode(z))
        if "sd" in kinds:
            unet = UNet2DConditionModel(**SD15_UNET)
            lat = sd_resolution // 8
            costs[f"SD 1.5 UNet, {lat}×{lat}×4 latents"] = counted(unet, lambda m: m(
                torch.randn(1, 4, lat, lat), torch.tensor([500]), encoder_hidden_states=torch.randn(1, 77, 768)))
            costs["SD 1.5 text encoder, 77 tokens"] = counted(
                CLIPTextModel(CLIPTextConfig(**SD15_TEXT)), lambda m: m(torch.zeros(1, 77, dtype=torch.long)))
        if "clip" in kinds:
            clip = open_clip.create_model("ViT-B-32", device="meta")
            costs["CLIP ViT-B/32 image tower, 224 px"] = (
                sum(p.numel() for p in clip.visual.parameters()),
                counted(clip, lambda m: m.encode_image(torch.randn(1, 3, 224, 224)))[1])
            costs["CLIP ViT-B/32 text tower, 77 tokens"] = (
                sum(p.numel() for n, p in clip.named_parameters() if not n.startswith("visual.")),
                counted(clip, lambda m: m.encode_text(torch.zeros(1, 77, dtype=torch.long)))[1])
        if "resnet" in kinds:
            costs["ResNet-18, 224 px"] = counted(torchvision.models.resnet18(num_classes=10),
                                                 lambda m: m(torch.randn(1, 3, 224, 224)))
    return costs


# --- the runs -----------------------------------------------------------------------------
# ``dgr`` itself, plus the CUDA memory it held at most, written at exit to $DGR_FULLSIZE_PEAK
CUDA_PEAK = ("import atexit, os, sys, torch\n"
             "atexit.register(lambda: open(os.environ['DGR_FULLSIZE_PEAK'], 'w').write("
             "str(torch.cuda.max_memory_reserved())))\n"
             "from dgr.cli import main\n"
             "sys.argv[0] = 'dgr'\n"
             "main()\n")


def run_cli(args: list[str], env: dict[str, str], log: Path | None = None,
            cuda: bool = False) -> tuple[float, int, int | None]:
    """``dgr ARGS`` in a child process, as a user runs it: (wall seconds, peak RSS in bytes of that
    process, peak CUDA memory reserved when ``cuda``). Raises SystemExit with the log's tail on failure."""
    peak = Path(log or "dgr").with_suffix(".cuda-peak")
    command = [sys.executable, "-c", CUDA_PEAK] if cuda else [sys.executable, "-m", "dgr"]
    clock = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        proc = subprocess.Popen([*command, *args], env={**env, "DGR_FULLSIZE_PEAK": str(peak)}, stdout=out,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code:
        tail = log.read_text()[-3000:] if log else ""
        raise SystemExit(f"dgr {' '.join(args)} failed with exit code {code}\n{tail}")
    gpu = int(peak.read_text()) if cuda and peak.exists() else None
    return time.perf_counter() - clock, usage.ru_maxrss * 1024, gpu


def pair_args(generator: str, detector: str, models: Path, data: Path, out: Path, settings: argparse.Namespace) -> list[str]:
    """The ``dgr distill`` arguments of one generator × detector pair."""
    detector_model = {"clip": str(models / FOLDERS["clip"]), "resnet": str(models / FOLDERS["resnet"]),
                      "ensemble": f"resnet={models / FOLDERS['resnet']},clip={models / FOLDERS['clip']}"}[detector]
    args = ["distill", "--dataset", str(data), "--image-size", "256", "--ipc", str(settings.ipc),
            "--generator", generator, "--model", str(models / FOLDERS[generator]),
            "--detector", detector, "--detector-model", detector_model,
            "--candidates", str(settings.candidates), "-o", f"generator.steps={settings.steps}",
            "--device", settings.device, "--batch-size", str(settings.batch_size), "--out", str(out), "--overwrite", "-q"]
    if detector == "ensemble":
        args += ["-o", "detector.members=resnet,clip"]
    if settings.dtype:
        args += ["-o", f"generator.dtype={settings.dtype}"]
    return args


def run_pair(generator: str, detector: str, root: Path, data: Path, settings: argparse.Namespace,
             env: dict[str, str]) -> dict[str, Any]:
    """One ``dgr distill`` of a pair, measured: wall, peak memory, run.json's timings and counts."""
    from PIL import Image

    out = root / "runs" / f"{generator}-{detector}"
    out.parent.mkdir(parents=True, exist_ok=True)
    args = pair_args(generator, detector, root / "models", data, out, settings)
    measured = out.with_suffix(".json")  # a finished run of the same command is not run again
    if measured.exists() and json.loads(measured.read_text())["args"] == args:
        print(f"measured before: dgr {' '.join(args)}", flush=True)
        result = json.loads(measured.read_text())
    else:
        print(f"running dgr {' '.join(args)}", flush=True)
        load = os.getloadavg()[0]
        wall, rss, gpu = run_cli(args, env, out.with_suffix(".log"), cuda=settings.device.startswith("cuda"))
        run = json.loads((out / "run.json").read_text())
        result = {"generator": generator, "detector": detector, "args": args, "wall": wall, "rss": rss, "gpu": gpu,
                  "load": [round(load, 1), round(os.getloadavg()[0], 1)], "timings": run["timings"],
                  "counts": run["counts"]}
        measured.write_text(json.dumps(result, indent=1))
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    return {**result, "images": len(records), "sizes": sorted({Image.open(out / r["file"]).size for r in records}),
            "model_classes": {r["class"]: r.get("model_class") for r in records}}


# --- the report ----------------------------------------------------------------------------
def gib(n: float) -> str:
    return f"{n / 2 ** 30:.2f} GiB"


def report(results: list[dict[str, Any]], costs: dict[str, tuple[int, int]], builds: dict[str, float | None],
           settings: argparse.Namespace, classes: int) -> str:
    stages = ("prototypes", "synthesis", "detection", "refinement", "writing")
    cuda = settings.device.startswith("cuda")
    rows = []
    for r in results:
        c, t = r["counts"], r["timings"]
        initial = classes * settings.ipc
        rows.append([f"`{r['generator']}` × `{r['detector']}`", f"{r['wall']:.0f}", *(f"{t.get(s, 0):.1f}" for s in stages),
                     f"{t.get('synthesis', 0) / initial:.1f}", f"{c['generated_images'] / r['images']:.2f}",
                     gib(r["rss"]), *([gib(r["gpu"])] if cuda else []),
                     f"{c.get('initial_anomalies', 0)}/{c.get('refined', 0)}/{c.get('unresolved', 0)}",
                     ", ".join(f"{w}×{h}" for w, h in r["sizes"]),
                     " → ".join(map(str, r["load"])) if r.get("load") else "–"])
    cost_rows = [[name, f"{p / 1e6:.1f} M", f"{f / 1e9:.1f}"] for name, (p, f) in costs.items()]
    lines = [
        f"Random-weight models at their published sizes, built by `benchmarks/fullsize.py` (no download) and run "
        f"through `dgr distill` as a user runs it, one pair after another; {classes} ImageNette classes, "
        f"IPC {settings.ipc}, {settings.candidates} candidate(s) per flagged image, `-o generator.steps={settings.steps}` "
        f"(strength 0.7: {max(1, round(settings.steps * 0.7))} denoising steps run), classifier-free guidance on "
        f"(2 model forwards per step), batch {settings.batch_size}, device {settings.device}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}. Random detectors flag every image, so "
        "every image is refined: the most expensive path.",
        "",
        "Per pair: wall of the whole `dgr distill` process (loading included), seconds per stage (run.json, summed "
        "over classes), synthesis seconds per initial image (one generator call = one image through every "
        "denoising step and the VAE decode), generator calls per final image (initial + candidates, over "
        "final images), peak RSS of the process (`wait4`), anomalies/refined/unresolved, and the machine's "
        "1-minute load average before → after (the cores are shared: times grow with it). A pair measured by "
        "an earlier invocation with the same `dgr distill` command is not run again: its row is that "
        "measurement (`OUT/runs/PAIR.json`).",
        "",
        table(["pair", "wall s", *(f"{s} s" for s in stages), "s / generator call", "calls / final image",
               "peak RSS", *(["peak CUDA memory reserved"] if cuda else []), "flagged/refined/unresolved",
               "images written", "load average"], rows),
        "",
        "Parameters and FLOPs per forward at batch 1, **counted** (not timed) with "
        "`torch.utils.flop_counter.FlopCounterMode` on the meta device: matmuls and convolutions, "
        "2 FLOPs per multiply-add; norms, activations and softmax are not counted.",
        "",
        table(["model part", "parameters", "GFLOP / forward"], cost_rows),
        "",
        "The DiT-XL/2 transformer as diffusers builds it holds one timestep and class embedding per block "
        "(the hub checkpoint stores 28 copies of DiT's shared embedders), hence 750 M parameters "
        "against the paper's 675 M; the FLOPs are the paper's 118.6 G multiply-adds.",
        "",
        "Seconds to write each model folder (building the random-weight model and saving it): "
        + ", ".join(f"{name} {'?' if secs is None else f'{secs:.0f}'}" for name, secs in builds.items()) + ".",
        "",
        "The class each image's generator was given (manifest `model_class`):",
        "",
        *[f"- `{r['generator']}` × `{r['detector']}`: " + ", ".join(f"{k} → {v}" for k, v in r["model_classes"].items())
          for r in results],
        "",
        "Commands, in order:",
        "",
        *[f"    dgr {' '.join(r['args'])}" for r in results],
    ]
    title = "Full-size rehearsal, " + ("GPU" if cuda else "CPU")
    return header(title, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="Where the models, data and runs go (GBs).")
    parser.add_argument("--quick", action="store_true",
                        help="The headline pair (dit × clip) only, 1 image per class of 5 classes, 2 steps.")
    parser.add_argument("--pairs", default=None, help="Comma-separated GENERATOR-DETECTOR pairs [default: all].")
    parser.add_argument("--classes", type=int, default=None, help="Classes to distil [10; --quick 5].")
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--candidates", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3,
                        help="-o generator.steps (strength 0.7 runs round(0.7 × steps): 3 → 2 denoising steps).")
    parser.add_argument("--images-per-class", type=int, default=2, help="Real images per class.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="-o generator.dtype (e.g. bfloat16 on a GPU).")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--sd-resolution", type=int, default=512, help="SD 1.5's native resolution.")
    parser.add_argument("--result", type=Path, default=None,
                        help="Result file [results/fullsize-cpu.md, -gpu.md with --device cuda; -quick before .md].")
    settings = parser.parse_args()

    classes = settings.classes or (5 if settings.quick else len(IMAGENETTE))
    pairs = [tuple(p.split("-", 1)) for p in settings.pairs.split(",")] if settings.pairs else \
        list(PAIRS[:1] if settings.quick else PAIRS)
    kinds = {k for pair in pairs for k in pair}
    kinds |= {"resnet", "clip"} if "ensemble" in kinds else set()
    root = settings.out.resolve()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("DGR_DOWNLOAD", None)

    full = write_imagenette(root / "imagenette", len(IMAGENETTE), settings.images_per_class)
    data = full
    if classes < len(IMAGENETTE):  # a subset folder: the CLI distils every class of a folder
        data = root / f"imagenette-{classes}"
        if not has_images(data, settings.images_per_class):
            shutil.rmtree(data, ignore_errors=True)
            for wnid in IMAGENETTE[:classes]:
                shutil.copytree(full / wnid, data / wnid, dirs_exist_ok=True)
            (data / DONE).write_text("")
    models = root / "models"
    builds: dict[str, float | None] = {}
    for kind, write in (("dit", write_dit), ("sd", write_sd), ("clip", write_clip)):
        if kind in kinds:
            print(f"writing {models / FOLDERS[kind]}", flush=True)
            builds[FOLDERS[kind]] = build(models / FOLDERS[kind], write)
    if "resnet" in kinds:
        resnet = models / FOLDERS["resnet"]
        if (resnet / DONE).exists() and json.loads((resnet / "config.json").read_text())["class_names"] != \
                list(IMAGENETTE[:classes]):
            shutil.rmtree(resnet)  # trained on another number of classes
        print(f"training {resnet}", flush=True)
        builds[FOLDERS["resnet"]] = build(resnet, write_resnet, data, env)
    costs = model_costs(kinds, settings.sd_resolution)

    results = []
    for generator, detector in pairs:
        results.append(run_pair(generator, detector, root, data, settings, env))
        r = results[-1]
        print(f"{generator} × {detector}: {r['wall']:.0f} s, peak RSS {gib(r['rss'])}, "
              f"{r['images']} images, model classes {r['model_classes']}", flush=True)
        name = f"fullsize-{'gpu' if settings.device.startswith('cuda') else 'cpu'}{'-quick' if settings.quick else ''}.md"
        write_result(settings.result or RESULTS / name, report(results, costs, builds, settings, classes))


if __name__ == "__main__":
    main()
