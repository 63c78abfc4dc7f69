#!/usr/bin/env python3
"""Keeps every example output in README.md true: each block between

    <!-- example: COMMAND -->
    ```
    …output…
    ```
    <!-- /example -->

is the exact standard output of COMMAND, run by sh from the repository root with `meshc`
being the built binary (`MESHC`, default .build/debug/meshc).

    python3 Tools/readme-examples.py --check   # make test: fails when an example is stale
    python3 Tools/readme-examples.py --write   # make generate: rewrites the examples
"""
import os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESHC = os.path.abspath(os.environ.get("MESHC", os.path.join(ROOT, ".build/debug/meshc")))
PATTERN = re.compile(r"(<!-- example: (.+?) -->\n```[a-z]*\n)(.*?)(```\n<!-- /example -->)", re.S)

def run(command):
    with tempfile.TemporaryDirectory() as bindir:
        os.symlink(MESHC, os.path.join(bindir, "meshc"))
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"], NO_COLOR="1", COLUMNS="100")
        p = subprocess.run(["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode not in (0, 1):
        sys.exit(f"readme-examples: `{command}` exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout

def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    stale = []
    def replace(m):
        out = run(m.group(2))
        if out != m.group(3):
            stale.append(m.group(2))
        return m.group(1) + out + m.group(4)
    updated = PATTERN.sub(replace, text)
    count = len(PATTERN.findall(text))
    if mode == "--write":
        open(path, "w").write(updated)
        print(f"readme-examples: {count} examples written, {len(stale)} changed")
    elif stale:
        print("readme-examples: stale README examples (run make generate):\n  " + "\n  ".join(stale), file=sys.stderr)
        sys.exit(1)
    else:
        print(f"readme-examples: {count} examples match the binary")

if __name__ == "__main__":
    main()
