"""Tests of the Python binding: same answers as the pcct command, clear
errors for bad arguments. Run by python/test.sh (which builds the library
and the command and sets PCCT_LIB and PCCT_CLI)."""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pcct  # noqa: E402

CLI = os.environ.get("PCCT_CLI", "pcct")


def cli_knn(x, k, extra, queries=None, order=False):
    """Runs pcct knn on x (and queries) and returns its .npy outputs (and,
    with order, the ordering it wrote)."""
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, "x.npy")
        np.save(inp, x)
        out = os.path.join(d, "nn.npy")
        args = [CLI, "knn", "--input", inp, "--k", str(k), "--output", out, "--quiet"] + extra
        if queries is not None:
            qp = os.path.join(d, "q.npy")
            np.save(qp, queries)
            args += ["--queries", qp]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        got = np.load(out), np.load(os.path.join(d, "nn_distances.npy"))
        if order:
            return got, np.load(os.path.join(d, "nn_order.npy"))
        return got


class TestAgainstCommand(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(3)
        self.x = rng.random((1500, 3))
        self.q = rng.random((50, 3))

    def check(self, py, cli):
        self.assertEqual(py[0].dtype, np.int64)
        self.assertEqual(py[1].dtype, np.float64)
        self.assertEqual(py[0].tobytes(), cli[0].tobytes())
        self.assertEqual(py[1].tobytes(), cli[1].tobytes())

    def test_predecessor_residual(self):
        py = pcct.knn(self.x, 8, predecessor=True, kernel="matern52", lengthscale=[0.2, 0.3, 0.4], inducing=64)
        cli = cli_knn(self.x, 8, ["--predecessor", "--kernel", "matern52", "--lengthscale", "0.2,0.3,0.4", "--inducing", "64"])
        self.check(py, cli)

    def test_all_points_every_search(self):
        cli = cli_knn(self.x, 5, ["--lengthscale", "0.1", "--inducing", "100"])
        for search in ("auto", "tree", "brute"):
            self.check(pcct.knn(self.x, 5, lengthscale=0.1, inducing=100, search=search, workers=2), cli)

    def test_queries_and_euclidean(self):
        cli = cli_knn(self.x, 4, ["--metric", "euclidean"], queries=self.q)
        self.check(pcct.knn(self.x, 4, metric="euclidean", queries=self.q), cli)
        for search in ("kd", "tree"):
            self.check(pcct.knn(self.x, 4, metric="euclidean", queries=self.q, search=search), cli)
        cli = cli_knn(self.x, 6, ["--metric", "euclidean", "--predecessor", "--search", "brute"])
        self.check(pcct.knn(self.x, 6, metric="euclidean", predecessor=True, search="kd"), cli)
        cli = cli_knn(self.x, 4, ["--lengthscale", "0.2", "--inducing", "80"], queries=self.q)
        self.check(pcct.knn(self.x, 4, lengthscale=0.2, inducing=80, queries=self.q, workers=2), cli)

    def test_orders_and_dtypes(self):
        want = pcct.knn(self.x, 6, predecessor=True, lengthscale=0.3, inducing=50)
        f = np.asfortranarray(self.x)
        self.check(pcct.knn(f, 6, predecessor=True, lengthscale=0.3, inducing=50), want)
        x32 = self.x.astype(np.float32)
        got = pcct.knn(x32, 6, predecessor=True, lengthscale=0.3, inducing=50)
        self.check(got, pcct.knn(x32.astype(np.float64), 6, predecessor=True, lengthscale=0.3, inducing=50))

    def test_gate(self):
        # Structureless data: brute force, screened under gate="auto".
        x = np.random.default_rng(9).random((4000, 8))
        auto = pcct.knn(x, 8, predecessor=True, inducing=64, search="brute")
        off = pcct.knn(x, 8, predecessor=True, inducing=64, search="brute", gate="off")
        self.check(auto, off)
        self.check(auto, cli_knn(x, 8, ["--predecessor", "--inducing", "64", "--search", "brute", "--gate", "off"]))

    def test_padding(self):
        idx, dist = pcct.knn(self.x[:5], 8, metric="euclidean")
        self.assertTrue((idx[:, 4:] == -1).all() and np.isinf(dist[:, 4:]).all())

    def test_inducing_points(self):
        u = self.x[:40] + 0.01
        with tempfile.TemporaryDirectory() as d:
            up = os.path.join(d, "u.npy")
            np.save(up, u)
            cli = cli_knn(self.x, 5, ["--predecessor", "--inducing-points", up, "--lengthscale", "0.2"])
        self.check(pcct.knn(self.x, 5, predecessor=True, inducing_points=u, lengthscale=0.2), cli)


    def test_maxmin_order(self):
        # The command's --order maxmin: the same ordering, and its
        # neighbours are knn's on the reordered points (explicit inducing
        # points, so that the reordered metric is the same).
        u = self.x[:40] + 0.01
        with tempfile.TemporaryDirectory() as d:
            up = os.path.join(d, "u.npy")
            np.save(up, u)
            cli, cli_order = cli_knn(self.x, 5, ["--predecessor", "--order", "maxmin", "--inducing-points", up,
                                                 "--lengthscale", "0.2"], order=True)
        order = pcct.maxmin_order(self.x, inducing_points=u, lengthscale=0.2, workers=2)
        self.assertEqual(order.dtype, np.int64)
        self.assertEqual(order.tobytes(), cli_order.astype(np.int64).tobytes())
        self.check(pcct.knn(self.x[order], 5, predecessor=True, inducing_points=u, lengthscale=0.2), cli)
        cli, cli_order = cli_knn(self.x, 4, ["--metric", "euclidean", "--predecessor", "--order", "maxmin"], order=True)
        order = pcct.maxmin_order(self.x, metric="euclidean")
        self.assertEqual(order.tobytes(), cli_order.astype(np.int64).tobytes())
        self.assertEqual(sorted(order.tolist()), list(range(len(self.x))))
        self.assertEqual(pcct.maxmin_order(self.x, first=7, metric="euclidean")[0], 7)
        # --order maxmin-coords: the Euclidean ordering of the coordinates
        # divided by the lengthscales over the smallest (the same bits).
        ls = np.array([0.2, 0.05, 0.1])
        _, cli_order = cli_knn(self.x, 4, ["--predecessor", "--order", "maxmin-coords", "--lengthscale", "0.2,0.05,0.1"], order=True)
        order = pcct.maxmin_order(self.x / (ls / ls.min()), metric="euclidean")
        self.assertEqual(order.tobytes(), cli_order.astype(np.int64).tobytes())
        order = pcct.maxmin_order_coords(self.x, lengthscale=ls, workers=2)
        self.assertEqual(order.tobytes(), cli_order.astype(np.int64).tobytes())
        self.assertEqual(pcct.maxmin_order_coords(self.x, lengthscale=0.3, first=5)[0], 5)
        # One lengthscale: the coordinates as given, the command's bits.
        _, cli_order = cli_knn(self.x, 4, ["--predecessor", "--order", "maxmin-coords", "--lengthscale", "0.3"], order=True)
        self.assertEqual(pcct.maxmin_order_coords(np.asfortranarray(self.x), lengthscale=0.3).tobytes(),
                         cli_order.astype(np.int64).tobytes())


class TestStoredOrder(unittest.TestCase):
    """From 65,536 points the library stores the residual metric's points
    by index band along a Morton curve: the answers must be the given
    order's bytes (the command with --layout given), ties included."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(11)
        x = rng.random((70000, 2))
        x[-300:] = x[:300]  # equal points: ties that the storage order must not break
        cls.x = x
        cls.q = rng.random((200, 2))
        cls.args = dict(lengthscale=0.1, inducing=32)
        cls.flags = ["--lengthscale", "0.1", "--inducing", "32", "--layout", "given"]

    def check(self, py, cli):
        self.assertEqual(py[0].tobytes(), cli[0].tobytes())
        self.assertEqual(py[1].tobytes(), cli[1].tobytes())

    def test_predecessor(self):
        self.check(pcct.knn(self.x, 6, predecessor=True, workers=2, **self.args),
                   cli_knn(self.x, 6, ["--predecessor"] + self.flags))

    def test_all_points_and_queries(self):
        self.check(pcct.knn(self.x, 5, **self.args), cli_knn(self.x, 5, self.flags))
        self.check(pcct.knn(self.x, 5, queries=self.q, **self.args), cli_knn(self.x, 5, self.flags, queries=self.q))

    def test_maxmin_order(self):
        _, cli_order = cli_knn(self.x, 3, ["--predecessor", "--order", "maxmin"] + self.flags, order=True)
        order = pcct.maxmin_order(self.x, workers=2, **self.args)
        self.assertEqual(order.tobytes(), cli_order.astype(np.int64).tobytes())


class TestBadArguments(unittest.TestCase):
    def test_errors(self):
        x = np.random.default_rng(1).random((100, 2))
        nan = x.copy()
        nan[7, 1] = np.nan
        cases = [
            (lambda: pcct.knn(x.astype(np.int64), 3), ValueError, "floating-point"),
            (lambda: pcct.knn(np.array(["a", "b"]), 3), ValueError, "floating-point"),
            (lambda: pcct.knn(x[:, 0], 3), ValueError, "2-D array"),
            (lambda: pcct.knn(x[::2], 3), ValueError, "not contiguous"),
            (lambda: pcct.knn(nan, 3), ValueError, "x[7, 1] is nan"),
            (lambda: pcct.knn(x, 0), ValueError, "k must be an integer >= 1"),
            (lambda: pcct.knn(x, 2.5), ValueError, "k must be an integer >= 1"),
            (lambda: pcct.knn(x, 3, search="fast"), ValueError, "search must be"),
            (lambda: pcct.knn(x, 3, lengthscale=-1), ValueError, "lengthscale of dimension 0 must be positive"),
            (lambda: pcct.knn(x, 3, lengthscale=[1, 2, 3]), ValueError, "3 lengthscales for 2 dimensions"),
            (lambda: pcct.knn(x, 3, kernel="linear"), ValueError, 'unknown kernel "linear"'),
            (lambda: pcct.knn(x, 3, inducing=500), ValueError, "larger than the number of points"),
            (lambda: pcct.knn(x, 3, queries=np.ones((4, 3))), ValueError, "queries has 3 dimensions"),
            (lambda: pcct.knn(x, 3, predecessor=True, queries=x), ValueError, "predecessor applies"),
            (lambda: pcct.knn(x, 3, metric="cosine"), ValueError, "metric must be"),
            (lambda: pcct.knn(x, 3, gate="screen"), ValueError, "gate must be"),
            (lambda: pcct.maxmin_order(x, first=100), ValueError, "first must be a point index"),
            (lambda: pcct.maxmin_order(x, first=-1), ValueError, "first must be a point index"),
            (lambda: pcct.maxmin_order(nan), ValueError, "x[7, 1] is nan"),
            (lambda: pcct.maxmin_order(x, metric="cosine"), ValueError, "metric must be"),
            (lambda: pcct.maxmin_order_coords(x, first=100), ValueError, "first must be a point index"),
            (lambda: pcct.maxmin_order_coords(nan), ValueError, "x[7, 1] is nan"),
            (lambda: pcct.maxmin_order_coords(x, lengthscale=[1, 2, 3]), ValueError, "one value or one per dimension"),
            (lambda: pcct.maxmin_order_coords(x, lengthscale=[1, -2]), ValueError, "lengthscale 1 must be positive"),
            (lambda: pcct.maxmin_order_coords(x, lengthscale=[1, np.inf]), ValueError, "lengthscale 1 must be positive"),
        ]
        for fn, exc, msg in cases:
            with self.assertRaises(exc) as cm:
                fn()
            self.assertIn(msg, str(cm.exception))

    def test_failed_run(self):
        x = np.zeros((10, 2))
        u = np.zeros((3, 2))  # identical inducing points: singular without jitter
        with self.assertRaises(pcct.PcctError) as cm:
            pcct.knn(x, 2, inducing_points=u, jitter=1e-300)
        self.assertIn("Cholesky", str(cm.exception))

    def test_info(self):
        self.assertIn("C ABI 1", pcct.version())
        self.assertIn(pcct.kernels(), ("avx512", "avx2", "generic"))


if __name__ == "__main__":
    unittest.main()
