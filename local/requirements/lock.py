#!/usr/bin/env python3
"""Regenerates the pinned requirement files in local/requirements/ from their header lines.

Each file names the virtualenv it goes into (`# venv:`) and its top-level requirements
(`# requires:`); everything below its comment header is generated here. The files of one venv
are resolved together: every top-level requirement of that venv is installed into a scratch venv
and frozen, so a package two files share gets one version. Each file then keeps the part of that
frozen set its own requirements pull in (pip's dry-run report, constrained by the freeze).

    python3 local/requirements/lock.py           # after editing a `# requires:` line
    python3 local/requirements/lock.py checkov   # only the venvs of the files named (checkov.txt)

Run it with the Python the venvs are made with (python3 on PATH; the pins are resolved for its
version). It needs PyPI, and writes nothing but the requirement files and a temporary directory.
"""

import json
import pathlib
import subprocess
import sys
import tempfile
import venv

HERE = pathlib.Path(__file__).resolve().parent
PIP_QUIET = ["--quiet", "--disable-pip-version-check"]


def parse(path):
    """The comment header, the venv and the top-level requirements of one requirement file."""
    header, venv_dir, requires = [], None, []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
        if line.startswith("# venv:"):
            venv_dir = line.split(":", 1)[1].strip()
        elif line.startswith("# requires:"):
            requires += line.split(":", 1)[1].split()
    if not venv_dir or not requires:
        sys.exit(f"error: {path} needs a '# venv:' and a '# requires:' line in its header")
    return header, venv_dir, requires


def pip(python, *args, capture=False):
    return subprocess.run(
        [python, "-m", "pip", *args], check=True, text=True, capture_output=capture
    ).stdout


def pins_needed_by(python, requires, constraints):
    """name==version of every package `pip install requires` would install under constraints."""
    report = pip(
        python, "install", *PIP_QUIET, "--dry-run", "--ignore-installed", "--report", "-",
        "-c", str(constraints), *requires, capture=True,
    )
    installs = json.loads(report)["install"]
    return sorted(
        (f'{item["metadata"]["name"]}=={item["metadata"]["version"]}' for item in installs),
        key=str.lower,
    )


def main():
    files = {}
    for path in sorted(HERE.glob("*.txt")):
        files[path] = parse(path)
    by_venv = {}
    for path, (_, venv_dir, _) in files.items():
        by_venv.setdefault(venv_dir, []).append(path)
    # Named files: only their venvs are resolved again, so the other files keep their pins.
    named = set(sys.argv[1:])
    unknown = named - {path.stem for path in files}
    if unknown:
        sys.exit(f"error: no such requirement file: {', '.join(sorted(unknown))}")
    if named:
        by_venv = {v: ps for v, ps in by_venv.items() if named & {p.stem for p in ps}}

    with tempfile.TemporaryDirectory(prefix="requirements-lock.") as tmp:
        for venv_dir, paths in by_venv.items():
            scratch = pathlib.Path(tmp) / venv_dir.strip("./").replace("/", "_")
            venv.create(scratch, with_pip=True)
            python = str(scratch / "bin" / "python")
            requires = [r for p in paths for r in files[p][2]]
            print(f"==> resolving {venv_dir}: {' '.join(requires)}")
            pip(python, "install", *PIP_QUIET, *requires)
            frozen = scratch / "frozen.txt"
            frozen.write_text(pip(python, "freeze", capture=True))
            for path in paths:
                header, _, own = files[path]
                pins = pins_needed_by(python, own, frozen)
                path.write_text("\n".join(header + pins) + "\n")
                print(f"    {path.relative_to(HERE.parent.parent)}: {len(pins)} packages")


if __name__ == "__main__":
    main()
