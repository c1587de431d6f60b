"""TypeScript types generated with openapi-typescript from the committed descriptions (router, mirror and
the event catalogue) type-check clients/usage.ts, and catch a request body of the wrong shape."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
BIN = CLIENTS / "node_modules" / ".bin"


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def typed_usage(into: Path) -> Path:
    """clients/usage.ts and its tsconfig in ``into``, with generated/{router,mirror,events}.ts beside it."""
    assert (BIN / "openapi-typescript").exists() and (BIN / "tsc").exists(), (
        "the TypeScript client tools are missing: run scripts/install_clients.sh (make clients)"
    )
    for name in ("usage.ts", "tsconfig.json"):
        shutil.copy(CLIENTS / name, into / name)
    (into / "generated").mkdir()
    for name in ("router", "mirror", "events"):
        spec = ROOT / "docs" / "openapi" / f"{name}.json"
        done = run(BIN / "openapi-typescript", spec, "-o", into / "generated" / f"{name}.ts", cwd=into)
        assert done.returncode == 0, done.stdout + done.stderr
    return into / "usage.ts"


def test_the_usage_file_compiles_against_the_generated_types(tmp_path: Path) -> None:
    typed_usage(tmp_path)
    done = run(BIN / "tsc", "-p", tmp_path, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_generated_types_refuse_a_body_of_the_wrong_shape(tmp_path: Path) -> None:
    usage = typed_usage(tmp_path)
    with usage.open("a") as source:
        source.write('\nexport const wrong: LaunchRequest = { nodes: "two" };\n')
        source.write('\nexport const unknownEvent: Envelope["event"] = "node_mood";\n')
    done = run(BIN / "tsc", "-p", tmp_path, cwd=tmp_path)
    assert done.returncode != 0
    assert "Type 'string' is not assignable to type 'number'" in done.stdout, done.stdout
    assert '"node_mood"' in done.stdout, done.stdout
