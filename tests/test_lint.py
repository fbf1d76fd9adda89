"""ruff and mypy stay clean on the package (CI runs the tests, so these checks run there too)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "src"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    """The soundsight modules a file imports, at the top or inside functions (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    guarded = [s for s in ast.walk(tree) if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test)]
    skipped = {id(node) for stmt in guarded for body in stmt.body for node in ast.walk(body)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("soundsight"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from soundsight.cli import run`
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("soundsight"))
    return found


def _module_graph() -> dict[str, set[str]]:
    package = ROOT / "src" / "soundsight"
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {name: {m for m in _imports(path) if m in names and m != name} for name, path in names.items()}


def test_imports_point_one_way_with_no_cycles() -> None:
    graph = _module_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            assert state.get(other) != 1, "import cycle: " + " -> ".join([*path, name, other])
            if other not in state:
                visit(other, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    # front ends -> trainers and evaluations -> pipelines -> stages (models/, backends/, shapes/, loading ...)
    tiers = [
        ("soundsight.cli", "soundsight.webapp", "soundsight.__main__"),
        ("soundsight.train", "soundsight.evaluate"),
        ("soundsight.speech_to_image", "soundsight.sound_to_image", "soundsight.images_that_speak"),
    ]

    def tier(name: str) -> int:
        return next((i for i, prefixes in enumerate(tiers) if name.startswith(prefixes)), len(tiers))

    for name, imported in graph.items():
        upward = sorted(m for m in imported if tier(m) < tier(name))
        assert not upward, f"{name} imports {upward}: imports point from front ends to pipelines to stages"


def test_only_loading_reads_weights() -> None:
    ours = {"SpeechToImage", "SoundToImage", "ImagesThatSpeak"}  # our pipelines' from_pretrained: they call loading.py
    for path in (ROOT / "src" / "soundsight").rglob("*.py"):
        if path.name == "loading.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute | ast.Name):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            owner = ast.unparse(node.func.value) if isinstance(node.func, ast.Attribute) else ""
            reads = name in ("from_pretrained", "load_file", "safe_open", "load_lora_weights") or (
                name == "load" and owner in ("torch", "pickle")
            )
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert not reads or owner in ours, f"{where} reads weights outside loading.py: {ast.unparse(node)}"
