"""Worker functions for test_dask_backend.py (the Dask workers import them by name: the
LocalCluster's worker processes start with the test process's sys.path)."""
import time

import epochpp


@epochpp.jit
def jitted_sum_squares(n):
    """Decorated and compilable: goes to the workers as this module's attribute."""
    s = 0
    for i in range(n):
        s += i * i
    return s


def slow_then_fail(x):
    """Item 1 fails late, item 30 fails at once: the caller must still raise item 1's error."""
    if x == 1:
        time.sleep(0.5)
        raise ValueError("item 1 failed (slowly)")
    if x == 30:
        raise ValueError("item 30 failed (at once)")
    return x


def batch_and_worker(_):
    """(the batch number of the Dask task running this item, the worker's address)."""
    from distributed import get_worker

    worker = get_worker()
    return worker.get_current_task()[1], worker.address


def running_on_a_dask_worker(_):
    try:
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False



def nested_local_map(n):
    """On a Dask worker (a daemon process), a parallel_map of the local backend that needs the
    process pool: it runs serially there, with a warning, instead of failing."""
    import warnings

    import parallel_map_helpers as h

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = [v for v, _ in epochpp.parallel_map(h.pid_with_dict, range(n), backend="local")]
    return values, [str(w.message) for w in caught]
