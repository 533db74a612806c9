"""The model reproduces published facts about real communities (issue: grounding).

- Bass (1969) diffusion: spontaneous adoption p plus word of mouth q;
- participation inequality (Nielsen 2006; van Mierlo 2014), claimed by the forum preset: most
  members never post, and the top 1% write most of the posts;
- the first reply (Joyce & Kraut 2006, newsgroups, so the forum preset): newcomers whose first
  post is answered post again more often (56% against 44% in their data);
- a chat group (the defaults): about half of its members ever post, as in real chat channels.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scenario

import sim


def bass(t: np.ndarray, p: float, q: float) -> np.ndarray:
    """The cumulative share adopted at time t, Bass (1969)."""
    e = np.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


def test_acquisition_follows_bass_diffusion():
    setup = sim.load_setup(scenario("bass-check"))
    result = sim.run(setup, replicates=10, workers=1)
    market = setup.scenario.channels[0].pool_size
    share = result.daily.groupby("day")["joined"].mean().cumsum().to_numpy() / market
    weeks = (np.arange(setup.scenario.days) + 1) / 7  # the end of day d is (d + 1) / 7 weeks in
    rmse = float(np.sqrt(np.mean((share - bass(weeks, 0.03, 0.38)) ** 2)))
    assert rmse <= 0.02, rmse
    assert result.kpis["churned_total"].sum() == 0 and result.kpis["referrals_total"].sum() == 0


@pytest.fixture(scope="module")
def forum_run():
    return sim.run(sim.load_setup(scenario("existing-group"), None, ["preset=forum"]), replicates=10, workers=1)


def test_participation_inequality_in_the_forum_preset(forum_run):
    kpis = forum_run.kpis
    assert 0.75 <= kpis["zero_post_share"].mean() <= 0.95
    assert 0.50 <= kpis["top1pct_post_share"].mean() <= 0.90


def test_a_first_reply_brings_newcomers_back(forum_run):
    effect = forum_run.kpis["first_reply_effect"].mean()
    assert 0.05 <= effect <= 0.20, effect


def test_about_half_of_a_chat_groups_members_post():
    kpis = sim.run(sim.load_setup(scenario("existing-group")), replicates=10, workers=1).kpis
    posting = 1 - kpis["zero_post_share"].mean()
    assert 0.35 <= posting <= 0.65, posting
    assert kpis["top1pct_post_share"].mean() < 0.6  # a chat's talk is less concentrated than a forum's
