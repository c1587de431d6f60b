"""Build the node program as one file: a zipapp of `services/node` that runs with nothing else on sys.path.

The file name carries a hash of the sources (`codeswarm-node-<sha256[:16]>.pyz`), so a build with
unchanged sources finds the existing file and does not rewrite it, and a changed program never
overwrites one a running node uses.  Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipapp
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
FORMAT = b"codeswarm-node zipapp 1\n"  # bump when the archive layout below changes
SERVICES_INIT = '"""Only the node program of Codeswarm\'s shared services (packed into a zipapp)."""\n'
ARCHIVE_MAIN = "import sys\n\nfrom services.node.__main__ import main\n\nsys.exit(main())\n"
INTERPRETER = "/usr/bin/env python3"


def source_files() -> list[Path]:
    """The package's Python sources, relative to the package directory, in a stable order."""
    return sorted(
        path.relative_to(PACKAGE_DIR) for path in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in path.parts
    )


def source_hash(files: list[Path]) -> str:
    digest = hashlib.sha256(FORMAT + SERVICES_INIT.encode() + ARCHIVE_MAIN.encode())
    for relative in files:
        content = (PACKAGE_DIR / relative).read_bytes()
        digest.update(f"{relative.as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def archive_name(files: list[Path] | None = None) -> str:
    return f"codeswarm-node-{source_hash(source_files() if files is None else files)[:16]}.pyz"


def build_zipapp(dest_dir: Path) -> Path:
    """The zipapp in `dest_dir` for the current sources, built only when it is not there yet."""
    files = source_files()
    dest_dir = Path(dest_dir)
    target = dest_dir / archive_name(files)
    if target.is_file():
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="codeswarm-node-") as staging_dir:
        staging = Path(staging_dir)
        package = staging / "services" / "node"
        for relative in files:
            (package / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACKAGE_DIR / relative, package / relative)
        (staging / "services" / "__init__.py").write_text(SERVICES_INIT)
        (staging / "__main__.py").write_text(ARCHIVE_MAIN)
        # A partial file of its own (unique per build, not per process: launches build from threads),
        # then an atomic rename: a concurrent build or a reader never sees half a file.
        handle, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=dest_dir)
        os.close(handle)
        partial = Path(partial_name)
        try:
            zipapp.create_archive(staging, partial, interpreter=INTERPRETER, compressed=True)
            partial.chmod(0o700)  # its owner runs it; nobody else needs to
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target
