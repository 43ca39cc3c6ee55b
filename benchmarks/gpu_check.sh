#!/usr/bin/env bash
# One call on a GPU machine (no package registry there: the project runs from its
# checkout): the suite's GPU tests, then benchmarks/bench_gpu.py, as one table.
# Usage (device tool): bash benchmarks/gpu_check.sh   (writes $OUT/bench_gpu.md)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 JTOOLKIT_COMPILATION_CACHE=0
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax, torch; print('jax', jax.__version__, jax.devices(), '| torch', torch.__version__, torch.cuda.is_available())"
# The GPU tests: device selection, the train step (its object and donation) and fit
# on the GPU, precision, sharding, the compilation cache.
timeout 300 python3 -m pytest -q -p no:cacheprovider -x \
  tests/tensor/test_device.py tests/train/test_step.py tests/train/test_precision.py \
  tests/train/test_loop.py tests/train/test_multi_step.py tests/train/test_distributed.py \
  tests/train/test_donation.py tests/train/test_sharding.py \
  tests/core/test_compilation_cache.py 2>&1 | tail -15 | tee "$out/gpu_tests.txt"
timeout 420 python3 benchmarks/bench_gpu.py --output "$out/bench_gpu.md"
