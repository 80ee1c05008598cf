"""The DCLS network of configs/dcls_shd.yaml in PyTorch, built on the `dcls` package.

Run by `python -m bench.dcls_speed` in the peer venv (`bench/setup_dcls_peer.sh`:
Python 3.11, torch 2.13.0 CPU, `dcls`), never imported by brainsim. Prints one
`RESULT {json}` line: seconds per training batch (forward, backward, optimiser step),
timed after `--warmup` batches.

The network mirrors `brainsim.models._dcls.DCLSNet` layer for layer. Per layer: one step
of transmission (the input shifted by one step), a causal `Dcls1d` delay convolution
(one weight per synapse at a learnable position inside `--taps` taps, Gaussian spread,
no bias; the input left-padded by `taps - 1` so the sequence keeps its length) ->
`BatchNorm1d` -> LIF (`v <- (1 - dt/tau) v + (dt/tau) I`, threshold 1, hard reset to 0
with the reset detached, arctan surrogate of slope `alpha = 5`) -> dropout 0.4 on the
spikes. The output layer is a delay convolution into LIF neurons that never spike; the
loss is the cross-entropy of `sum_t softmax(V_out[t])`.

Optimisers as the paper's code: weights and batch norm by Adam with weight decay 1e-5
under a one-cycle schedule (1e-3 to 5e-3), positions by Adam at 0.1 under cosine
decay, then clamped into the kernel; the Gaussian widths are not trained (set once to
`taps // 2`, as at the start of training).
"""

import argparse
import json
import math
import os
import platform
import time

import torch
import torch.nn.functional as F
from DCLS.construct.modules import Dcls1d
from torch import nn


