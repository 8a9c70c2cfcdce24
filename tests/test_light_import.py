"""`dgr --help`, `dgr plugins` and `dgr list` import no heavy library."""
from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "diffusers", "open_clip", "faiss", "transformers", "sklearn")


def test_cli_and_plugin_loading_leave_heavy_modules_out():
    code = (
        "import sys, click\n"
        "from click.testing import CliRunner\n"
        "import dgr.cli\n"
        "from dgr.plugins import build_registry\n"
        "build_registry()\n"
        "r = CliRunner()\n"
        "for args in (['--help'], ['plugins'], ['list', 'generators'], ['list', 'policies'], ['list', 'students'],"
        "             ['list', 'protocols'], ['list', 'baselines'], ['evaluate', '--help'], ['distill', '--help']):\n"
        "    res = r.invoke(dgr.cli.cli, args)\n"
        "    assert res.exit_code == 0, (args, res.output)\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout
