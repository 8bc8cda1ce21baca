#!/usr/bin/env bash
# Device check of the GPU backend (smoothgrad.gpu), run from the repository root on the GPU machine:
#   bash benchmarks/gpu_check.sh
# No network, no installs: uses the preinstalled numba-cuda / CuPy. Output goes to stdout and, when $OUT is set,
# to $OUT/gpu_check.txt. Steps (about 3-5 minutes on an H200, numba compilation included):
#   1. the real-GPU tests (pytest -m gpu tests/test_gpu.py: GPU == CPU kernels on the Fig. 4 network, float32/64,
#      silent and x20 weights; bitwise determinism; CuPy inputs), plus the sm_90 PTX compilation test;
#   2. throughput of loss_and_grad on the Fig. 4 network, float32, batch 1000 and 60,000, silent and x20
#      weights, GPU vs the CPU kernels on this machine's cores;
#   3. 2 epochs of Fig. 4 training on the embedded MNIST digits, on the GPU and on the CPU (same seed):
#      the GPU run must reach the CPU run's accuracy (>= 0.85, within 0.03).
set -u -o pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ] && .venv/bin/python -c "import numba.cuda" 2>/dev/null; then PY=.venv/bin/python; else PY=python3; fi
fi
LOG=/dev/null
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT"; LOG="$OUT/gpu_check.txt"; : > "$LOG"; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg PYTHONUNBUFFERED=1
status=0
step() {  # step NAME TIMEOUT_S CMD...
  local name=$1 limit=$2; shift 2
  echo "=== $name ($(date -u +%T)) ===" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc, $((SECONDS - t0)) s ===" | tee -a "$LOG"
  [ "$rc" -eq 0 ] || status=1
}

step "environment" 60 "$PY" -c "
import sys, numba, numpy
print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'numba', numba.__version__)
try:
    import numba_cuda; print('numba-cuda', getattr(numba_cuda, '__version__', '?'))
except ImportError: print('numba-cuda: not installed')
try:
    import cupy; print('cupy', cupy.__version__, 'devices', cupy.cuda.runtime.getDeviceCount())
except Exception as e: print('cupy:', e)
from numba import cuda
print('numba.cuda available:', cuda.is_available()); cuda.detect()
from smoothgrad.gpu import gpu_available; print('gpu_available:', gpu_available())
"
step "pytest -m gpu" 240 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py -k "not simulator"
step "PTX compile test" 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py -k ptx
step "benchmark" 240 "$PY" benchmarks/bench_ttfs.py --backend cupy --batch 1000 60000 --dtype float32 --seconds 2
step "Fig. 4 training, 2 epochs, GPU vs CPU" 150 "$PY" - <<'PYEOF'
import time
import numpy as np
from smoothgrad import TTFSNetwork
from smoothgrad.data import binarize, flip_pixels, load_embedded_mnist
from smoothgrad.optim import AdaBelief, exponential_decay
from smoothgrad.train import train

x_tr, y_tr = load_embedded_mnist("train")
x_te, y_te = load_embedded_mnist("test")
x_tr, x_te = binarize(x_tr), binarize(x_te)
res = {}
for backend in ("cupy", "cpu"):
    t0 = time.perf_counter()
    net = TTFSNetwork(seed=0, backend=backend)
    spe = -(-len(y_tr) // 100)
    opt = AdaBelief(exponential_decay(4e-3, 100 * spe), betas=(0.9, 0.999))
    hist = train(net, opt, x_tr, y_tr, x_te, y_te, epochs=2, batch_size=100, seed=0,
                 augment=lambda xb, rng: flip_pixels(xb, 0.02, rng), progress=False)
    m = net.evaluate(x_te, y_te)
    res[backend] = m
    print(f"{backend}: {time.perf_counter() - t0:.1f} s, test accuracy per epoch {hist['test_accuracy']}, "
          f"final {m['accuracy']:.3f}, hidden spikes/neuron {m['hidden_spikes_per_neuron']:.3f}", flush=True)
a_gpu, a_cpu = res["cupy"]["accuracy"], res["cpu"]["accuracy"]
assert a_gpu >= 0.85 and abs(a_gpu - a_cpu) <= 0.03, (a_gpu, a_cpu)
print("training OK")
PYEOF
echo "=== gpu_check: $([ $status -eq 0 ] && echo PASSED || echo FAILED) ===" | tee -a "$LOG"
exit $status
