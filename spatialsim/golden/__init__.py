"""Golden model: numpy functional models of every kernel, with the hardware's arithmetic.

The C++ kernels in ``hw_kernels/`` are checked against these: integer paths bit for bit,
fp32 paths within stated tolerances. The quantisation scheme is in :mod:`.quant`.
"""
