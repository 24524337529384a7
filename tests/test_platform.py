"""Platform files: U280 facts of chen2024.md §5, sources for every number, user files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from spatialsim.errors import UserError
from spatialsim.hardware import BUILTIN_PLATFORMS, get_platform
from spatialsim.hardware.platform import builtin_platform_text


def test_u280_matches_the_reference() -> None:
    p = get_platform("u280")
    assert p.part == "xcu280-fsvh2892-2L-e" and len(p.slrs) == 3
    assert p.total("dsp") == 9024 and p.total("lut") == 1303680 and p.total("ff") == 2607360
    assert p.total("bram36") == 2016 and p.total("uram") == 960
    assert [s.dsp for s in p.slrs] == [2880, 3072, 3072]
    assert p.hbm is not None and p.hbm.channels == 32 and p.hbm.channel_mb == 256
    assert p.hbm.peak_bw_gbps * p.hbm.channels == pytest.approx(460, rel=0.001)
    # UG1393 quotes 460 GB/s / 32 = 14.375; the port rate 256 b x 450 MHz is 14.4
    assert p.hbm.peak_bw_gbps == pytest.approx(
        p.hbm.port_bits / 8 * p.hbm.axi_clock_mhz / 1e3, rel=0.002
    )
    assert p.hbm.read_bw_gbps == 13.2 and p.hbm.all_read_bw_gbps == 421.6
    # Shuhai latencies are quoted in 450 MHz cycles: 48 / 55 / 62, switch +7, far 77
    cyc = 1e3 / p.hbm.axi_clock_mhz
    for ns, cycles in (
        (p.hbm.latency_ns, 48),
        (p.hbm.page_closed_latency_ns, 55),
        (p.hbm.page_miss_latency_ns, 62),
        (p.hbm.switch_penalty_ns, 7),
        (p.hbm.far_latency_ns, 77),
    ):
        assert ns == pytest.approx(cycles * cyc, abs=0.1)
    assert p.ddr is not None and p.ddr.channels == 2 and p.ddr.read_bw_gbps == 17.94
    assert p.links.ports == 2 and p.links.port_gbitps == 100
    assert p.memory_channels() == {"HBM": 32, "DDR": 2}


def test_vck5000_counts_ai_engines_at_the_fabric_clock() -> None:
    p = get_platform("vck5000")
    aie = 400 * 128 * 1000 / 250  # chen2024.md: 204,800 MAC/cycle at 250 MHz
    assert p.fabric_macs_per_cycle(1, 250.0) == pytest.approx(aie + 1968)


def _leaves(data: object, prefix: str = "") -> list[str]:
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k != "sources":
                out += _leaves(v, f"{prefix}{k}." if prefix or k else k)
    elif isinstance(data, list):
        for item in data:
            out += _leaves(item, prefix)
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out.append(prefix.rstrip("."))
    return out


@pytest.mark.parametrize("name", BUILTIN_PLATFORMS)
def test_every_number_says_where_it_came_from(name: str) -> None:
    data = tomllib.loads(builtin_platform_text(name))
    sources = data["sources"]
    for leaf in _leaves(data):
        key = leaf.replace("slr.", "slr.", 1)
        table = key.split(".")[0]
        assert key in sources or table in sources, f"{name}: {leaf} has no source"
    get_platform(name)  # and it loads


def test_user_platform_file(tmp_path: Path) -> None:
    text = builtin_platform_text("u280").replace('name = "u280"', 'name = "my-card"')
    text = text.replace("channels = 32", "channels = 16")
    path = tmp_path / "card.toml"
    path.write_text(text)
    p = get_platform(str(path))
    assert p.name == "my-card" and p.hbm is not None and p.hbm.channels == 16


@pytest.mark.parametrize(
    "edit, message",
    [
        (("channels = 32", "channels = 32\nchanels = 4"), "unknown key platform.hbm.chanels"),
        (
            ("port_bits = 256", "port_bits = -256"),
            "hbm.port_bits must be a number from 8 to 4096 bits, got -256",
        ),
        (("dsp = 2880", 'dsp = "many"'), "platform.slrs[0].dsp must be an integer"),
        (("lanes = 16\n", ""), "missing key platform.pcie.lanes"),
        (("[pcie]", "[pcie"), "not valid TOML"),
    ],
)
def test_bad_platform_files(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(builtin_platform_text("u280").replace(*edit, 1))
    with pytest.raises(UserError) as err:
        get_platform(str(path))
    assert str(path) in str(err.value) and message in str(err.value)
