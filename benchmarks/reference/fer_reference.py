#!/usr/bin/env python3
"""The PyTorch reference of fer's training steps (docs/design.md "Models" and "The method").

Written from docs/design.md and fer's train/trainer.cpp, not from fer's code: the same models
(encoder, decoder, D_img with spectral norm on every weight, D_z, recognizer, identity net), the
same losses and the same Adam optimizers, stage 1 (FESGAN) and stage 2 (joint-rdbp) steps, timed
exactly as `fer bench step` times its own (one random batch reused, warm-up steps, then the
median of timed steps; a step ends with .item() reads of its losses, as fer's does).

    /usr/bin/python3 benchmarks/reference/fer_reference.py --stage 1 --batch 32 --threads 2
    python3 benchmarks/reference/fer_reference.py --stage 2 --device cuda     (TF32 off)

Prints one JSON object with the same keys as `fer bench step --json`. Memory: on the CPU the
growth of the peak resident set (ru_maxrss) from before the models are built to after the last
step, as fer measures itself; on the GPU torch.cuda.max_memory_allocated over the same span.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

SLOPE = 0.2
STAGES = (64, 128, 256, 512)


class Encoder(nn.Module):
    def __init__(self, c, s, d):
        super().__init__()
        layers, cin = [], c
        for i, cout in enumerate(STAGES):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1))
            if i > 0:
                layers.append(nn.InstanceNorm2d(cout, affine=True))
            layers.append(nn.LeakyReLU(SLOPE))
            cin = cout
        layers += [nn.Flatten(), nn.Linear(cin * (s // 16) ** 2, d), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class Decoder(nn.Module):
    def __init__(self, c, s, d, k):
        super().__init__()
        self.k, self.s4 = k, s // 16
        self.project = nn.Linear(d + k, STAGES[-1] * self.s4 ** 2)
        layers, cin = [nn.BatchNorm2d(STAGES[-1]), nn.ReLU()], STAGES[-1]
        for cout in (256, 128, 64):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        layers += [nn.ConvTranspose2d(cin, c, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, code, labels):
        h = self.project(torch.cat([code, F.one_hot(labels, self.k).float()], 1))
        return self.body(h.view(code.shape[0], -1, self.s4, self.s4))


class ImageDiscriminator(nn.Module):
    def __init__(self, c, s, k):
        super().__init__()
        layers, cin = [], c
        for cout in STAGES:
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(SLOPE)]
            cin = cout
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        features = cin * (s // 16) ** 2
        self.adversarial = spectral_norm(nn.Linear(features, 1))
        self.classes = spectral_norm(nn.Linear(features, k))

    def forward(self, x):
        h = self.body(x)
        return self.adversarial(h), self.classes(h)


class LatentDiscriminator(nn.Module):
    def __init__(self, d):
        super().__init__()
        layers, cin = [], d
        for cout in (64, 32, 16):
            layers += [nn.Linear(cin, cout), nn.LeakyReLU(SLOPE)]
            cin = cout
        layers.append(nn.Linear(cin, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        return self.body(z)


def recognizer_body(c):
    layers, cin = [], c
    for cout in (32, 64, 128, 256):
        for conv in range(2):
            layers += [nn.Conv2d(cin if conv == 0 else cout, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU()]
        layers.append(nn.MaxPool2d(2))
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


class Recognizer(nn.Module):
    def __init__(self, c, k, feature_dim=256, dropout=0.5):
        super().__init__()
        self.body = recognizer_body(c)
        self.feature = nn.Linear(256, feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feature_dim, k)

    def forward(self, x):
        f = F.relu(self.feature(self.body(x)))
        return self.classifier(self.dropout(f)), f


class IdentityNet(nn.Module):
    def __init__(self, c, subjects, feature_dim=256):
        super().__init__()
        self.body = recognizer_body(c)
        self.embedding = nn.Linear(256, feature_dim)
        self.head = nn.Linear(feature_dim, subjects)

    def forward(self, x):
        return self.embedding(self.body(x))


class RdbpIntraClass(torch.autograd.Function):
    """L = 1/(2N) [sum_i |f_i - c_{y_i}|^2 + sum_j |s_j - c_{yhat_j}|^2], centers from real features
    only (running centers for classes without a real sample), RDBP gradients (f - c)/N, (s - c)/N."""

    @staticmethod
    def forward(ctx, real, labels, synth, synth_labels, running, seen, momentum):
        k = running.shape[0]
        counts = torch.bincount(labels, minlength=k).to(real.dtype)
        sums = torch.zeros_like(running).index_add_(0, labels, real)
        present = counts > 0
        batch_mean = sums / counts.clamp(min=1).unsqueeze(1)
        first = present & (seen == 0)
        later = present & (seen > 0)
        running[first] = batch_mean[first]
        running[later] = (1 - momentum) * running[later] + momentum * batch_mean[later]
        seen += counts
        centers = torch.where(present.unsqueeze(1), batch_mean, running)
        has = present | (seen > 0)
        feats = torch.cat([real, synth])
        all_labels = torch.cat([labels, synth_labels])
        keep = has[all_labels].to(real.dtype).unsqueeze(1)
        diff = (feats - centers[all_labels]) * keep
        n = keep.sum().clamp(min=1)
        ctx.save_for_backward(diff, n)
        ctx.num_real = real.shape[0]
        return (diff * diff).sum() / (2 * n)

    @staticmethod
    def backward(ctx, grad):
        diff, n = ctx.saved_tensors
        g = grad * diff / n
        return g[: ctx.num_real], None, g[ctx.num_real :], None, None, None, None


def hinge_d(real, fake):
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def logistic(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class Method:
    """Every model and optimizer of stage 1 and stage 2 (joint-rdbp), as fer's FoldTrainer."""

    def __init__(self, device, s=64, c=1, k=7, d=50, subjects=8):
        self.device, self.k, self.d = device, k, d
        self.E = Encoder(c, s, d).to(device)
        self.G = Decoder(c, s, d, k).to(device)
        self.D = ImageDiscriminator(c, s, k).to(device)
        self.Dz = LatentDiscriminator(d).to(device)
        self.R = Recognizer(c, k).to(device)
        self.Id = IdentityNet(c, subjects).to(device)
        self.Id.eval().requires_grad_(False)  # frozen after stage 0
        adam = torch.optim.Adam
        self.opt_eg = adam(list(self.E.parameters()) + list(self.G.parameters()), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_dz = adam(self.Dz.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_r = adam(self.R.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=5e-4)
        self.opt_g = adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.centers = torch.zeros(k, 256, device=device)
        self.seen = torch.zeros(k, device=device)

    def prior(self, n):
        return torch.rand(n, self.d, device=self.device) * 2 - 1

    def labels(self, n):
        return torch.randint(0, self.k, (n,), device=self.device)

    @staticmethod
    def step_on(opt, loss):
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()

    def stage1(self, x, y):
        n = x.shape[0]
        prior, y_hat, y_pf = self.prior(n), self.labels(n), self.labels(n)
        z = self.E(x)
        x_rec, x_hat, x_pf = self.G(z, y), self.G(z, y_hat), self.G(prior, y_pf)
        fakes, fake_labels = torch.cat([x_hat, x_pf]), torch.cat([y_hat, y_pf])
        real_adv, real_cls = self.D(x)
        fake_adv, _ = self.D(fakes.detach())
        loss_d = hinge_d(real_adv, fake_adv) + F.cross_entropy(real_cls, y)
        self.step_on(self.opt_d, loss_d)
        loss_dz = logistic(self.Dz(prior), 1.0) + logistic(self.Dz(z.detach()), 0.0)
        self.step_on(self.opt_dz, loss_dz)
        self.D.requires_grad_(False)
        self.Dz.requires_grad_(False)
        g_adv, g_cls = self.D(fakes)
        adv, cls = -g_adv.mean(), F.cross_entropy(g_cls, fake_labels)
        rec, latent = F.l1_loss(x_rec, x), logistic(self.Dz(z), 1.0)
        with torch.no_grad():
            target = self.Id(x)
        ident = F.l1_loss(self.Id(x_rec), target)
        loss_g = adv + cls + 10 * rec + latent + 5 * ident
        self.D.requires_grad_(True)
        self.Dz.requires_grad_(True)
        self.step_on(self.opt_eg, loss_g)
        return [loss_g.item(), loss_d.item(), loss_dz.item(), adv.item(), cls.item(), rec.item(), latent.item(),
                ident.item()]

    def stage2(self, x, y):
        logits, feature = self.R(x)
        ce_real = F.cross_entropy(logits, y)
        m = x.shape[0]
        prior, y_s = self.prior(m), self.labels(m)
        synthetic = self.G(prior, y_s)
        s_logits, s_feature = self.R(synthetic)
        ce_synth = F.cross_entropy(s_logits, y_s)
        intra = RdbpIntraClass.apply(feature, y, s_feature, y_s, self.centers, self.seen, 0.1)
        self.D.requires_grad_(False)
        d_adv, d_cls = self.D(synthetic)
        self.D.requires_grad_(True)
        g_adv, g_cls = -d_adv.mean(), F.cross_entropy(d_cls, y_s)
        total = ce_real + ce_synth + 0.1 * intra + g_adv + g_cls
        self.opt_r.zero_grad(set_to_none=False)
        self.opt_g.zero_grad(set_to_none=False)
        total.backward()
        self.opt_r.step()
        out = [total.item(), ce_real.item(), ce_synth.item(), intra.item()]
        self.opt_g.step()
        real_adv, real_cls = self.D(x)
        fake_adv, _ = self.D(synthetic.detach())
        loss_d = hinge_d(real_adv, fake_adv) + F.cross_entropy(real_cls, y)
        self.step_on(self.opt_d, loss_d)
        return out + [g_adv.item(), g_cls.item(), loss_d.item()]


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stage", type=int, choices=(1, 2), required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave torch's default)")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cuda = a.device.startswith("cuda")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    rss_before = peak_rss_bytes()
    method = Method(a.device)
    x = torch.rand(a.batch, 1, 64, 64, device=a.device) * 2 - 1
    y = torch.arange(a.batch, device=a.device) % 7
    step = method.stage1 if a.stage == 1 else method.stage2
    for _ in range(a.warmup):
        step(x, y)
    wall, cpu = [], []
    for _ in range(a.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        step(x, y)
        if cuda:
            torch.cuda.synchronize()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - cpu_start) * 1e3)
    median = statistics.median_high(wall)  # fer takes the upper median too (element n/2)
    out = {"stage": a.stage, "batch": a.batch, "device": a.device, "steps": a.steps, "warmup": a.warmup,
           "image_size": 64, "threads": torch.get_num_threads(), "median_ms": median, "min_ms": min(wall),
           "max_ms": max(wall), "median_cpu_ms": statistics.median_high(cpu), "images_per_s": a.batch / (median / 1e3),
           "torch": torch.__version__}
    if cuda:
        out.update(peak_memory_bytes=torch.cuda.max_memory_allocated(), memory_measure="device_peak_allocated")
    else:
        out.update(peak_memory_bytes=peak_rss_bytes() - rss_before, memory_measure="peak_rss_growth")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
