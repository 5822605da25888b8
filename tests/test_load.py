"""The load script end to end, at a small scale: the app in its own process, raters and a reviewer at once."""

import json

import pytest

from evaluation.load import main


@pytest.mark.slow  # about 30 s: the app in its own process

def test_load_script_counts_every_vote_once(tmp_path):  # (3 murals: 3 votes each, a rater sees a restoration once)
    code = main(["--raters", "3", "--votes", "3", "--reviewers", "1", "--reviews", "2", "--murals", "3",
                 "--systems", "telea,navier-stokes", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "load.json").read_text())
    assert code == 0 and report["votes_sent"] == report["votes_recorded"] == 9
    assert report["duplicate_votes"] == 0 and report["errors"] == 0 and report["reviews_recorded"] == 2
    assert 0 < report["vote_latency_s"]["p50"] <= report["vote_latency_s"]["p95"]


def test_more_votes_than_a_rater_has_pairs_is_refused_before_starting(capsys):
    with pytest.raises(SystemExit):
        main(["--votes", "60", "--murals", "10"])
    assert "10 murals with 3 systems give each rater 10" in capsys.readouterr().err
