"""The metrics' orders of the run's logs (simulation/ordering.py, economics' checks): the fast
paths that lean on the log's own order, and the fallbacks when a log breaks it."""

from __future__ import annotations

import numpy as np

from clmlang.simulation.economics import _check_ids
from clmlang.simulation.ordering import by_customer, distinct_per_key

MAIN, ADD_ON, RENEWAL = 0, 1, 2


def _sorted_rows(customer, time):
    return sorted(range(len(customer)), key=lambda i: (customer[i], time[i], i))


def test_a_log_in_time_order_per_customer_is_ordered_by_customer_alone():
    customer = np.array([3, 1, 3, 2, 1, 3], dtype=np.int32)
    time = np.array([0.5, 0.7, 1.2, 1.5, 2.0, 2.0])
    assert by_customer(customer, time).tolist() == _sorted_rows(customer, time)


def test_a_log_out_of_time_order_falls_back_to_customer_then_time():
    customer = np.array([2, 1, 2, 1, 2], dtype=np.int32)
    time = np.array([5.0, 4.0, 3.0, 1.0, 6.0])  # customer 1's and 2's rows go back in time
    assert by_customer(customer, time).tolist() == _sorted_rows(customer, time)


def test_equal_times_keep_the_logs_order():
    customer = np.array([1, 1, 0, 1], dtype=np.int32)
    time = np.array([2.0, 2.0, 1.0, 2.0])
    assert by_customer(customer, time).tolist() == [2, 0, 1, 3]


def test_distinct_groups_per_key():
    # customers 0, 0, 0, 1, 1, 2 (in order) with keys 4, 1, 4, 1, 1, 0
    key = np.array([4, 1, 4, 1, 1, 0])
    group = np.array([0, 0, 0, 1, 1, 2])
    # key 0: customer 2; key 1: customers 0 and 1; key 4: customer 0 (twice, counted once)
    assert distinct_per_key(key, group, 5).tolist() == [1, 2, 0, 0, 1]
    assert distinct_per_key(key[:0], group[:0], 3).tolist() == [0, 0, 0]


def test_each_add_on_belongs_to_the_main_item_of_its_customer_and_time():
    # two purchase batches: mains of customers 5 and 2 then 2's add-on; a renewal; then
    # customer 2 again (a later purchase) with two add-ons
    customer = np.array([5, 2, 2, 7, 2, 2, 2], dtype=np.int32)
    time = np.array([0.2, 0.4, 0.4, 1.0, 1.3, 1.3, 1.3])
    kind = np.array([MAIN, MAIN, ADD_ON, RENEWAL, MAIN, ADD_ON, ADD_ON])
    checks, together = _check_ids(customer, time, kind, by_customer(customer))
    assert together
    assert checks.tolist() == [0, 1, 1, -1, 4, 4, 4]


def test_an_add_on_logged_apart_from_its_main_item_is_still_found():
    # customer 2's add-on of the check at 0.4 is logged after their later main item (1.3)
    customer = np.array([2, 2, 2], dtype=np.int32)
    time = np.array([0.4, 1.3, 0.4])
    kind = np.array([MAIN, MAIN, ADD_ON])
    checks, together = _check_ids(customer, time, kind, by_customer(customer))
    assert not together
    assert checks.tolist() == [0, 1, 0]
