"""Placement of resources (`model.resources`): why a task can never run, what a worker uses,
a task's needs as task run fields."""

from __future__ import annotations

from baton.model.resources import NONE, Offer, Resources, need_fields, unschedulable, usage

GiB = 2**30
GPU = Resources(cpu=1, memory=4 * GiB, gpu=1)


def test_a_task_no_live_worker_serving_its_queue_can_fit_is_unschedulable() -> None:
    offers = [
        Offer("a", ("default",), Resources(8, 32 * GiB, 0)),
        Offer("b", ("default", "etl"), Resources(2, 2 * GiB, 0)),
        Offer("gpu", ("ml",), Resources(8, 64 * GiB, 2)),  # has GPUs, serves another queue
    ]
    assert unschedulable(GPU, "default", offers) == (
        "needs cpu=1,memory=4Gi,gpu=1, more than any live worker serving queue default has "
        "(a gpu 1 > 0; b memory 4Gi > 2Gi, gpu 1 > 0)"
    )
    assert unschedulable(GPU, "ml", offers) is None  # the gpu worker fits it


def test_no_worker_for_the_queue_or_one_that_may_fit_is_no_verdict() -> None:
    assert unschedulable(GPU, "default", []) is None  # no live worker at all: wait
    ml = Offer("gpu", ("ml",), Resources(8, 64 * GiB, 2))
    assert unschedulable(GPU, "default", [ml]) is None  # none serves its queue yet
    anything = Offer("any", (), Resources(1, GiB, 0))  # no queues named: serves all
    assert unschedulable(GPU, "default", [anything]) is not None
    old = Offer("old", ("default",), None)  # from before resources: takes anything
    assert unschedulable(GPU, "default", [old]) is None


def test_a_long_reason_names_three_workers_and_counts_the_rest() -> None:
    offers = [Offer(f"w{i}", ("default",), Resources(1, 4 * GiB, 0)) for i in range(5)]
    why = unschedulable(GPU, "default", offers)
    assert why is not None and why.endswith("w2 gpu 1 > 0; 2 more)")


def test_usage_and_need_fields() -> None:
    used, capacity = Resources(2.5, 4 * GiB, 1), Resources(8, 32 * GiB, 2)
    assert usage(used, capacity) == "cpu 2.5/8, memory 4Gi/32Gi, gpu 1/2"
    assert usage(NONE, None) == "" and usage(used, None) == "cpu=2.5,memory=4Gi,gpu=1"
    assert need_fields(None) == {"need_cpu": 0.0, "need_memory": 0, "need_gpu": 0}
    assert need_fields(GPU) == {"need_cpu": 1, "need_memory": 4 * GiB, "need_gpu": 1}
