#!/usr/bin/env bash
# Install llama-cpp-python (requirements-llama-cpp.txt) into .venv for the llama.cpp chat engine.
# PyPI ships only its source, so the first install compiles llama.cpp (about 10 minutes on 2 idle
# cores). It needs a C++ compiler, installed with apt-get when missing and allowed; cmake comes
# from PyPI with the build.
#
# The build targets one instruction set chosen on purpose, never "whatever this machine has"
# (GGML_NATIVE=OFF): x86-64-v3 (AVX, AVX2, FMA, F16C, BMI2), which every x86-64 CPU since 2015
# has, with AVX-512 and AMX off. AMX off because llama.cpp's AMX backend segfaults in
# ggml_backend_amx_mul_mat on the first decode (ggml-org/llama.cpp#20824); docs/llama-cpp.md has
# the reasons. The app checks /proc/cpuinfo for these flags before it starts the engine.
#
# pip caches a built wheel by its sdist only, not by CMAKE_ARGS, so it would silently reuse a wheel
# built with other flags: the wheel is kept in a folder named by a hash of version and flags, and
# the flags installed are recorded beside llama_cpp in the venv (llama_cpp_build_flags.txt).
# Usage: bash scripts/install-llama-cpp.sh   (after scripts/setup.sh made .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

wanted="$(grep -E '^llama-cpp-python==' requirements-llama-cpp.txt | cut -d= -f3)"
# Kept in step with backend/models/engines/engine_process.py (REQUIRED_CPU_FLAGS).
build_flags="-DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF \
-DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
-DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"
flags_hash="$(printf '%s %s' "$wanted" "$build_flags" | sha256sum | cut -c1-16)"
record_path() { .venv/bin/python -c 'import pathlib, llama_cpp; print(pathlib.Path(llama_cpp.__file__).parent / "llama_cpp_build_flags.txt")' 2>/dev/null || true; }

installed="$(.venv/bin/python -c 'from importlib import metadata; print(metadata.version("llama-cpp-python"))' 2>/dev/null || true)"
record="$(record_path)"
if [ "$installed" = "$wanted" ] && [ -n "$record" ] && [ "$(head -n1 "$record" 2>/dev/null)" = "$flags_hash" ]; then
  exit 0
fi

wheel_dir="${XDG_CACHE_HOME:-$HOME/.cache}/large-model-showcase/llama-cpp/$flags_hash"
if ! ls "$wheel_dir"/llama_cpp_python-"$wanted"-*.whl >/dev/null 2>&1; then
  if ! command -v c++ >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ >/dev/null; }
    else
      echo "llama-cpp-python needs a C++ compiler (g++ or clang++) to build; install one and run this again." >&2
      exit 1
    fi
  fi
  echo "Building llama-cpp-python $wanted for x86-64-v3 without AVX-512/AMX (once; about 10 minutes on 2 cores)"
  mkdir -p "$wheel_dir"
  CMAKE_ARGS="$build_flags" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
    -w "$wheel_dir" "llama-cpp-python==$wanted"
fi
.venv/bin/python -m pip install --quiet --no-deps --force-reinstall "$wheel_dir"/llama_cpp_python-"$wanted"-*.whl
.venv/bin/python -m pip install --quiet --no-deps -r requirements-llama-cpp.txt
record="$(record_path)"
printf '%s\nllama-cpp-python==%s\nCMAKE_ARGS=%s\n' "$flags_hash" "$wanted" "$build_flags" >"$record"
