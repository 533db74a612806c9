"""The community model in Mesa's own viewer, SolaraViz: pick a policy and a size, step, watch.

Run:  solara run examples/solara_app.py   (needs ``pip install "mesa[viz]" networkx``)

The model is :class:`sim.engine.model.CommunityModel` built in Mesa's keyword style; its
``datacollector`` is the sandbox's daily table, so any daily column can be plotted by name.
Members are rows of arrays, not agents, so there is no space to draw: the page shows curves.
"""

from __future__ import annotations

from mesa.visualization import SolaraViz, make_plot_component

from sim.config.library import shipped
from sim.engine.model import CommunityModel

SCENARIO = "existing-group"

model_params = {
    "scenario": SCENARIO,
    "policy": {
        "type": "Select",
        "value": "baseline",
        "values": [p.stem for p in shipped("policies")],
        "label": "Policy",
    },
    "days": {"type": "SliderInt", "value": 120, "label": "Days", "min": 30, "max": 365, "step": 30},
    "population__initial_members": {
        "type": "SliderInt",
        "value": 300,
        "label": "Members at the start",
        "min": 50,
        "max": 2000,
        "step": 50,
    },
    "seed": {"type": "InputText", "value": 1, "label": "Seed"},
}

model = CommunityModel(scenario=SCENARIO, policy="baseline", days=120, population__initial_members=300, seed=1)

page = SolaraViz(
    model,
    components=[
        make_plot_component(["members", "active", "core"]),
        make_plot_component(["joined", "churned"]),
        make_plot_component(["cost"]),
    ],
    model_params=model_params,
    name="Community sandbox",
)
