"""Every CLI failure: exit 2, one line naming the option or path, before training."""

import json

import pytest

from jtoolkit._src.demo.cli import build_parser, main


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch):
    monkeypatch.setenv("JTOOLKIT_COMPILATION_CACHE", "0")


_BASE = ["--dataset", "synthetic", "--no-progress"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A finished 2-epoch run's checkpoint directory."""
    directory = tmp_path_factory.mktemp("ckpt") / "run"
    assert main([*_BASE, "--epochs", "2", "--checkpoint-dir", str(directory)]) == 0
    return directory


def _fails(argv, capsys, *needles):
    assert main([*_BASE, *argv]) == 2
    out = capsys.readouterr()
    err = out.err.strip()
    assert err.startswith("python -m jtoolkit.train: error:"), err
    assert "\n" not in err and "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    assert "epoch 1/" not in out.out and "done:" not in out.out  # before training
    return err


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--lr", "inf"], ["--lr", "finite"]),
        (["--lr", "nan"], ["--lr", "finite"]),
        (["--seed", "-1"], ["--seed"]),
        (["--seed", str(2**32)], ["--seed"]),
        (["--epochs", "0"], ["--epochs", ">= 1"]),
    ],
)
def test_bad_values_name_the_option(argv, needles, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*_BASE, *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and all(n in err for n in needles), err


def test_output_paths_are_checked_before_training(tmp_path, capsys):
    _fails(["--plot", str(tmp_path / "nodir" / "x.png")], capsys, "--plot", "nodir")
    _fails(["--metrics-file", str(tmp_path)], capsys, "--metrics-file", "directory")
    afile = tmp_path / "afile"
    afile.write_text("")
    _fails(["--checkpoint-dir", str(afile)], capsys, "--checkpoint-dir", "is a file")
    _fails(["--checkpoint-dir", str(afile / "sub")], capsys, "--checkpoint-dir", "sub")


def test_resume_with_other_options_names_them(ckpt, capsys):
    resume = ["--epochs", "3", "--resume", "--checkpoint-dir", str(ckpt)]
    _fails([*resume, "--model", "mlp"], capsys, "--model simple", "--model mlp")
    _fails([*resume, "--optimizer", "sgd"], capsys, "--optimizer adam", "sgd")


def test_resume_without_the_options_file_compares_the_arrays(ckpt, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ckpt, copy)
    (copy / "jtoolkit-demo.json").unlink()
    resume = ["--epochs", "3", "--resume", "--checkpoint-dir", str(copy)]
    _fails([*resume, "--model", "mlp"], capsys, "does not fit --model mlp")


def test_resume_past_or_at_the_end(ckpt, capsys):
    resume = ["--resume", "--checkpoint-dir", str(ckpt)]
    _fails(["--epochs", "1", *resume], capsys, "already at epoch 2", "--epochs 2")
    assert main([*_BASE, "--epochs", "2", *resume]) == 0
    out = capsys.readouterr().out
    assert "resumed from epoch 2 (of 2)" in out and "nothing to do" in out


def test_resume_of_damaged_checkpoints_warns_or_fails_in_one_line(
    ckpt, tmp_path, capsys
):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ckpt, copy)
    shutil.rmtree(copy / "2" / "extra")
    resume = ["--resume", "--checkpoint-dir", str(copy), "--epochs", "2"]
    assert main([*_BASE, *resume]) == 0
    out = capsys.readouterr().out
    assert "warning: skipped 1 damaged" in out and str(copy / "2") in out
    assert "resumed from epoch 1 (of 2)" in out
    shutil.rmtree(copy / "1" / "state")
    shutil.rmtree(copy / "2" / "state")
    _fails(resume, capsys, "no intact checkpoint", str(copy / "1"))


def test_divergence_is_one_line_naming_lr(capsys):
    err = _fails_after_training(["--lr", "1e9", "--optimizer", "sgd"], capsys)
    assert "--lr" in err and "nan_policy" not in err


def _fails_after_training(argv, capsys):
    assert main([*_BASE, "--epochs", "1", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_metrics_file_is_cut_back_on_resume(tmp_path, capsys):
    ckpt, metrics = str(tmp_path / "c"), tmp_path / "m.jsonl"
    run = [*_BASE, "--checkpoint-dir", ckpt, "--metrics-file", str(metrics)]
    assert main([*run, "--epochs", "2"]) == 0
    lines = metrics.read_text().splitlines()
    # A kill after epoch 3's line but before its checkpoint, with a torn line.
    extra = json.dumps({**json.loads(lines[-1]), "epoch": 3})
    metrics.write_text("\n".join([*lines, extra, '{"epoch": 4, "tr']))
    assert main([*run, "--epochs", "3", "--resume"]) == 0
    epochs = [json.loads(x)["epoch"] for x in metrics.read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_help_shows_no_default_for_flags():
    text = build_parser().format_help()
    assert "(default: True)" not in text and "(default: False)" not in text
    assert "--no-progress" in text and "(default: 64)" in text