class ArctanSpike(torch.autograd.Function):
    """Heaviside forward; backward `alpha / (2 (1 + (pi alpha x / 2)^2))`."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        return grad * a / (2.0 * (1.0 + (math.pi * a * x / 2.0) ** 2)), None


def lif(currents: torch.Tensor, decay: float, threshold: float, alpha: float):
    """Forward-Euler LIF over `(T, B, n)` currents: `(potentials, spikes)`, both `(T, B, n)`."""
    v = torch.zeros_like(currents[0])
    vs, spikes = [], []
    for i_t in currents:
        v = decay * v + (1.0 - decay) * i_t
        s = ArctanSpike.apply(v - threshold, alpha)
        vs.append(v)
        spikes.append(s)
        v = v * (1.0 - s.detach())  # hard reset to 0, no gradient through the reset
    return torch.stack(vs), torch.stack(spikes)


class DCLSTorch(nn.Module):
    def __init__(self, sizes, taps, decay, dropout, alpha):
        super().__init__()
        self.taps, self.decay, self.alpha = taps, decay, alpha
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for c_in, c_out in zip(sizes[:-1], sizes[1:]):
            conv = Dcls1d(
                c_in, c_out, kernel_count=1, dilated_kernel_size=taps, bias=False, version="gauss"
            )
            lim = taps // 2
            with torch.no_grad():
                bound = math.sqrt(6.0 / c_in)  # Kaiming uniform, as brainsim's DCLSNet
                conv.weight.uniform_(-bound, bound)
                conv.P.uniform_(-lim, lim)  # random delays over the whole kernel
                conv.SIG.fill_(float(lim))
            conv.SIG.requires_grad_(False)
            self.convs.append(conv)
        for c_out in sizes[1:-1]:
            self.norms.append(nn.BatchNorm1d(c_out, momentum=0.1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        """`x` `(B, T, C_in)` -> output potentials `(T, B, classes)`."""
        s = x.transpose(1, 2)  # (B, C, T)
        for i, conv in enumerate(self.convs):
            s = F.pad(s, (1, 0))[..., :-1]  # one step of transmission
            y = conv(F.pad(s, (self.taps - 1, 0)))  # causal: (B, C_out, T)
            last = i == len(self.convs) - 1
            if not last:
                y = self.norms[i](y)
            v, spikes = lif(y.permute(2, 0, 1), self.decay, 1e9 if last else 1.0, self.alpha)
            if last:
                return v
            s = self.dropout(spikes).permute(1, 2, 0)
        raise AssertionError("unreachable")


def check(path_in: str, path_out: str) -> None:
    """Loss, output potentials and gradients of the network whose parameters `path_in` holds
    (brainsim's layout: weights and delays `(C_in, C_out)`, delays in steps), in float64,
    train mode without dropout; written to `path_out` in brainsim's layout."""
    import numpy as np

    data = np.load(path_in)
    n_layers, taps = int(data["n_layers"]), int(data["taps"])
    sizes = [data["w0"].shape[0]] + [data[f"w{i}"].shape[1] for i in range(n_layers)]
    torch.manual_seed(0)
    model = DCLSTorch(sizes, taps, 1.0 - 1.0 / float(data["tau_steps"]), 0.0, 5.0).double()
    lim = taps // 2
    with torch.no_grad():
        for i, conv in enumerate(model.convs):
            w = torch.from_numpy(data[f"w{i}"].T.copy())  # (C_out, C_in)
            conv.weight.copy_(w[..., None])
            # brainsim delay d <-> dcls tap (taps - 1 - d) <-> position P = tap - taps // 2
            conv.P.copy_(torch.from_numpy((taps - 1 - data[f"d{i}"].T) - lim)[None, ..., None])
            conv.SIG.fill_(float(data["sigma"]))
        for i, norm in enumerate(model.norms):
            norm.weight.copy_(torch.from_numpy(data[f"bn_scale{i}"]))
            norm.bias.copy_(torch.from_numpy(data[f"bn_shift{i}"]))
    model.train()
    x = torch.from_numpy(data["x"])
    v = model(x)  # (T, B, classes)
    loss = F.cross_entropy(torch.softmax(v, dim=-1).sum(0), torch.from_numpy(data["y"]).long())
    loss.backward()
    out = {"loss": loss.item(), "v": v.detach().permute(1, 0, 2).numpy()}
    for i, conv in enumerate(model.convs):
        out[f"gw{i}"] = conv.weight.grad[..., 0].T.numpy()
        out[f"gd{i}"] = -conv.P.grad[0, ..., 0].T.numpy()  # d = taps - 1 - lim - P
    np.savez(path_out, **out)
    print("RESULT " + json.dumps({"side": "pytorch-dcls", "check": path_out}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=139, help="steps per sample, padding included")
    p.add_argument("--channels", type=int, default=140)
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    p.add_argument("--classes", type=int, default=20)
    p.add_argument("--taps", type=int, default=25)
    p.add_argument("--density", type=float, default=0.015)
    p.add_argument("--active-steps", type=int, default=100, help="steps that carry spikes")
    p.add_argument("--tau-steps", type=float, default=1.005, help="tau_m / dt")
    p.add_argument("--epochs", type=int, default=150, help="for the schedules only")
    p.add_argument("--steps-per-epoch", type=int, default=31)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check-in", help="cross-check: parameters and input (npz) from brainsim")
    p.add_argument("--check-out", help="cross-check: where to write loss, potentials, gradients")
    args = p.parse_args()
    if args.check_in:
        check(args.check_in, args.check_out)
        return
    if args.batches < 1 or args.warmup < 0:
        raise SystemExit("--batches must be >= 1 and --warmup >= 0")

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    sizes = (args.channels, *args.hidden, args.classes)
    model = DCLSTorch(sizes, args.taps, 1.0 - 1.0 / args.tau_steps, 0.4, 5.0).to(device)
    positions = [c.P for c in model.convs]
    others = [q for n, q in model.named_parameters() if not n.endswith(".P") and q.requires_grad]
    total = args.epochs * args.steps_per_epoch
    opt_w = torch.optim.Adam(others, lr=1e-3, weight_decay=1e-5)
    opt_p = torch.optim.Adam(positions, lr=0.1)
    sched_w = torch.optim.lr_scheduler.OneCycleLR(opt_w, max_lr=5e-3, total_steps=total)
    sched_p = torch.optim.lr_scheduler.CosineAnnealingLR(opt_p, T_max=total)

    n = args.warmup + args.batches
    gen = torch.Generator().manual_seed(args.seed + 1)
    shape = (args.batch_size, args.steps, args.channels)
    xs, ys = [], []
    for _ in range(n):
        x = (torch.rand(shape, generator=gen) < args.density).float()
        x[:, args.active_steps :] = 0.0  # the padding after the recording
        xs.append(x.to(device))
        ys.append(torch.randint(0, args.classes, (args.batch_size,), generator=gen).to(device))

    def step(x, y):
        model.train()
        opt_w.zero_grad(set_to_none=True)
        opt_p.zero_grad(set_to_none=True)
        v = model(x)
        logits = torch.softmax(v, dim=-1).sum(0)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        opt_w.step()
        opt_p.step()
        sched_w.step()
        sched_p.step()
        for conv in model.convs:
            conv.clamp_parameters()
        return loss.item()  # a host read per batch, as brainsim's `fit` does

    times, losses = [], []
    for i in range(n):
        if device.type == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        losses.append(step(xs[i], ys[i]))
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tic)
    timed = times[args.warmup :]
    result = {
        "side": "pytorch-dcls",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
        "cpus": len(os.sched_getaffinity(0)),
        "params": sum(q.numel() for q in model.parameters() if q.requires_grad),
        "batches": args.batches,
        "warmup_batches": args.warmup,
        "warmup_s": round(sum(times[: args.warmup]), 4),
        "batch_s": sum(timed) / len(timed),
        "batch_s_min": min(timed),
        "input_density": float(sum(float(x[:, : args.active_steps].mean()) for x in xs) / n),
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
