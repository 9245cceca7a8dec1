"""Agents give torch one intra-op thread: on these machines two threads made a tiny GELU 90x slower,
and an offline interp voice then ran into its 100 ms budget (liveai/agents/shared.py)."""

import pytest
import torch

from liveai.agents.drums import humanize
from liveai.agents.duet import DuetAgent
from liveai.agents.interp import InterpAgent
from liveai.core.patterns import hits


@pytest.mark.parametrize("make", [lambda: InterpAgent("drums"), lambda: humanize(hits("x...", 36)), lambda: DuetAgent()],
                         ids=["interp", "drums", "duet"])
def test_making_an_agent_leaves_torch_one_intra_op_thread(make):
    torch.set_num_threads(2)
    make()
    assert torch.get_num_threads() == 1
