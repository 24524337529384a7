"""The discrete-event engine: kernels as SimPy processes linked by bounded FIFOs, memory
channels as shared resources, and the host that launches a layer at a time."""
