"""The networks and losses of the dcgan, wgan and improved plugins."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.optim import Stepper
from ganzoo.registry import registry

# (H, W): 32, 64, 96 (the paper's anime faces) and 128x160 W x H (the paper's CelebA)
SIZES = [(32, 32), (64, 64), (96, 96), (160, 128)]
IDS = ["32", "64", "96", "128x160"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The networks here are tiny: intra-op threads only add synchronisation, which costs seconds
    # per forward pass when the cores are shared with other processes.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(kind: str, name: str, size, **args) -> nn.Module:
    return registry().build(kind, name, size=size, channels=3, **args)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv(cin: int, cout: int, k: int, bias: bool = False) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def batch_norm(c: int) -> int:
    return 2 * c


# shapes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_dcgan_shapes(size):
    gen = build("generators", "dcgan-generator", size, width=8)
    disc = build("discriminators", "dcgan-discriminator", size, width=8)
    critic = build("discriminators", "wgan-critic", size, width=8, norm="layer")
    images = gen(torch.randn(2, gen.latent_dim))
    assert images.shape == (2, 3, *size)
    assert disc(images).shape == (2,)
    assert critic(images).shape == (2,)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
@pytest.mark.parametrize("name", ["improved-generator", "improved-timm-generator"])
def test_improved_generator_shapes_and_bottleneck(name, size):
    gen = build("generators", name, size, width=8)
    assert gen.latent_dim is None
    x = torch.rand(2, 3, *size) * 2 - 1
    features = gen.encode(x)
    height, width = size
    expected = [(height // 2**i, width // 2**i) for i in (1, 2, 3, 4)]
    assert [tuple(f.shape[-2:]) for f in features] == expected
    # the paper: "the size of the feature map will be 1/16 of the original image"
    assert features[-1].shape[-2:] == (height // 16, width // 16)
    assert gen(x).shape == x.shape


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_patchgan_shapes(size):
    disc = build("discriminators", "patchgan70", size, width=8)
    # three stride-2 4x4 convs halve an even side; the two stride-1 4x4 convs take 1 each
    expected = tuple(side // 8 - 2 for side in size)
    assert disc(torch.randn(2, 3, *size)).shape == (2, 1, *expected)


def test_create_uses_the_networks_at_the_papers_sizes():
    model = ganzoo.create("dcgan", size="128x160", generator_args={"width": 8})
    assert model.sample(2, seed=0).shape == (2, 3, 160, 128)
    model = ganzoo.create(
        "improved", size=96, generator_args={"width": 8}, discriminator_args={"width": 8}
    )
    assert model.translate(torch.rand(1, 3, 96, 96)).shape == (1, 3, 96, 96)


@pytest.mark.parametrize(
    "kind, name, size",
    [
        ("generators", "dcgan-generator", (37, 37)),  # a prime side
        ("discriminators", "dcgan-discriminator", (100, 100)),  # 25 * 4: base map 25x25
        ("generators", "improved-generator", (40, 40)),  # not divisible by 16
        ("generators", "improved-timm-generator", (48, 72)),
        ("discriminators", "patchgan70", (16, 16)),
    ],
)
def test_unworkable_sizes_fail_in_one_line(kind, name, size):
    with pytest.raises(GanzooError) as info:
        build(kind, name, size)
    assert "\n" not in str(info.value)


def test_unknown_norm_fails():
    with pytest.raises(GanzooError, match="norm"):
        build("discriminators", "wgan-critic", (32, 32), norm="spectral")


# parameter counts ------------------------------------------------------------------------------
def test_minibatch_std_channel_is_the_spread_within_each_group():
    from ganzoo_dcgan.networks import MinibatchStd

    x = torch.randn(4, 3, 2, 2)
    x[2] = x[0]  # groups of 2 pair image i with image i + 2
    out = MinibatchStd(2)(x)
    assert out.shape == (4, 4, 2, 2) and torch.equal(out[:, :3], x)
    assert torch.all(out[[0, 2], 3] == 0)  # identical images: no spread
    spread = ((x[1] - x[3]).abs() / 2).mean()
    assert torch.allclose(out[[1, 3], 3], spread.expand(2, 2, 2))
    # a batch that the group does not divide uses the largest group that does
    assert MinibatchStd(4)(torch.randn(6, 3, 2, 2)).shape == (6, 4, 2, 2)


def test_dcgan_discriminator_with_minibatch_std_trains():
    gan = ganzoo.create("dcgan", size=32, batch_size=6, discriminator_args={"minibatch_std": 4})
    assert gan.discriminator(torch.randn(6, 3, 32, 32)).shape == (6,)
    stepper = Stepper(gan.configure_optimizers(), torch.device("cpu"), "fp32")
    before = [p.clone() for p in gan.discriminator.parameters()]
    gan.train_step({"target": torch.rand(6, 3, 32, 32) * 2 - 1}, 0, stepper)
    assert all(
        not torch.equal(a, b) for a, b in zip(before, gan.discriminator.parameters(), strict=True)
    )
    with pytest.raises(GanzooError, match="minibatch_std"):
        ganzoo.create("dcgan", size=32, discriminator_args={"minibatch_std": 1})


def test_packed_discriminator_scores_each_pack_of_images_together():
    disc = build("discriminators", "dcgan-discriminator", (32, 32), width=8, pack=2)
    disc.eval()  # batch norm from running statistics: each pack is scored on its own
    x = torch.randn(6, 3, 32, 32)
    scores = disc(x)
    assert scores.shape == (3,)
    y = x.clone()
    y[1] = torch.randn(3, 32, 32)  # the second image of the first pack
    changed = disc(y) != scores
    assert changed.tolist() == [True, False, False]
    with pytest.raises(GanzooError, match="packs of 2"):
        disc(torch.randn(5, 3, 32, 32))
    with pytest.raises(GanzooError, match="pack"):
        build("discriminators", "dcgan-discriminator", (32, 32), pack=0)


def test_dcgan_64_parameter_counts():
    # generator: 100 -> 512 (4x4 projection) -> 256 -> 128 -> 64 -> 3, BN after all but the last
    expected_g = (
        conv(100, 512, 4)
        + batch_norm(512)
        + conv(512, 256, 4)
        + batch_norm(256)
        + conv(256, 128, 4)
        + batch_norm(128)
        + conv(128, 64, 4)
        + batch_norm(64)
        + conv(64, 3, 4, bias=True)
    )
    # discriminator: 3 -> 64 (no BN, bias) -> 128 -> 256 -> 512 -> 1 (4x4 kernel, bias)
    expected_d = (
        conv(3, 64, 4, bias=True)
        + conv(64, 128, 4)
        + batch_norm(128)
        + conv(128, 256, 4)
        + batch_norm(256)
        + conv(256, 512, 4)
        + batch_norm(512)
        + conv(512, 1, 4, bias=True)
    )
    assert count(build("generators", "dcgan-generator", (64, 64))) == expected_g == 3_576_707
    assert count(build("discriminators", "dcgan-discriminator", (64, 64))) == expected_d
    assert expected_d == 2_765_633


def improved_encoder_count(w: int) -> int:
    def block(cin: int, c: int) -> int:
        # conv3x3, conv3x3, then the 1x1 merge of the concatenation; IN has no params
        return conv(cin, c, 3) + conv(c, c, 3) + conv(c + cin, c, 1)

    stem = conv(3, w, 7)
    widths = [w, 2 * w, 4 * w, 8 * w]
    layers = 0
    cin = w
    for c in widths:
        layers += block(cin, c) + block(c, c)
        cin = c
    return stem + layers


def improved_decoder_count(w: int) -> int:
    stages = conv(8 * w, 4 * w, 3) + conv(4 * w, 2 * w, 3) + conv(2 * w, w, 3)
    return stages + 2 * conv(w, w, 1) + conv(w, 3, 7, bias=True)


def test_improved_generator_parameter_counts():
    for width in (64, 32):
        gen = build("generators", "improved-generator", (64, 64), width=width)
        expected = improved_encoder_count(width) + improved_decoder_count(width)
        assert count(gen) == expected
    # ResNet-18 without its classifier has 11,176,512 parameters; our encoder is 9% larger
    # (the 1x1 merge convolutions), and the whole generator 13,781,379 at width 64.
    assert improved_encoder_count(64) == 12_215_488
    assert 1.0 < improved_encoder_count(64) / 11_176_512 < 1.15
    assert improved_encoder_count(64) + improved_decoder_count(64) == 13_781_379


def test_patchgan_parameter_count():
    for w in (64, 32):
        expected = (
            conv(3, w, 4, bias=True)
            + conv(w, w, 1)
            + conv(w, 2 * w, 4)
            + conv(2 * w, 2 * w, 1)
            + conv(2 * w, 4 * w, 4)
            + conv(4 * w, 4 * w, 1)
            + conv(4 * w, 8 * w, 4)
            + conv(8 * w, 1, 4, bias=True)
        )
        assert count(build("discriminators", "patchgan70", (64, 64), width=w)) == expected
    assert count(build("discriminators", "patchgan70", (64, 64))) == 2_849_857


# generator outputs -----------------------------------------------------------------------------
def test_generator_outputs_are_in_range():
    gen = build("generators", "dcgan-generator", (32, 32), width=8)
    assert gen(10 * torch.randn(8, 100)).abs().max() <= 1
    for name in ("improved-generator", "improved-timm-generator"):
        gen = build("generators", name, (32, 32), width=8)
        assert gen(torch.rand(2, 3, 32, 32) * 4 - 2).abs().max() <= 1


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_improved_generator_layout_switches_change_no_result(monkeypatch, layout):
    # the pools, upsamples and output convolution run channels-last for speed on CPU; the
    # outputs and gradients must be those of the plain operations, whatever the model's layout
    import ganzoo_improved.networks as networks

    torch.manual_seed(0)
    gen = build("generators", "improved-generator", (32, 32), width=8, stem_skip=True)
    gen = gen.to(memory_format=layout)
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).contiguous(memory_format=layout).requires_grad_()

    def run():
        gen.zero_grad()
        x.grad = None
        y = gen(x)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        return y.detach(), x.grad, [p.grad.clone() for p in gen.parameters()]

    fast = run()
    monkeypatch.setattr(networks, "channels_last", lambda op, t: op(t))
    plain = run()
    torch.testing.assert_close(fast[0], plain[0], rtol=1e-4, atol=1e-5)
    for a, b in zip([fast[1], *fast[2]], [plain[1], *plain[2]], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3 * b.abs().max().item())


def test_improved_decoder_skips_are_not_drowned_out():
    # The decoder adds each encoder map to an upsampled, normalised deeper map. At initialisation
    # the skip must be of the same order as that map, or the decoder ignores the input's layout
    # (an un-normalised merge conv left the skips ten times weaker and the translations blank).
    from ganzoo_improved.networks import upsample

    torch.manual_seed(0)
    gen = build("generators", "improved-generator", (32, 32), width=16)
    features = gen.encode(torch.rand(4, 3, 32, 32) * 2 - 1)
    x = features[-1]
    for stage, skip in zip(gen.decoder.stages, features[-2::-1], strict=True):
        deep = upsample(stage(x), skip.shape[-2:])
        assert skip.std() > 0.5 * deep.std()
        x = deep + skip


# the PatchGAN's receptive field ----------------------------------------------------------------
def test_patchgan_receptive_field_from_layers():
    disc = build("discriminators", "patchgan70", (64, 64), width=8)
    field, jump = 1, 1
    for module in disc.modules():
        if isinstance(module, nn.Conv2d):
            field += (module.kernel_size[0] - 1) * jump
            jump *= module.stride[0]
    assert field == 70


def test_patchgan_receptive_field_empirically():
    disc = build("discriminators", "patchgan70", (128, 128), width=8).double()
    # Instance norm's statistics span the whole map, so with it every score depends a little on
    # every pixel; the 70x70 field is the convolutions', which we isolate.
    for name, module in list(disc.net.named_children()):
        if isinstance(module, nn.InstanceNorm2d):
            disc.net[int(name)] = nn.Identity()
    x = torch.randn(1, 3, 128, 128, dtype=torch.float64, requires_grad=True)
    scores = disc(x)
    assert scores.shape[-2:] == (14, 14)
    (grad,) = torch.autograd.grad(scores[0, 0, 7, 7], x)
    rows = grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
    cols = grad.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
    # output 7 sees input 7 * 8 - 23 (strides 8 in all, padding 1 on five 4x4 convs)
    assert (rows.min().item(), rows.max().item()) == (33, 102)
    assert (cols.min().item(), cols.max().item()) == (33, 102)


# losses ----------------------------------------------------------------------------------------
def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_bce_loss_values():
    loss = registry().build("losses", "bce")
    real = torch.tensor([2.0, -1.0, 0.0])
    fake = torch.tensor([0.5, -3.0, 4.0])
    # -log(sigmoid(v)) = softplus(-v), -log(1 - sigmoid(v)) = softplus(v)
    expected_d = (
        sum(softplus(-v) for v in real.tolist()) / 3 + sum(softplus(v) for v in fake.tolist()) / 3
    )
    expected_g = sum(softplus(-v) for v in fake.tolist()) / 3
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert loss.generator_loss(fake).item() == pytest.approx(expected_g, rel=1e-6)
    torch.testing.assert_close(
        loss.discriminator_loss(real, fake),
        F.binary_cross_entropy(torch.sigmoid(real), torch.ones(3))
        + F.binary_cross_entropy(torch.sigmoid(fake), torch.zeros(3)),
    )


def test_least_squares_loss_values_and_use_by_any_model(tmp_path):
    loss = registry().build("losses", "least-squares")
    real = torch.tensor([1.0, 0.0, 3.0])
    fake = torch.tensor([0.0, 1.0, -1.0])
    # D: ((r - 1)^2 mean + f^2 mean) / 2; G: (f - 1)^2 mean
    assert loss.discriminator_loss(real, fake).item() == pytest.approx((5 / 3 + 2 / 3) / 2)
    assert loss.generator_loss(fake).item() == pytest.approx(5 / 3)
    assert loss.penalty(None, real, fake) is None
    # a plain loss: the translator trains with it as CycleGAN does
    gan = ganzoo.create(
        "improved",
        size=32,
        loss="least-squares",
        generator_args={"width": 8},
        discriminator_args={"width": 8},
    )
    assert type(gan.loss).__name__ == "LeastSquaresLoss"


def test_wasserstein_loss_values():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5, 0.0, 0.5])
    for name in ("wasserstein-clip", "wasserstein-gp"):
        loss = registry().build("losses", name)
        assert loss.discriminator_loss(real, fake).item() == pytest.approx(-2.25)
        assert loss.generator_loss(fake).item() == pytest.approx(0.25)


def test_weight_clipping_bounds_the_critic_after_a_training_step():
    model = ganzoo.create(
        "wgan", size=32, generator_args={"width": 8}, discriminator_args={"width": 8}
    )
    clip = model.loss.clip_value
    assert clip == 0.01
    # N(0, 0.02) weights and N(1, 0.02) batch-norm gains start well outside the bound
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) > clip
    stepper = Stepper(model.configure_optimizers(), torch.device("cpu"), "fp32")
    model.train_step({"target": torch.rand(4, 3, 32, 32) * 2 - 1}, 0, stepper)
    for param in model.discriminator.parameters():
        assert param.abs().max().item() <= clip
    assert any((p.abs() == clip).any() for p in model.discriminator.parameters())


def test_gradient_penalty_matches_autograd():
    loss = registry().build("losses", "wasserstein-gp")
    critic = build("discriminators", "wgan-critic", (32, 32), width=8, norm="layer")
    real, fake = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    torch.manual_seed(7)
    penalty = loss.penalty(critic, real, fake)

    torch.manual_seed(7)
    e = torch.rand(4, 1, 1, 1)
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    expected = 10.0 * ((grad.reshape(4, -1).norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(penalty, expected)

    # create_graph: the penalty trains the critic
    penalty.backward()
    assert critic.net[0].weight.grad.abs().sum() > 0


def test_gradient_penalty_of_a_linear_critic():
    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.full((3, 4, 4), 0.25))  # ||a|| = 0.25 * sqrt(48)

        def forward(self, x):
            return (x * self.a).flatten(1).sum(1)

    loss = registry().build("losses", "wasserstein-gp", gp_lambda=2.0)
    penalty = loss.penalty(Linear(), torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4))
    full = 2.0 * (0.25 * math.sqrt(48) - 1) ** 2
    assert penalty.item() == pytest.approx(full, rel=1e-5)

    # lazy: on about one step in four, four times as heavy, so the same on average
    lazy = registry().build("losses", "wasserstein-gp", gp_lambda=2.0, gp_every=4)
    torch.manual_seed(0)
    draws = [
        lazy.penalty(Linear(), torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)) for _ in range(400)
    ]
    taken = [p.item() for p in draws if p is not None]
    assert 70 <= len(taken) <= 130
    assert taken == pytest.approx([4 * full] * len(taken), rel=1e-5)
    with pytest.raises(GanzooError, match="gp_every"):
        registry().build("losses", "wasserstein-gp", gp_every=0)


@pytest.mark.parametrize("name", ["bce", "least-squares"])
def test_r1_penalty_of_a_linear_discriminator(name):
    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.full((3, 4, 4), 0.25))  # ||a||^2 = 48 / 16 = 3

        def forward(self, x):
            return (x * self.a).flatten(1).sum(1)

    assert registry().build("losses", name).penalty(Linear(), None, None) is None  # off
    disc = Linear()
    loss = registry().build("losses", name, r1_gamma=2.0)
    penalty = loss.penalty(disc, torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4))
    assert penalty.item() == pytest.approx(2.0 / 2 * 3.0)
    penalty.backward()  # it trains the discriminator: d/da (gamma / 2 ||a||^2) = gamma a
    torch.testing.assert_close(disc.a.grad, torch.full((3, 4, 4), 0.5))
    with pytest.raises(GanzooError, match="r1_gamma"):
        registry().build("losses", name, r1_gamma=-1.0)


def test_spectral_norm_bounds_every_discriminator_layer():
    def largest_singular_values(disc):
        convs = [m for m in disc.net if isinstance(m, nn.Conv2d)]
        return torch.stack([torch.linalg.matrix_norm(m.weight.flatten(1), 2) for m in convs])

    plain = build("discriminators", "dcgan-discriminator", (32, 32), width=8, norm="none")
    assert torch.all(largest_singular_values(plain) < 0.5)  # N(0, 0.02) weights
    disc = build(
        "discriminators", "dcgan-discriminator", (32, 32), width=8, norm="none", spectral_norm=True
    )
    with torch.no_grad():
        for _ in range(30):  # one power iteration per forward pass in training mode
            disc(torch.randn(2, 3, 32, 32))
        disc.eval()
        torch.testing.assert_close(largest_singular_values(disc), torch.ones(4), atol=0.02, rtol=0)


def test_gradient_penalty_refuses_batch_norm():
    loss = registry().build("losses", "wasserstein-gp")
    critic = build("discriminators", "wgan-critic", (32, 32), width=8)
    with pytest.raises(GanzooError, match="batch norm"):
        loss.penalty(critic, torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))


# one training step of each model ---------------------------------------------------------------
@pytest.mark.parametrize(
    "name, overrides, domains, batch_size",
    [
        ("dcgan", {}, ("target",), 4),
        ("wgan", {"n_critic": 1}, ("target",), 4),
        (
            "improved",
            {"generator_args": {"width": 8}, "discriminator_args": {"width": 8}},
            ("source", "target"),
            2,
        ),
    ],
)
def test_one_train_step_changes_the_generator(name, overrides, domains, batch_size):
    torch.manual_seed(0)
    model = ganzoo.create(name, size=32, **overrides)
    stepper = Stepper(model.configure_optimizers(), torch.device("cpu"), "fp32")
    batch = {role: torch.rand(batch_size, 3, 32, 32) * 2 - 1 for role in domains}
    before = [p.detach().clone() for p in model.generator.parameters()]
    logs = model.train_step(batch, 0, stepper)
    assert set(logs) == set(model.log_keys)
    assert all(torch.isfinite(v) for v in logs.values())
    after = model.generator.parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
