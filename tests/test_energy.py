"""The power model: static power over the run, each kernel's dynamic power while busy,
energy per HBM and link byte; every coefficient has a source or is marked an assumption."""

from __future__ import annotations

import dataclasses

import pytest

import spatialsim as ss
from spatialsim.costmodel.power import SOURCES, PowerParams
from spatialsim.errors import UserError


def _energy(**fields):
    rep = ss.simulate(model="gpt2", prompt_len=16, gen_len=4, layers=2, **fields)
    return rep, rep.to_json()["energy"]


def test_every_coefficient_has_a_source_or_is_marked_an_assumption() -> None:
    names = {f.name for f in dataclasses.fields(PowerParams)}
    assert set(SOURCES) == names
    for name, text in SOURCES.items():
        assert text.startswith("assumption") or "20" in text, name  # a cited year


def test_parts_follow_the_run_from_first_principles() -> None:
    rep, e = _energy()
    r = rep.result
    seconds = (r.prefill_cycles + sum(r.token_cycles)) / r.clock_mhz / 1e6
    assert e["by_part_j"]["static"] == pytest.approx(25.0 * seconds, rel=1e-9)
    hbm_bytes = sum(
        c.bytes for st in r.phases.values() for n, c in st.hbm.items() if n.startswith("HBM")
    )
    assert e["by_part_j"]["hbm"] == pytest.approx(hbm_bytes * 8 * 3.9e-12, rel=1e-9)
    assert e["by_part_j"]["links"] == 0.0
    assert e["total_j"] == pytest.approx(sum(e["by_part_j"].values()), rel=1e-12)
    assert e["average_w"] == pytest.approx(e["total_j"] / seconds, rel=1e-9)
    assert e["decode_j_per_token"] == pytest.approx(
        sum(e["by_phase_j"]["decode"].values()) / 4, rel=1e-12
    )


def test_dynamic_power_scales_with_its_coefficients_and_busy_time_only() -> None:
    _, base = _energy()
    _, dsp = _energy(power={"dsp_uw_per_mhz": 16.0})
    assert dsp["by_part_j"]["compute"] > base["by_part_j"]["compute"]
    assert dsp["by_part_j"]["static"] == base["by_part_j"]["static"]
    _, off = _energy(
        power={k: 0.0 for k in ("dsp_uw_per_mhz", "lut_uw_per_mhz", "ff_uw_per_mhz",
                                "bram36_uw_per_mhz", "uram_uw_per_mhz")}
    )  # fmt: skip
    assert off["by_part_j"]["compute"] == 0.0


def test_two_cards_pay_two_static_powers_and_their_links() -> None:
    rep, e = _energy(tp=2)
    r = rep.result
    seconds = (r.prefill_cycles + sum(r.token_cycles)) / r.clock_mhz / 1e6
    assert e["by_part_j"]["static"] == pytest.approx(2 * 25.0 * seconds, rel=1e-9)
    link_bytes = sum(c.bytes for c in r.links.values())
    assert e["by_part_j"]["links"] == pytest.approx(link_bytes * 8 * 35e-12, rel=1e-9)
    assert sum(e["by_card_j"].values()) == pytest.approx(e["total_j"], rel=1e-9)


def test_bad_coefficients_are_refused_naming_them() -> None:
    with pytest.raises(UserError, match="unknown power parameter 'bogus'"):
        ss.RunRequest(power={"bogus": 1.0})
    with pytest.raises(UserError, match="static_w = inf"):
        ss.RunRequest(power={"static_w": float("inf")})
