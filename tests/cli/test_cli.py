import subprocess
import sys

import pytest

from kinema.cli import COMMANDS, build_parser, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: kinema" in capsys.readouterr().out


def test_unknown_bench_scenario_is_a_clear_error(capsys):
    assert main(["bench", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark scenario 'no-such-scenario'" in err


def test_every_command_builds_a_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


def test_console_script_module_runs():
    proc = subprocess.run([sys.executable, "-m", "kinema.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.startswith("kinema ")
