"""Export a design graph as what Vitis needs: configuration headers, v++ connectivity and
Vitis HLS Tcl scripts for the C++ kernels in ``hw_kernels/``."""
