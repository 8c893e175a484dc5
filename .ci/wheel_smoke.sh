#!/usr/bin/env bash
# The installed wheel works: build it, install it (not editable) into a fresh venv, and run `hub` as a user would,
# each command a separate process with a fresh LORAHUB_HOME, away from the checkout.
#
#     .ci/wheel_smoke.sh            (PYTHON=python3.11 .ci/wheel_smoke.sh to pick the interpreter)
#
# Needs the package index (or pip's cache) for torch and the other dependencies; nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wheel-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONPATH= PYTHONNOUSERSITE=1
started=$SECONDS
step() { echo "wheel-smoke [$((SECONDS - started))s] $*"; }
fail() { echo "wheel-smoke FAILED: $*" >&2; exit 1; }

step "copy the working tree (tracked + untracked, not ignored) and build the wheel"
mkdir "$WORK/src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
"$PYTHON" -m venv "$WORK/venv"
BIN=$WORK/venv/bin
"$BIN/python" -m pip install --quiet --upgrade pip
"$BIN/python" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK"/dist/sd_lora_hub-*.whl)
for member in hub/registry/registry.db.sql hub/formats/data/module_tables.json.gz hub/bases/data/tiny-sd1.safetensors \
    hub/compose/__init__.py; do
    "$BIN/python" -c "import sys, zipfile; sys.exit('$member' not in zipfile.ZipFile('$WHEEL').namelist())" \
        || fail "the wheel lacks $member"
done

step "install torch (CPU) then the wheel, not editable"
# torch first, as the Makefile does (`make wheel-smoke` passes its TORCH_SPEC / TORCH_INDEX_URL): PyPI's plain
# `torch` is the multi-GB CUDA build; the CPU index is used when it is reachable.
index=${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}
if [[ -n $index ]] && ! "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" \
    "$index/" >/dev/null 2>&1; then
    index=""
fi
"$BIN/python" -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}" ${index:+--extra-index-url "$index"}
"$BIN/python" -m pip install --quiet "$WHEEL"

cd "$WORK"  # nothing of the checkout on the path: the installed package is the one that runs
export LORAHUB_HOME=$WORK/home
where=$("$BIN/python" -c "import hub, cli; print(hub.__file__, cli.__file__)")
[[ $where == "$WORK/venv/"*" $WORK/venv/"* ]] || fail "imported from outside the venv: $where"

step "hub --help"
"$BIN/hub" --help >help.txt || fail "hub --help exited $?"
grep -q "mix" help.txt && grep -q "add" help.txt || fail "hub --help lists no commands: $(cat help.txt)"

REAL=$REPO/../shared/real-adapters/lora
real_file=$(ls -S "$REAL"/*.safetensors 2>/dev/null | tail -n 1 || true)
if [[ -n $real_file ]]; then
    step "hub add $(basename "$real_file") (a real adapter)"
    "$BIN/hub" add "$real_file" --name real-one || fail "hub add of a real file exited $?"
else
    step "SKIP hub add of a real adapter: $REAL is absent here"
fi

step "hub add two small kohya LoRAs written by the venv's python"
"$BIN/python" "$REPO/.ci/make_two_loras.py" "$WORK/loras"
"$BIN/hub" add "$WORK/loras/smoke-a.safetensors" "$WORK/loras/smoke-b.safetensors" || fail "hub add exited $?"

step "hub ls --json"
"$BIN/hub" ls --json >ls.json || fail "hub ls --json exited $?"
"$BIN/python" - "$real_file" <<'PY' || fail "hub ls --json: $(head -c 400 ls.json)"
import json, sys
names = {a["name"] for a in json.load(open("ls.json"))}
want = {"smoke-a", "smoke-b"} | ({"real-one"} if sys.argv[1] else set())
assert want <= names, names
PY

step "hub mix smoke-a:0.7 smoke-b:0.5"
"$BIN/hub" mix smoke-a:0.7 smoke-b:0.5 --name smoke-mix --json >mix.json || fail "hub mix exited $?"
"$BIN/python" -c "import json; r = json.load(open('mix.json')); assert r['adapter']['name'] == 'smoke-mix', r" \
    || fail "hub mix output: $(head -c 400 mix.json)"
"$BIN/hub" show smoke-mix >/dev/null || fail "hub show smoke-mix exited $?"

step "passed"
