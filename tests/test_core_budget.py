"""The C budget register through ctypes (the same global the TFLM adapter's ops read)."""

from __future__ import annotations

import pytest

from reds_tflm import core
from reds_tflm.errors import BudgetError


@pytest.fixture(autouse=True)
def clean_register():
    core.reset_budgets()
    yield
    core.reset_budgets()


def test_nothing_registered_rejects_every_budget() -> None:
    assert core.budget_count() == 0
    with pytest.raises(BudgetError, match="registered 0 budgets"):
        core.set_budget(0)


def test_register_set_get() -> None:
    core.register_budgets(4)
    core.register_budgets(4)
    assert core.budget_count() == 4
    for k in (3, 0, 2):
        core.set_budget(k)
        assert core.get_budget() == k


@pytest.mark.parametrize("bad", [4, 5, -1, 2**31 - 1, -(2**31)])
def test_out_of_range_leaves_budget_unchanged(bad: int) -> None:
    core.register_budgets(4)
    core.set_budget(2)
    with pytest.raises(BudgetError, match=f"reds_set_budget\\({bad}\\)"):
        core.set_budget(bad)
    assert core.get_budget() == 2


def test_mismatched_registration_and_range() -> None:
    core.register_budgets(3)
    with pytest.raises(BudgetError, match="REDS_ERR_BUDGET_MISMATCH"):
        core.register_budgets(2)
    assert core.budget_count() == 3
    core.reset_budgets()
    for n in (0, 17, -3):
        with pytest.raises(BudgetError, match="REDS_ERR_ARG"):
            core.register_budgets(n)
    core.register_budgets(16)
    core.set_budget(15)
    assert core.get_budget() == 15
