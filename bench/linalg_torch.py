"""PyTorch CPU peer for bench/linalg.bench.mjs: eigh, QR and SVD timings in float32, one thread.

Run with Debian's system interpreter (the one python3-torch installs into):
    /usr/bin/python3 bench/linalg_torch.py --sizes 256,512,1024 [--reps 5] [--qr-shapes 768x3072]
Prints one JSON object: versions, the BLAS/LAPACK libraries actually loaded (from /proc/self/maps),
and per operation and size the median and minimum milliseconds over `reps` timed runs (after one
warm-up run). Inputs match the JS benchmark's in kind (standard normal, float32; eigh on A + Aᵀ),
not bit for bit.
"""
import argparse
import json
import platform
import re
import time

import torch


def loaded_libraries():
    """Shared libraries with blas or lapack in their name mapped into this process."""
    libs = set()
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                path = line.split()[-1]
                name = path.rsplit('/', 1)[-1].lower()
                if path.startswith('/') and ('blas' in name or 'lapack' in name):
                    libs.add(path)
    except OSError:
        pass
    return sorted(libs)


def timed(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {'median_ms': times[len(times) // 2], 'min_ms': times[0], 'reps': reps}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--sizes', default='256,512,1024')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--qr-shapes', default='', help='extra QR shapes, e.g. 768x3072')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    results = {}
    for n in [int(s) for s in args.sizes.split(',') if s]:
        a = torch.randn(n, n, generator=g, dtype=torch.float32)
        s = a + a.T
        reps = args.reps
        results[str(n)] = {
            'eigh': timed(lambda: torch.linalg.eigh(s), reps),
            'qr': timed(lambda: torch.linalg.qr(a, mode='reduced'), reps),
            'svd': timed(lambda: torch.linalg.svd(a, full_matrices=False), reps),
        }
    for shape in [x for x in args.qr_shapes.split(',') if x]:
        m, n = (int(v) for v in shape.split('x'))
        a = torch.randn(m, n, generator=g, dtype=torch.float32)
        results[shape] = {'qr': timed(lambda: torch.linalg.qr(a, mode='reduced'), args.reps)}
    config = torch.__config__.show()
    info = sorted(set(re.findall(r'(?:BLAS|LAPACK)_INFO=\w+', config)))
    print(json.dumps({
        'torch': torch.__version__,
        'python': platform.python_version(),
        'threads': torch.get_num_threads(),
        'build': info,
        'blas_libraries': loaded_libraries(),
        'results': results,
    }))


if __name__ == '__main__':
    main()
