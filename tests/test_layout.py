"""The package layout: the runtime import graph points one way, and modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "aecodec"
RUNTIME = ("codec", "coding", "format", "dsp", "model")
OFF_PATH = ("train", "bench", "cli", "genre", "files")


def _imports(path: Path) -> set[str]:
    """Every ``aecodec.*`` module a file imports (at any depth: lazy imports count)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aecodec"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("aecodec"))
    return out


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("sub", RUNTIME)
def test_runtime_never_imports_training_bench_or_cli(sub: str) -> None:
    for path in sorted((PKG / sub).glob("*.py")):
        bad = {m for m in _imports(path) if _subpackage(m) in OFF_PATH}
        assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


def test_format_is_bytes_only() -> None:
    for path in sorted((PKG / "format").glob("*.py")):
        mods = _imports(path)
        assert not {m for m in mods if _subpackage(m) in ("model", "codec")}, path
        assert "import torch" not in path.read_text("utf-8"), path


def test_coding_does_not_reach_up_to_the_pipeline() -> None:
    for path in sorted((PKG / "coding").glob("*.py")):
        bad = {m for m in _imports(path) if _subpackage(m) in ("codec", "model")}
        assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


def test_no_private_names_across_modules() -> None:
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aecodec"):
                private = [a.name for a in node.names if a.name.startswith("_")
                           and a.name != "__version__"]
                assert not private, f"{path.relative_to(PKG)} imports {private} from {node.module}"


def test_modules_stay_small() -> None:
    sizes = {p.relative_to(PKG): len(p.read_text("utf-8").splitlines()) for p in PKG.rglob("*.py")}
    big = {str(p): n for p, n in sizes.items() if n > 350}
    assert not big, f"modules over 350 lines: {big}"


def test_decode_path_loads_no_training_or_bench_module() -> None:
    code = ("import sys; import aecodec.codec.decode, aecodec.codec.encode, aecodec.format.meta; "
            "print(sorted(m for m in sys.modules if m.startswith(('aecodec.train', "
            "'aecodec.bench', 'aecodec.cli', 'aecodec.genre'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_format_layer_imports_without_torch() -> None:
    code = ("import sys; import aecodec.format.meta, aecodec.format.container; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
