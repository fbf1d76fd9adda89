"""Training voices wider than the spec's build: warped, re-excited, band-limited espeak-ng, and SAM."""

from pathlib import Path

import numpy as np
import pytest

from soundsight.files import read_jsonl
from soundsight.shapes.captions import parse_caption
from soundsight.shapes.spec import TEST_VOICES
from soundsight.shapes.speech import synthesize
from soundsight.train.voices import (
    VoicesConfig,
    build_voices,
    lpc_vocode,
    pico_installed,
    plan_voice,
    render_voice,
    sam_module,
)


def test_each_clip_is_planned_again_exactly_and_never_in_a_test_voice() -> None:
    recipes = [plan_voice(1, i, sam=True, pico=True) for i in range(300)]
    assert recipes[:20] == [plan_voice(1, i, sam=True, pico=True) for i in range(20)]
    assert not {r.voice for r in recipes} & set(TEST_VOICES)
    assert {r.source for r in recipes} == {"espeak", "sam", "pico"}
    assert {r.source for r in (plan_voice(1, i, sam=False) for i in range(100))} == {"espeak"}
    assert any(r.vocoder_f0 for r in recipes) and any(r.warp != 1.0 for r in recipes)
    assert {r.band for r in recipes} == {"full", "phone", "low"}
    for r in recipes[:50]:
        parse_caption(r.caption)
        assert r.text.endswith(r.caption)


def test_the_vocoder_keeps_the_words_envelope_and_replaces_the_voice() -> None:
    x = synthesize("a big red circle", "en-us+m3")
    y = lpc_vocode(x, 200.0, 0.0, 0.0, np.random.default_rng(0))
    assert y.shape == x.shape and np.isfinite(y).all()
    frames = lambda w: np.log((w[: len(w) // 320 * 320].reshape(-1, 320) ** 2).mean(1) + 1e-6)  # noqa: E731
    assert np.corrcoef(frames(x), frames(y))[0, 1] > 0.8  # loud where the words are
    ac = np.correlate(y[4000:12000], y[4000:12000], "full")[7999:]
    assert abs(int(np.argmax(ac[50:320])) + 50 - 16000 / 200) <= 2  # its pulses come 200 times a second


def test_build_writes_clips_the_asr_trainer_reads_and_resumes(tmp_path: Path) -> None:
    config = VoicesConfig(tmp_path, clips=6, workers=1, sam=False, pico=False, progress=False)
    folder, written, failures = build_voices(config)
    assert (written, failures) == (6, [])
    rows = read_jsonl(folder / "metadata.jsonl")
    assert [r["file_name"] for r in rows] == [f"{i:06d}.wav" for i in range(6)]
    assert all((folder / r["file_name"]).is_file() and r["text"] for r in rows)
    assert build_voices(config)[1] == 0


@pytest.mark.skipif(sam_module() is None, reason="sam-js is not installed (npm install -g sam-js)")
def test_sam_speaks_a_caption() -> None:
    recipe = next(r for r in (plan_voice(1, i, sam=True) for i in range(100)) if r.source == "sam")
    clip = render_voice(recipe, sam_module())
    assert 0.5 < len(clip) / 16000 < 10 and np.abs(clip).max() > 0.05


@pytest.mark.skipif(not pico_installed(), reason="ttspico is not installed (pip install 'soundsight[voices]')")
def test_pico_speaks_a_caption() -> None:
    recipe = next(r for r in (plan_voice(1, i, sam=False, pico=True) for i in range(100)) if r.source == "pico")
    clip = render_voice(recipe)
    assert recipe.voice in ("pico-en-US", "pico-en-GB") and 0.5 < len(clip) / 16000 < 10 and np.abs(clip).max() > 0.05
