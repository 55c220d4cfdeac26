#!/usr/bin/env bash
# Many-core scaling run for a lent machine that has no Go toolchain.
#
#   bash bench/devscale.sh build        # here: builds test binaries into devbin/
#   bash devbin/devscale.sh             # there (carry devbin/): writes to $OUT
#
# First the tree issue's goal: the 10^6-point Vecchia job (benchmark with projected
# speed-ups, then the shell with the answers compared) and the k-d tree's Euclidean
# job at 1 and 16 workers. Then the kernel tests on that CPU, the scope, clock-probe and
# brute-force scaling benchmarks for PCCT_BENCH_WORKERS (default 1,2,4,8,12,16), the
# cover tree's Vecchia job (build + queries against brute force) at 1, 4 and 16
# workers, the kernel benchmarks and the max-min orderings (residual, Euclidean) at 1
# and 16 workers.
set -u
if [ "${1:-}" = build ]; then
	cd "$(dirname "$0")/.."
	mkdir -p devbin
	go test -c -o devbin/kernels.test ./kernels &&
		go test -c -o devbin/streamer.test ./streamer &&
		go test -c -o devbin/scope.test ./streamer/scope &&
		go test -c -o devbin/tree.test ./tree &&
		go build -o devbin/pcct ./cmd/pcct &&
		cp bench/devscale.sh devbin/ && du -sh devbin
	exit
