"""Demo 4 with the service restarted after the timer is due (issue 20): the timer fires as soon
as the service is back, and the worker, renewed then, takes the next workflow task at once."""

import dataclasses
import time

import pytest

from maintainers.harness import event_types, expected_greeting
from maintainers.scenarios import DEMOS, At, StageDriver, play

DEMO_4 = DEMOS["demo-4"]
LATE = dataclasses.replace(DEMO_4, down_for=DEMO_4.seconds + 2)  # down past the timer's due time


@pytest.mark.parametrize("how", LATE.hows)
def test_demo_4_restarted_after_the_timer_is_due(restartable, how):
    stage, seen = restartable, {}

    def timer_waiting(run, _):
        seen["timer"] = time.monotonic()

    def unreachable(run, _):
        seen["down"] = time.monotonic()

    def greeting(run, status):
        assert status["result"]["greeting"] == expected_greeting(LATE.name)
        types = event_types(stage.history(run))
        assert "WORKFLOW_TASK_TIMED_OUT" not in types, types
        assert types.count("TIMER_FIRED") == 1 and types[-1] == "WORKFLOW_EXECUTION_COMPLETED"

    hooks = {At.TIMER_WAITING: timer_waiting, At.UNREACHABLE: unreachable, At.GREETING: greeting}
    done = play(LATE, StageDriver(stage, LATE), how, hooks)
    # The restart came once the timer was due: down_for after the app saw the service gone.
    assert seen["down"] + LATE.down_for >= seen["timer"] + LATE.seconds
    print(f"\n[recovery] demo-4 restarted late, {how}: {done.recovery:.2f} s")
