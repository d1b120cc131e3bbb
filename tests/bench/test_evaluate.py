import json

import pytest
from click.testing import CliRunner

from chaffee_assets.bench import evaluate
from chaffee_assets.bench.evaluate import attribution_accuracy, der, load_rttm, load_stm, wer
from chaffee_assets.cli import main
from chaffee_assets.settings import get_settings
from chaffee_assets.speech.speakers.diarize import Turn
from tests.conftest import DEMO_AUDIO, SAMPLE

KEYS = {"file", "wer", "wer_details", "der", "speakers_estimated", "speaker_path", "attribution_accuracy"}


def annotation(*turns: tuple[float, float, str]):
    return evaluate.turns_annotation([Turn(*t) for t in turns], uri="ref")


def test_wer_normalises_both_sides_and_counts_errors():
    assert wer("Hello, World! It's low-carb.", "hello world its low carb").wer == 0.0
    one_sub = wer("the cat sat down", "the dog sat down")
    assert (one_sub.wer, one_sub.substitutions, one_sub.ref_words) == (0.25, 1, 4)
    mixed = wer("a b c d", "a c d e f")  # b deleted, e and f inserted
    assert (mixed.deletions, mixed.insertions, mixed.wer) == (1, 2, 0.75)
    with pytest.raises(ValueError):
        wer(" ?! ", "anything")


def test_der_known_values():
    ref = annotation((0, 10, "A"), (10, 20, "B"))
    same = [Turn(0, 10, "x"), Turn(10, 20, "y")]  # labels differ: the optimal mapping makes them equal
    assert der(ref, same, 20.0) == 0.0
    assert der(ref, [Turn(0, 10, "x")], 20.0) == pytest.approx(0.5)  # half the speech missed
    assert der(ref, [Turn(0, 20, "x")], 20.0) == pytest.approx(0.5)  # half the speech confused
    late = [Turn(0, 10.1, "x"), Turn(10.1, 20, "y")]  # boundary 0.1 s late
    assert der(ref, late, 20.0, collar=0.0) == pytest.approx(0.005)
    assert der(ref, late, 20.0, collar=0.25) == 0.0  # pyannote's collar is the total width: +-0.125 s
    assert der(ref, [Turn(0, 10.2, "x"), Turn(10.2, 20, "y")], 20.0, collar=0.25) == pytest.approx(0.075 / 19.5)
    assert der(ref, same + [Turn(20, 30, "y")], 20.0) == 0.0  # outside the UEM [0, duration]


def test_attribution_accuracy_maps_names_ignoring_case():
    class W:
        def __init__(self, start, end, speaker):
            self.start, self.end, self.speaker = start, end, speaker

    ref = annotation((0, 4, "HOST"), (4, 8, "GUEST"))
    words = [W(0, 2, "host"), W(2, 4, "host"), W(4, 6, "GUEST"), W(6, 8, "host")]
    assert attribution_accuracy(ref, words, ["host", "GUEST"]) == pytest.approx(0.75)
    assert attribution_accuracy(ref, words[:3] + [W(6, 8, "GUEST")], ["host", "GUEST"]) == 1.0
    assert attribution_accuracy(annotation((0, 4, "speaker90")), words, ["host", "GUEST"]) is None


def test_reference_loaders(tmp_path):
    stm = tmp_path / "x.stm"
    stm.write_text(";; comment line\nx 1 B 2.0 3.0 <o,f0,male> world\nx 1 A 0.5 1.0 Hello,\n\n")
    assert load_stm(stm) == "Hello, world"
    ref = load_rttm(SAMPLE / "sample.rttm")
    assert ref.uri == "sample" and sorted(ref.labels()) == ["speaker90", "speaker91"]
    assert len(list(ref.itertracks())) == 10  # overlapping turns kept as separate tracks
    assert load_stm(SAMPLE / "sample.stm").startswith("Hello? Hello? Oh, hello. I didn't know")


@pytest.fixture(scope="module")
def sample_report():
    """`chaffee eval` on the pyannote sample (real speech, 2 speakers), speakers estimated."""
    result = CliRunner().invoke(main, ["eval", str(SAMPLE / "sample.wav"), "--ref-stm", str(SAMPLE / "sample.stm"),
                                       "--ref-rttm", str(SAMPLE / "sample.rttm"), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cli_eval_prints_the_documented_keys(sample_report):
    assert KEYS <= set(sample_report)
    assert set(sample_report["wer_details"]) == {"substitutions", "deletions", "insertions", "ref_words"}
    assert set(sample_report["der"]) == {"collar_0", "collar_0.25"}
    assert sample_report["attribution_accuracy"] is None  # speaker90/91 name nobody we know
    assert sample_report["wer_details"]["ref_words"] == 81


def test_sample_wer_and_der(sample_report):
    assert sample_report["speaker_path"] == "diarized" and sample_report["speakers_estimated"] == 2
    assert sample_report["der"]["collar_0.25"] <= 0.12, sample_report
    assert sample_report["der"]["collar_0"] >= sample_report["der"]["collar_0.25"]
    assert sample_report["wer"] <= 0.14, sample_report


def test_demo_interview_attribution_and_der():
    report = evaluate.evaluate_file(DEMO_AUDIO / "interview-01.flac", (DEMO_AUDIO / "interview-01.txt").read_text(),
                                    DEMO_AUDIO / "interview-01.rttm", get_settings())
    assert report["speaker_path"] == "diarized" and report["speakers_estimated"] == 2
    assert report["attribution_accuracy"] >= 0.97, report
    assert report["der"]["collar_0.25"] <= 0.05, report


def test_cli_eval_needs_exactly_one_reference_text():
    result = CliRunner().invoke(main, ["eval", str(SAMPLE / "sample.wav"), "--ref-rttm", str(SAMPLE / "sample.rttm")])
    assert result.exit_code == 2 and "exactly one of --ref-stm or --ref-text" in result.output
