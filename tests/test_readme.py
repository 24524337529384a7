"""README's paths, ignores and stated limits. (That every command of README prints what it
quotes, the demo summary and the validation table included, is tests/test_docs_run.py's.)"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_file_the_readme_names_exists() -> None:
    """Paths in README's command examples are in the repository; files the reader makes
    are introduced as theirs."""
    import glob
    import re

    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    paths = {
        p
        for b in blocks
        for p in re.findall(r"(?<![\w/.-])((?:traces|docs|examples|hw_kernels)/[\w./*-]+)", b)
    }
    assert any(p.startswith("traces/") for p in paths)
    assert any(p.startswith("examples/vitis_reports/") for p in paths)
    for p in sorted(paths):
        assert glob.glob(str(ROOT / p)), f"README names {p}, which does not exist"


def test_the_demo_folder_and_hypothesis_cache_are_ignored() -> None:
    from spatialsim.cli.run import DEMO_OUT

    ignored = (ROOT / ".gitignore").read_text().split()
    assert f"{DEMO_OUT}/" in ignored and ".hypothesis/" in ignored


def test_the_llama_context_limits_the_readme_states() -> None:
    """LLaMA-2-7B fits 608 tokens per card and not 609, LLaMA-2-13B 480, on the U280 and
    the U55C; the W8A8 weights need one U55C or two U280s for 7B, two U55Cs or four U280s
    for 13B."""
    import spatialsim as ss

    cards = {("llama2-7b", "u55c"): 1, ("llama2-7b", "u280"): 2}
    cards |= {("llama2-13b", "u55c"): 2, ("llama2-13b", "u280"): 4}
    for model, most in (("llama2-7b", 608), ("llama2-13b", 480)):
        for platform in ("u280", "u55c"):
            tp = cards[model, platform]
            common = {"model": model, "platform": platform, "gen_len": 0, "layers": 1}
            ss.simulate(prompt_len=most, tp=tp, **common)
            try:
                ss.simulate(prompt_len=most + 1, tp=tp, **common)
            except ss.UserError as exc:
                # what overflows is what README blames
                assert "SLR2" in str(exc) and "URAM demand" in str(exc), exc
                assert "largest users: fifo ffn_residual_bypass" in str(exc), exc
            else:
                raise AssertionError(f"{model} on {platform} fits {most + 1} tokens")
            if tp > 1:  # fewer cards cannot hold the weights
                with pytest.raises(ss.UserError, match="GiB of weights and K/V cache"):
                    ss.simulate(prompt_len=16, tp=tp // 2, **common)
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "LLaMA-2-7B fits at most 608 tokens" in readme
    assert "LLaMA-2-13B 480" in readme and "`ffn_residual_bypass`" in readme
    assert "URAM on SLR2" in readme
    assert "LLaMA-2-7B needs one U55C or two U280s, LLaMA-2-13B two U55Cs or four U280s" in readme


def test_the_engine_vs_eq8_table_is_what_the_simulator_gives() -> None:
    """README's "Simulated prefill per layer against Eq. 8" table: each percentage is one
    layer of GPT-2-medium simulated over its Eq. 8 term, recomputed here."""
    import re

    import spatialsim as ss

    readme = (ROOT / "README.md").read_text()
    rows = dict(
        (m.group(1), (m.group(2), m.group(3)))
        for m in re.finditer(
            r"^\| (chen2024-w\da8) \| (\+[\d.]+ %)[^|]*\| (\+[\d.]+ %) \|$", readme, re.M
        )
    )
    assert set(rows) == {"chen2024-w4a8", "chen2024-w8a8"}
    for design, quoted in rows.items():
        for prompt, shown in zip((128, 512), quoted, strict=True):
            run = ss.simulate(model="gpt2-medium", design=design, prompt_len=prompt, gen_len=0,
                              layers=1, max_seq_len=prompt + 1)  # fmt: skip
            ana = ss.analyze(model="gpt2-medium", design=design, prompt_len=prompt, gen_len=0,
                             max_seq_len=prompt + 1)  # fmt: skip
            ratio = run.result.ttft_ms / (ana.prefill_ms / 24)
            assert f"+{(ratio - 1) * 100:.1f} %" == shown, (design, prompt, ratio)


def test_the_a100_paragraphs_eq9_bound_is_analyzes() -> None:
    """README's GPU paragraph quotes Eq. 9's bound for the compare it shows."""
    import spatialsim as ss

    ana = ss.analyze(model="gpt2-medium", prompt_len=128, gen_len=32)
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"Eq. 9's steady-state bound is {ana.decode_ms_per_token:.1f} ms" in readme
