"""The description stage: what a user builds — morphologies, regions, discretization policies,
cells, networks, recipes and connection rules. Plain data; no kernel, backend or run state."""
