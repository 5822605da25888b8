"""Outlines a conservator says crossed a loss are drawn across it (issue 17): the words that switch it on, the strokes
found at the rim, the pairing, and the pipeline leaving every other restoration as it was."""

import cv2
import numpy as np
import pytest

from mural_inpaint.pipeline import RestorationPipeline
from mural_inpaint.restorers.lines import (
    NamedLines,
    colour_name,
    dark_strokes,
    draw_named_lines,
    line_ends,
    named_lines,
    pair_ends,
)


def crossed_by_a_line(colour=(40, 30, 20), ground=200, second=None):
    """uint8 [128, 128, 3] light ground with a 3 px diagonal stroke (and optionally a second one), a 50 px
    square loss across the stroke, and the generator's kind of fill: the ground's colour, no line."""
    image = np.full((128, 128, 3), ground, np.uint8)
    cv2.line(image, (0, 30), (127, 100), colour, 3, cv2.LINE_AA)
    if second is not None:  # a parallel stroke 20 px lower, crossing the loss too
        cv2.line(image, (0, 50), (127, 120), second, 3, cv2.LINE_AA)
    mask = np.zeros((128, 128), bool)
    mask[40:90, 40:90] = True
    smooth = image.copy()
    smooth[mask] = ground - 10
    return image, mask, smooth


@pytest.mark.parametrize("text, expected", [
    ("A black outline crossed the lost area.", NamedLines(False, "black")),
    ("The red contour continued through the loss.", NamedLines(False, "red")),
    ("Two outlines ran across the damaged area.", NamedLines(True, None)),
    ("Damage covers 12 % of the mural. Line work runs up to the damaged area.", None),  # the machine's words
    ("The lost area held malachite green (60%), some outlines.", None),  # the privileged caption
    ("No outline crossed it.", None),
    ("", None),
    (None, None),
])
def test_only_words_saying_an_outline_crossed_switch_it_on(text, expected):
    assert named_lines(text) == expected


def test_a_stroke_broken_by_a_loss_is_joined_in_its_colour_over_damaged_pixels_only():
    image, mask, smooth = crossed_by_a_line()
    ends = line_ends(smooth, mask, mask)
    assert len(ends) == 2
    for end in ends:
        assert 2 <= end.width <= 7 and colour_name(end.colour) == "black"
        assert np.abs(end.colour - (40, 30, 20)).max() < 15
    assert pair_ends(ends) == [(0, 1)]
    out, drawn = draw_named_lines(smooth, mask, NamedLines(False, None))
    assert drawn == 1
    assert np.array_equal(out[~mask], smooth[~mask])
    truth_line = (dark_strokes(image) >= 25) & mask
    made_line = (dark_strokes(out) >= 25) & mask
    assert made_line.sum() > 0.5 * truth_line.sum()
    near = cv2.dilate(truth_line.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert near[made_line].mean() > 0.9  # where the stroke ran
    before = np.abs(smooth[mask].astype(float) - image[mask]).mean()
    assert np.abs(out[mask].astype(float) - image[mask]).mean() < 0.7 * before


def test_the_named_colour_chooses_the_strokes_and_one_outline_is_one_line():
    _, mask, smooth = crossed_by_a_line(second=(40, 30, 20))
    assert draw_named_lines(smooth, mask, NamedLines(False, "red"))[1] == 0  # the only strokes are black
    assert draw_named_lines(smooth, mask, NamedLines(False, "black"))[1] == 1  # "an outline": one
    assert draw_named_lines(smooth, mask, NamedLines(True, None))[1] == 2  # "two outlines": both, uncrossed
    _, mask, smooth = crossed_by_a_line(second=(170, 50, 40))
    red, drawn = draw_named_lines(smooth, mask, NamedLines(False, "red"))
    assert drawn == 1 and (red[mask].astype(int) - smooth[mask]).any()
    black, _ = draw_named_lines(smooth, mask, NamedLines(False, "black"))
    assert not np.array_equal(red, black)  # each colour joined its own stroke


def test_strokes_that_do_not_face_each_other_are_not_joined():
    image = np.full((128, 128, 3), 200, np.uint8)
    cv2.line(image, (0, 50), (45, 50), (30, 30, 30), 3)  # two strokes run into the loss side by side from the
    cv2.line(image, (0, 78), (45, 78), (30, 30, 30), 3)  # left: joining them would turn one back on itself
    mask = np.zeros((128, 128), bool)
    mask[40:90, 40:90] = True
    smooth = image.copy()
    smooth[mask] = 190
    assert len(line_ends(smooth, mask, mask)) == 2
    out, drawn = draw_named_lines(smooth, mask, NamedLines(True, None))
    assert drawn == 0 and np.array_equal(out, smooth)


def test_broad_dark_fields_and_cracks_are_not_line_work():
    image = np.full((128, 128, 3), 200, np.uint8)
    image[:, :52] = 30  # a dark field meeting the loss
    mask = np.zeros((128, 128), bool)
    mask[40:90, 40:90] = True
    smooth = image.copy()
    smooth[mask] = 120
    assert line_ends(smooth, mask, mask) == []
    crack_image, _, _ = crossed_by_a_line()
    crack = np.zeros((128, 128), bool)
    crack[60:64, 20:110] = True  # 4 px wide: nothing to join across
    assert draw_named_lines(crack_image, crack, NamedLines(True, None))[1] == 0


def test_the_pipeline_draws_only_for_those_words_and_says_so():
    image, mask, _ = crossed_by_a_line()
    pipeline = RestorationPipeline("telea", captioner="describer")
    plain = pipeline.restore(image, mask, caption="Damage covers 15 % of the mural.")
    worded = pipeline.restore(image, mask, caption="Damage covers 15 % of the mural. A black outline crossed it.")
    automatic = pipeline.restore(image, mask)
    assert np.array_equal(plain.image, automatic.image)  # the machine's words never draw
    assert not [note for note in plain.provenance["notes"] if "outline" in note]
    assert np.array_equal(worded.image[~mask], image[~mask])
    assert not np.array_equal(worded.image, plain.image)
    assert "joined 1 outline across the damage, as the description says" in worded.provenance["notes"]
    nothing = pipeline.restore(image, mask, caption="A green outline crossed it.")
    assert any("none drawn" in note for note in nothing.provenance["notes"])


def test_the_restore_tab_says_what_the_words_drew():
    from mural_inpaint.app.restore_logic import restored_message

    image, mask, _ = crossed_by_a_line()
    result = RestorationPipeline("telea", captioner="describer").restore(image, mask, caption="An outline crossed it.")
    result.provenance["notes"].append("restored without text guidance: /srv/models/clip is missing")
    message = restored_message(result, "telea", 1.0, None)
    assert "Joined 1 outline across the damage, as the description says." in message
    assert "/srv" not in message  # other notes may name server paths


def test_the_command_line_says_what_the_words_drew(tmp_path, capsys):
    from mural_inpaint.cli import main
    from mural_inpaint.imaging import save_png

    image, mask, _ = crossed_by_a_line()
    photo, mask_file = save_png(image, tmp_path / "wall.png"), save_png(mask, tmp_path / "wall-mask.png")
    assert main(["restore", str(photo), "--mask", str(mask_file), "--output", str(tmp_path / "out.png"),
                 "--model", "telea", "--caption", "A black outline crossed the lost area."]) == 0
    assert "note: joined 1 outline across the damage, as the description says" in capsys.readouterr().out