fi
cd "$(dirname "$0")"
OUT=${OUT:-.}
W=${PCCT_BENCH_WORKERS:-1,2,4,8,12,16}
{ nproc; lscpu | grep -E "Model name|Thread|Core|Socket|NUMA node\(s\)"; ./pcct cpu; } 2>&1 | tee "$OUT/machine.txt"
WMAX=${W##*,}
# First what the tree issue asks of a many-core machine, so that it is measured even if
# the run is cut short.
# The tree issue's scaling goal: build + Vecchia neighbours at n = 10^6 (m = 256,
# k = 30; 2000 sampled rows checked against brute force) on 1 and WMAX workers, with
# the speed-ups projected from each run's trace (projN-x: compare the one-worker run's
# proj16-x with the measured ratio); then the Euclidean predecessor job through the
# k-d tree.
PCCT_BENCH_PROJECT=4,8,16 PCCT_BENCH_N=1000000 PCCT_BENCH_M=256 PCCT_BENCH_K=30 PCCT_BENCH_FULL_BRUTE=100000 ./tree.test -test.run '^$' -test.bench 'Vecchia$' -test.benchtime 1x -test.cpu 1,$WMAX 2>&1 | grep ^Bench | tee "$OUT/vecchia-1e6.txt"
for w in 1 $WMAX; do
	/usr/bin/time -f "workers=$w wall %e s, user %U s" ./pcct knn --metric euclidean --predecessor --workers $w --example-n 1000000 --example-d 2 --k 30 2>&1 | grep -E 'search:|wall' | tee -a "$OUT/kd.txt"
done
PCCT_BENCH_PROJECT=16 PCCT_BENCH_N=1000000 ./tree.test -test.run '^$' -test.bench 'KD$' -test.benchtime 1x -test.cpu 1,$WMAX 2>&1 | grep ^Bench | tee "$OUT/kd-bench.txt"
# The same job from the shell on 1 and WMAX workers: the answer files must be identical;
# the telemetry logs give each worker's busy time in the build and the queries.
for w in 1 $WMAX; do
	/usr/bin/time -f "workers=$w wall %e s, user %U s, peak %M KB" ./pcct knn --predecessor --workers $w --example-n 1000000 --example-d 2 --lengthscale 0.1 --inducing 256 --k 30 --search tree --output "vecchia-w$w.npy" --log-file "$OUT/vecchia-w$w.jsonl" 2>&1 | grep -E 'search:|metric built|wall' | tee -a "$OUT/vecchia-1e6-cli.txt"
done
cmp vecchia-w1.npy vecchia-w$WMAX.npy && cmp vecchia-w1_distances.npy vecchia-w${WMAX}_distances.npy && echo "answers identical for 1 and $WMAX workers" | tee -a "$OUT/vecchia-1e6-cli.txt"
rm -f vecchia-w*.npy
./kernels.test -test.run Test -test.skip TestGeneratedAssembly 2>&1 | tail -2 | tee "$OUT/kernels-tests.txt"
PCCT_BENCH_WORKERS=$W ./scope.test -test.run '^$' -test.bench 'Scope|Clock' -test.benchtime 3x -test.count 3 2>&1 | grep ^Bench | tee "$OUT/scope.txt"
./streamer.test -test.run '^$' -test.bench 'PoolJob|PoolEmpty' -test.benchtime 2000x -test.count 3 2>&1 | grep ^Bench | tee "$OUT/pool.txt"
PCCT_BENCH_WORKERS=$W ./tree.test -test.run '^$' -test.bench BruteWorkers -test.benchtime 2x 2>&1 | grep ^Bench | tee "$OUT/tree.txt"
# Tile shape and order at the largest worker count (the defaults are 64 x 512, query-major).
for v in "QB=32" "QB=128" "CHUNK=1024" "CHUNK=256" "ORDER=chunk"; do
	env PCCT_BENCH_WORKERS=$WMAX PCCT_BENCH_$v ./scope.test -test.run '^$' -test.bench '^BenchmarkScope$' -test.benchtime 3x -test.count 3 2>&1 |
		grep ^Bench | sed "s/^/$v /" | tee -a "$OUT/variants.txt"
done
# Identical answers for every worker count, on this many cores.
./streamer.test -test.run Test -test.cpu 1,4,$WMAX 2>&1 | tail -2 | tee "$OUT/streamer-tests.txt"
./scope.test -test.run Test -test.cpu 1,4,$WMAX 2>&1 | tail -2 | tee -a "$OUT/streamer-tests.txt"
./tree.test -test.run Test -test.cpu 1,$WMAX 2>&1 | tail -2 | tee -a "$OUT/streamer-tests.txt"
for w in 1 $WMAX; do
	/usr/bin/time -f "workers=$w wall %e s, user %U s" ./pcct knn --predecessor --workers $w --example-n 32768 2>&1 | grep -E 'metric built|wall'  | tee -a "$OUT/knn.txt"
done
# The cover tree's Vecchia job (d = 2, lengthscale 0.1, m = 512, k = 8): build and
# queries against brute force in the same run, answers checked identical.
PCCT_BENCH_N=131072 ./tree.test -test.run '^$' -test.bench 'Vecchia$' -test.benchtime 1x -test.cpu 1,4,$WMAX 2>&1 | grep ^Bench | tee "$OUT/vecchia.txt"
./kernels.test -test.run '^$' -test.bench 'DotTile/impl=avx512/q=512|DotTile32/impl=avx512/q=512|ResidualTile/impl=avx512/q=64' 2>&1 | grep ^Bench | tee "$OUT/kernels.txt"
# The max-min ordering (residual, 200,000 points) on 1 and WMAX workers: batches of
# steps whose range queries run on the pool; the order files must be identical.
for w in 1 $WMAX; do
	/usr/bin/time -f "workers=$w wall %e s, user %U s" ./pcct knn --predecessor --workers $w --example-n 200000 --example-d 2 --lengthscale 0.1 --inducing 256 --k 30 --order maxmin --output "maxmin-w$w.npy" 2>&1 | grep -E 'order:|wall' | tee -a "$OUT/maxmin.txt"
done
cmp maxmin-w1_order.npy maxmin-w${WMAX}_order.npy && echo "orders identical for 1 and $WMAX workers" | tee -a "$OUT/maxmin.txt"
rm -f maxmin-w*.npy
# The Euclidean max-min ordering (k-d tree, 10^6 points): one step at a time on one
# worker, batches on the pool on WMAX; the order files must be identical.
for w in 1 $WMAX; do
	/usr/bin/time -f "workers=$w wall %e s, user %U s" ./pcct knn --metric euclidean --predecessor --workers $w --example-n 1000000 --example-d 2 --k 30 --order maxmin --output "kdorder-w$w.npy" 2>&1 | grep -E 'order:|wall' | tee -a "$OUT/maxmin-kd.txt"
done
cmp kdorder-w1_order.npy kdorder-w${WMAX}_order.npy && echo "orders identical for 1 and $WMAX workers" | tee -a "$OUT/maxmin-kd.txt"
rm -f kdorder-w*.npy
