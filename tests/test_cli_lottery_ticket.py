"""The lottery-ticket subcommand: JSON keys, table, figure files, --paper, one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

import parity_frontiers.verify.experiments.lottery_ticket as lottery_module
from parity_frontiers.cli import main
from parity_frontiers.verify.experiments.lottery_ticket import (
    ARMS,
    PAPER_SETTINGS,
    LotteryTicketConfig,
)

SMALL = ["--n", "12", "--k", "3", "--width", "32", "--keep", "4", "--seeds", "2",
         "--max-steps", "1500", "--retrain-steps", "200", "--eval-every", "50",
         "--test-size", "500", "--threads", "1", "--device", "cpu"]


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_error(capsys, *argv) -> str:
    """A failing command: status 2, exactly one line on stderr, no traceback."""
    try:
        code = main(["lottery-ticket", *argv])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    err = captured.err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("parity-frontiers lottery-ticket: error: "), err
    assert "Traceback" not in err
    return err


def test_json_output_and_figure(capsys, tmp_path):
    out_dir = tmp_path / "figs"
    assert main(["lottery-ticket", *SMALL, "--json", "--out", str(out_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    out = json.loads(captured.out)
    assert set(out) == {"score", "config", "parity_set", "wide", "winners", "arms",
                        "wall_seconds", "figures"}
    assert out["config"] == LotteryTicketConfig(
        n=12, k=3, width=32, keep=4, sgd_seeds=2, max_steps=1500, retrain_steps=200,
        eval_every=50, test_size=500).as_dict()
    assert set(out["arms"]) == set(ARMS)
    for entry in out["arms"].values():
        assert len(entry["runs"]) == 2 and len(entry["curve_test_error"]) == 2
        for run in entry["runs"]:
            assert {"sgd_seed", "batch_seed", "neurons", "supports", "overlaps",
                    "overlap_p_value", "success", "steps_to_success", "test_error",
                    "end_reason"} <= set(run)
    assert set(out["winners"]["test"]) == {"count", "overlap_sum", "expected_sum", "p_value",
                                           "lucky", "expected_lucky", "lucky_p_value"}
    assert 0 <= out["winners"]["test"]["p_value"] <= 1
    assert out["figures"] == [str(out_dir / "lottery_ticket.png"),
                             str(out_dir / "lottery_ticket.pdf")]
    assert all((out_dir / name).stat().st_size > 0 for name in ("lottery_ticket.png",
                                                                "lottery_ticket.pdf"))


def test_table_output(capsys):
    assert main(["lottery-ticket", *SMALL, "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Lottery tickets: online (12, 3)-parity, width 32, s = 2, keep K = 4")
    for needle in ("wide net: ", "winners", "random_rewound", "fresh", "The winners (best first)",
                   "overlap sum vs K i.i.d. hypergeometric draws (exact)", "Kaplan-Meier",
                   "median steps to success", "mean overlap", "initial scores"):
        assert needle in text


class Captured(Exception):
    pass


@pytest.fixture
def capture_config(monkeypatch):
    def fake(config, device, progress):
        raise Captured(config, device, progress)

    monkeypatch.setattr(lottery_module, "run_lottery_ticket", fake)


def test_paper_flag_and_overrides(capture_config):
    with pytest.raises(Captured) as caught:
        main(["lottery-ticket", "--paper", "--seeds", "3", "--no-progress"])
    config, device, progress = caught.value.args
    assert config == LotteryTicketConfig.paper(sgd_seeds=3)
    assert config.as_dict().items() >= {k: v for k, v in PAPER_SETTINGS.items()
                                        if k != "sgd_seeds"}.items()
    assert (device, progress) == ("auto", False)
    with pytest.raises(Captured) as caught:
        main(["lottery-ticket"])
    assert caught.value.args[0] == LotteryTicketConfig()


@pytest.mark.parametrize("argv, message", [
    (["--keep", "200"], "keep must be <= width (100), got 200"),
    (["--k", "41"], "k must be"),
    (["--s", "0"], "s must be >= 1"),
    (["--seeds", "0"], "--seeds: must be >= 1"),
    (["--n", "abc"], "--n: must be an integer"),
    (["--lr", "nan"], "--lr: must be finite"),
    (["--loss", "l1"], "--loss: invalid choice"),
    (["--device", "tpu"], "--device: invalid choice"),
    (["--success-error", "1.5"], "--success-error must be in [0, 1)"),
    (["--paper", "--keep", "101"], "keep must be <= width (100)"),
])
def test_bad_input_exits_2_with_one_line(capsys, capture_config, argv, message):
    assert message in run_error(capsys, *argv)


def test_out_must_be_a_folder_and_nothing_is_written_on_error(capsys, capture_config, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    assert "exists and is not a folder" in run_error(capsys, "--out", str(target))
    assert target.read_text() == "keep me"
    fresh = tmp_path / "new"
    run_error(capsys, "--keep", "0", "--out", str(fresh))
    assert not fresh.exists()
