"""Cost models: pure functions from a kernel's parameters and a unit of work to cycles or
seconds. They never import simpy; the engine calls them."""
